/**
 * RabbitMQ source: the `rabbitmq` source → discard, beside amqplib's own consume loop on the same
 * messages (the target: Sluice at least 70% of the bare client loop in records per
 * CPU-second).
 *
 * Each consumer runs in its own Node process (so that one's JIT and heap do not colour
 * another's) and is measured by its own CPU time (user + system):
 *
 * - `bare` — an amqplib consumer with the same prefetch, counting messages and acknowledging with
 *   one `multiple` ack every half prefetch: the ceiling;
 * - `bare+json` — the same loop, parsing every body as JSON: the work the source does with
 *   `format: json`, written by hand;
 * - `sluice` — a Sluice job: `rabbitmq` source (format json, metadata on, acknowledgements held
 *   until the checkpoint covering them completes, early checkpoints every half prefetch) →
 *   `discard`.
 *
 * Before each consumer starts, this process fills a queue of its own with the same messages (a
 * durable classic queue, persistent messages, publisher confirms). The consumer's clock runs from
 * the first message it sees to the last; the messages read before the clock started are not
 * counted. The programs alternate within each run so that drift in machine load hits all alike;
 * the median of `--runs` is reported. Needs RabbitMQ on 127.0.0.1:5672.
 *
 *   node bench/rabbitmq.ts [--records 100000] [--runs 3] [--prefetch 1000] [--json] [--profile DIR]
 *
 * `--profile DIR` writes a CPU profile of the sluice child's measured interval in the first run
 * (`DIR/sluice.cpuprofile`; `node bench/profile-summary.ts DIR/sluice.cpuprofile`).
 */

import { cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { builtins, createLogger, Job, parsePipelineYaml, Registry } from '@sluice/core';
import { rabbitmq } from '@sluice/rabbitmq';
import amqp from 'amqplib';
import { cpuMsSince, IntervalProfile, measureJobUntilRead, median, runChild } from './measure.ts';
import { SCRATCH_DIR } from './scratch-dir.ts';

const BROKER = 'amqp://127.0.0.1:5672';
const VARIANTS = ['bare', 'bare+json', 'sluice'] as const;
type Variant = (typeof VARIANTS)[number];

/** What a child reports: the messages it counted, and the CPU and wall time they took. */
interface Measurement {
  cpuMs: number;
  wallMs: number;
  records: number;
}

interface ChildJob {
  variant: Variant;
  queue: string;
  records: number;
  prefetch: number;
  /** Where to write a CPU profile of the sluice child's measured interval, if anywhere. */
  profileDir?: string;
}

// ------------------------------------------------------------------------------------------------
// children

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** amqplib's own consume loop. */
async function bareLoop(job: ChildJob, parse: boolean): Promise<Measurement> {
  const connection = await amqp.connect(BROKER);
  const channel = await connection.createChannel();
  await channel.prefetch(job.prefetch);
  const half = Math.max(1, job.prefetch >> 1);
  let seen = 0;
  let keys = 0;
  let cpu0 = process.cpuUsage();
  let t0 = performance.now();
  const { promise, resolve } = Promise.withResolvers<Measurement>();
  await channel.consume(
    job.queue,
    (msg) => {
      if (msg === null) return;
      if (parse) keys += Object.keys(JSON.parse(msg.content.toString('utf8')) as object).length;
      seen++;
      if (seen === 1) {
        cpu0 = process.cpuUsage();
        t0 = performance.now();
      }
      if (seen % half === 0 || seen === job.records) channel.ack(msg, true);
      if (seen === job.records)
        resolve({ cpuMs: cpuMsSince(cpu0), wallMs: performance.now() - t0, records: seen - 1 });
    },
    { noAck: false },
  );
  const m = await promise;
  await channel.close();
  await connection.close();
  if (parse && keys === 0) throw new Error('no body parsed');
  return m;
}

/** The Sluice job, stopped (drain, final checkpoint) once every message has been read. */
async function sluiceJob(job: ChildJob): Promise<Measurement> {
  const registry = new Registry([builtins, rabbitmq]);
  const yaml = `
name: bench-rabbitmq-${process.pid}
settings: { checkpoint: { interval: 5s, dir: ${SCRATCH_DIR} } }
sources:
  in:
    type: rabbitmq
    url: ${BROKER}
    queue: ${job.queue}
    prefetch: ${job.prefetch}
    format: json
sinks:
  out: { type: discard }
`;
  const plan = parsePipelineYaml(yaml, `${SCRATCH_DIR}/pipeline.yaml`, { registry });
  const log = createLogger({ level: 'warn', format: 'text' });
  const running = await Job.create(plan, { registry, fromScratch: true, log });
  const profile = new IntervalProfile(job.profileDir, job.variant);
  const m = await measureJobUntilRead(running, job.records, { onStart: () => profile.start() });
  await profile.stop();
  return m;
}

async function child(job: ChildJob): Promise<void> {
  const m =
    job.variant === 'sluice' ? await sluiceJob(job) : await bareLoop(job, job.variant === 'bare+json');
  say(`RESULT ${JSON.stringify(m)}`);
}

// ------------------------------------------------------------------------------------------------
// orchestrator

/** One reading of about 200 bytes of JSON, deterministic in `i` (the MQTT benchmark's). */
function body(i: number): Buffer {
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

/** Fills `queue` (new, durable) with `messages`, persistent, confirmed in chunks. */
async function fill(channel: amqp.ConfirmChannel, queue: string, messages: readonly Buffer[]): Promise<void> {
  await channel.assertQueue(queue, { durable: true });
  for (let i = 0; i < messages.length; i += 2000) {
    for (const m of messages.slice(i, i + 2000)) channel.sendToQueue(queue, m, { persistent: true });
    await channel.waitForConfirms();
  }
}

async function orchestrate(): Promise<void> {
  const { values } = parseArgs({
    options: {
      records: { type: 'string', default: '100000' },
      runs: { type: 'string', default: '3' },
      prefetch: { type: 'string', default: '1000' },
      json: { type: 'boolean', default: false },
      profile: { type: 'string' },
    },
  });
  const records = Number(values.records);
  const runs = Number(values.runs);
  const prefetch = Number(values.prefetch);
  const messages = Array.from({ length: records }, (_, i) => body(i));
  const connection = await amqp.connect(BROKER);
  const channel = await connection.createConfirmChannel();
  const rates = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
  const walls = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
  const load0 = loadavg()[0];
  try {
    for (let r = 0; r < runs; r++)
      for (const variant of VARIANTS) {
        const queue = `sluice-bench-${process.pid}-${r}-${variant.replace('+', '-')}`;
        await fill(channel, queue, messages);
        try {
          const job: ChildJob = { variant, queue, records, prefetch };
          if (values.profile !== undefined && r === 0) job.profileDir = values.profile;
          const m = await runChild<Measurement>(import.meta.filename, job);
          if (m.records < records / 2) throw new Error(`${variant} measured ${m.records} of ${records}`);
          rates.get(variant)?.push(m.records / (m.cpuMs / 1000));
          walls.get(variant)?.push(m.records / (m.wallMs / 1000));
        } finally {
          await channel.deleteQueue(queue);
        }
      }
  } finally {
    await connection.close();
  }
  const result = {
    records,
    runs,
    prefetch,
    body_bytes: Math.round(messages.reduce((n, m) => n + m.length, 0) / records),
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
    `rabbitmq source, ${records} messages of ~${result.body_bytes} B, prefetch ${prefetch}, median of ${runs}; ${result.node}, ${result.cpus}, load ${result.load}`,
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
