/**
 * MQTT source: the `mqtt` source → discard at steady state, beside MQTT.js's own subscribe loop
 * on the same messages at the same QoS (issue 13: Sluice at least 70% of the bare client loop in
 * records per CPU-second).
 *
 * Each consumer runs in its own Node process (so that one's JIT and heap do not colour
 * another's) and is measured by its own CPU time (user + system):
 *
 * - `bare` — an MQTT.js client subscribed to the topic, counting messages (MQTT.js acknowledges
 *   each QoS 1 message as its handler returns): the ceiling;
 * - `bare+json` — the same loop, parsing every payload as JSON: the work the source does with
 *   `format: json`, written by hand;
 * - `sluice` — a Sluice job: `mqtt` source (format json, persistent session, acknowledgements
 *   held until the checkpoint covering them completes, early checkpoints every half
 *   `receive_maximum`) → `discard`.
 *
 * Every consumer subscribes, gets one warm-up message (so its connection and subscription are
 * up, and the job running), and only then does this process publish the measured messages to
 * it, at the same QoS, from its own MQTT.js client; the consumer's clock runs from the warm-up
 * message to the last measured one. The programs alternate within each run so that drift in
 * machine load hits all alike; the median of `--runs` is reported. Needs Mosquitto on
 * 127.0.0.1:1883.
 *
 *   node bench/mqtt.ts [--records 100000] [--runs 3] [--qos 1] [--json] [--profile DIR]
 *
 * `--profile DIR` writes a CPU profile of each child's measured interval in the first run
 * (`DIR/<variant>.cpuprofile`; `node bench/profile-summary.ts DIR/sluice.cpuprofile`).
 */

import { cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { builtins, createLogger, Job, parsePipelineYaml, Registry } from '@sluice/core';
import { mqtt as mqttConnector } from '@sluice/mqtt';
import mqtt from 'mqtt';
import {
  cpuMsSince,
  IntervalProfile,
  measureJobUntilRead,
  median,
  runChild as runChildProcess,
} from './measure.ts';
import { SCRATCH_DIR } from './scratch-dir.ts';

const BROKER = 'mqtt://127.0.0.1:1883';
/**
 * How far the publisher may run ahead of what the consumer has read. Mosquitto drops QoS 1
 * messages for a client beyond its in-flight window and `max_queued_messages` (1,000 by
 * default), so the consumer reports its count (`AT n`, every REPORT_EVERY messages in the bare
 * loop, at each 5 ms poll of the job's metrics) and the publisher keeps within this lead. It was
 * 800 (published in chunks of 200) until 2026-12-07: at load 15–22 Mosquitto then dropped
 * messages for the sluice child in most attempts — which would follow if the messages the source
 * holds unacknowledged until a checkpoint (up to `receive_maximum`, 1,000) count against
 * `max_queued_messages` too (not confirmed) — and never for the bare loops.
 */
const LEAD = 400;
const REPORT_EVERY = 100;
const VARIANTS = ['bare', 'bare+json', 'sluice'] as const;
type Variant = (typeof VARIANTS)[number];
type Qos = 0 | 1 | 2;

/** What a child reports. */
interface Measurement {
  cpuMs: number;
  wallMs: number;
  records: number;
}

interface ChildJob {
  variant: Variant;
  topic: string;
  /** Measured messages (the warm-up one comes before them). */
  records: number;
  qos: Qos;
  /** Where to write a CPU profile of the measured interval, if anywhere. */
  profileDir?: string;
}

// ------------------------------------------------------------------------------------------------
// children

/** Tells the orchestrator a step was reached (a line on stdout). */
function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** MQTT.js's own subscribe loop. */
async function bareLoop(job: ChildJob, parse: boolean): Promise<Measurement> {
  const client = await mqtt.connectAsync(BROKER, { protocolVersion: 5, reconnectPeriod: 0 });
  let seen = 0;
  let keys = 0;
  let cpu0 = process.cpuUsage();
  let t0 = performance.now();
  const profile = new IntervalProfile(job.profileDir, job.variant.replace('+', '-'));
  const { promise, resolve, reject } = Promise.withResolvers<Measurement>();
  client.on('message', (_topic, payload) => {
    if (parse) keys += Object.keys(JSON.parse(payload.toString('utf8')) as object).length;
    seen++;
    if (seen % REPORT_EVERY === 1) say(`AT ${seen}`);
    if (seen === 1) {
      profile.start();
      cpu0 = process.cpuUsage();
      t0 = performance.now();
      say('READY');
    } else if (seen === job.records + 1) {
      resolve({ cpuMs: cpuMsSince(cpu0), wallMs: performance.now() - t0, records: seen - 1 });
    }
  });
  await client.subscribeAsync(job.topic, { qos: job.qos });
  say('SUBSCRIBED');
  // As `measureJobUntilRead` does for the job: a loop that gets nothing for 60 s fails.
  let last = -1;
  const watchdog = setInterval(() => {
    if (seen === last) reject(new Error(`no progress for 60 s at ${seen} of ${job.records + 1}`));
    last = seen;
  }, 60_000);
  const m = await promise.finally(() => clearInterval(watchdog));
  await profile.stop();
  await client.endAsync();
  if (parse && keys === 0) throw new Error('no payload parsed');
  return m;
}

/** The Sluice job, stopped (drain, final checkpoint) once every message has been read. */
async function sluiceJob(job: ChildJob): Promise<Measurement> {
  const clientId = `sluice-bench-${process.pid}-${Date.now()}`;
  // The job's persistent session, created before the job starts, so that the warm-up message
  // is queued for it even if it is published before the source has connected.
  const session = await mqtt.connectAsync(BROKER, {
    clientId,
    clean: false,
    protocolVersion: 5,
    properties: { sessionExpiryInterval: 60 },
    reconnectPeriod: 0,
  });
  await session.subscribeAsync(job.topic, { qos: job.qos });
  await session.endAsync();
  const registry = new Registry([builtins, mqttConnector]);
  const yaml = `
name: bench-mqtt-${process.pid}
settings: { checkpoint: { interval: 5s, dir: ${SCRATCH_DIR} } }
sources:
  in:
    type: mqtt
    url: ${BROKER}
    topics: ['${job.topic}']
    qos: ${job.qos}
    client_id: ${clientId}
    session_expiry: 1m
    format: json
sinks:
  out: { type: discard }
`;
  const plan = parsePipelineYaml(yaml, `${SCRATCH_DIR}/pipeline.yaml`, { registry });
  const log = createLogger({ level: 'warn', format: 'text' });
  const running = await Job.create(plan, { registry, fromScratch: true, log });
  // The job subscribed when it was created (sources open in Job.create).
  say('SUBSCRIBED');
  const profile = new IntervalProfile(job.profileDir, job.variant);
  const measured = await measureJobUntilRead(running, job.records + 1, {
    onProgress: (read) => say(`AT ${read}`),
    onStart: () => {
      profile.start();
      say('READY');
    },
  });
  await profile.stop();
  // End the persistent session.
  const end = await mqtt.connectAsync(BROKER, {
    clientId,
    clean: true,
    protocolVersion: 5,
    reconnectPeriod: 0,
  });
  await end.endAsync();
  return measured;
}

async function child(job: ChildJob): Promise<void> {
  const m =
    job.variant === 'sluice' ? await sluiceJob(job) : await bareLoop(job, job.variant === 'bare+json');
  say(`RESULT ${JSON.stringify(m)}`);
}

// ------------------------------------------------------------------------------------------------
// orchestrator

/** One reading of about 200 bytes of JSON, deterministic in `i`. */
function payload(i: number): Buffer {
  return Buffer.from(
    JSON.stringify({
      device: `sensor-${(i * 7919) % 1_000}`,
      temperature: Math.round(((i * 7.31) % 40) * 100) / 100,
      humidity: Math.round(((i * 3.17) % 100) * 100) / 100,
      ts: 1_767_225_600_000 + i,
      site: ['north', 'south', 'east', 'west'][i % 4],
      firmware: '2.4.1',
      note: 'lorem ipsum dolor sit amet, consectetur adipiscing',
    }),
  );
}

/**
 * Publishes `messages` to `topic` in chunks, each once the consumer (`consumed()`) is within
 * LEAD of what was published.
 */
async function publishAll(
  client: mqtt.MqttClient,
  topic: string,
  messages: readonly Buffer[],
  qos: Qos,
  consumed: () => number,
): Promise<void> {
  const chunk = 100;
  for (let i = 0; i < messages.length; i += chunk) {
    while (i + 1 - consumed() > LEAD - chunk) await new Promise((r) => setTimeout(r, 2));
    await Promise.all(messages.slice(i, i + chunk).map((m) => client.publishAsync(topic, m, { qos })));
  }
}

/** Runs one consumer child, feeding it when it is ready. */
function runChild(
  job: ChildJob,
  publisher: mqtt.MqttClient,
  messages: readonly Buffer[],
): Promise<Measurement> {
  /** Messages the consumer has read, the warm-up one included. */
  let consumed = 0;
  return runChildProcess<Measurement>(import.meta.filename, job, (out, chunk, fail) => {
    const before = out.slice(0, out.length - chunk.length);
    if (!before.includes('SUBSCRIBED') && out.includes('SUBSCRIBED'))
      publisher.publishAsync(job.topic, JSON.stringify({ warm_up: true }), { qos: job.qos }).catch(fail);
    for (const m of chunk.matchAll(/^AT (\d+)$/gm)) consumed = Math.max(consumed, Number(m[1]));
    if (!before.includes('READY') && out.includes('READY'))
      publishAll(publisher, job.topic, messages, job.qos, () => consumed).catch(fail);
  });
}

async function orchestrate(): Promise<void> {
  const { values } = parseArgs({
    options: {
      records: { type: 'string', default: '100000' },
      runs: { type: 'string', default: '3' },
      qos: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
      profile: { type: 'string' },
    },
  });
  const records = Number(values.records);
  const runs = Number(values.runs);
  const qos = Number(values.qos);
  if (qos !== 0 && qos !== 1 && qos !== 2) throw new Error('--qos must be 0, 1 or 2');
  const messages = Array.from({ length: records }, (_, i) => payload(i));
  const publisher = await mqtt.connectAsync(BROKER, { protocolVersion: 5, reconnectPeriod: 0 });
  const rates = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
  const walls = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
  const load0 = loadavg()[0];
  for (let r = 0; r < runs; r++)
    for (const variant of VARIANTS) {
      let m: Measurement | undefined;
      // Mosquitto sometimes drops messages for a client all the same ("Outgoing messages are
      // being dropped" in its log, on either kind of consumer, under load), and that child then
      // waits for messages that never come: such a run is started again on a new topic, up to
      // twice.
      for (let attempt = 0; m === undefined; attempt++) {
        const topic = `sluice-bench/${process.pid}/${r}/${variant.replace('+', '-')}/${attempt}`;
        const job: ChildJob = { variant, topic, records, qos };
        if (values.profile !== undefined && r === 0) job.profileDir = values.profile;
        try {
          m = await runChild(job, publisher, messages);
        } catch (err) {
          if (attempt >= 2 || !String(err).includes('no progress')) throw err;
          process.stderr.write(`${variant}: messages dropped by the broker; running it again\n`);
        }
      }
      if (m.records < records / 2) throw new Error(`${variant} measured ${m.records} of ${records}`);
      rates.get(variant)?.push(records / (m.cpuMs / 1000));
      walls.get(variant)?.push(records / (m.wallMs / 1000));
    }
  await publisher.endAsync();
  const result = {
    records,
    runs,
    qos,
    payload_bytes: Math.round(messages.reduce((n, m) => n + m.length, 0) / records),
    node: process.version,
    cpus: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
    memory_gib: Math.round(totalmem() / 2 ** 30),
    load: [load0, loadavg()[0]].map((l) => l.toFixed(1)).join(' → '),
    variants: VARIANTS.map((v) => ({
      variant: v,
      rec_per_cpu_s: Math.round(median(rates.get(v) ?? [])),
      rec_per_s_wall: Math.round(median(walls.get(v) ?? [])),
    })),
  };
  const bare = result.variants[0]?.rec_per_cpu_s ?? Number.NaN;
  const bareJson = result.variants[1]?.rec_per_cpu_s ?? Number.NaN;
  const sluice = result.variants[2]?.rec_per_cpu_s ?? Number.NaN;
  if (values.json) {
    say(
      JSON.stringify({
        ...result,
        sluice_over_bare: sluice / bare,
        sluice_over_bare_json: sluice / bareJson,
      }),
    );
    return;
  }
  say(
    `mqtt source, ${records} messages of ~${result.payload_bytes} B, QoS ${qos}, median of ${runs}; ${result.node}, ${result.cpus}, load ${result.load}`,
  );
  for (const v of result.variants)
    say(
      `  ${v.variant.padEnd(10)} ${String(v.rec_per_cpu_s).padStart(9)} rec/CPU-s  ${String(v.rec_per_s_wall).padStart(9)} rec/s wall`,
    );
  say(
    `  sluice / bare: ${(sluice / bare).toFixed(2)}; sluice / bare+json: ${(sluice / bareJson).toFixed(2)}`,
  );
}

const childIndex = process.argv.indexOf('--child');
if (childIndex >= 0) await child(JSON.parse(process.argv[childIndex + 1] ?? '{}') as ChildJob);
else await orchestrate();
