/**
 * NATS JetStream source: the `nats` source → discard, beside the NATS client's own consume loop
 * over the same messages (target: Sluice at least 70% of the bare client loop in records per
 * CPU-second).
 *
 * The benchmark process publishes the messages once to a stream of its own; each consumer then
 * reads all of them through a durable pull consumer of its own (deliver all, explicit acks), in a
 * Node process of its own, measured by its own CPU time (user + system):
 *
 * - `bare` — `@nats-io/jetstream`'s `consume()` loop, acknowledging each message as it comes
 *   and counting: the ceiling;
 * - `bare+json` — the same loop, parsing every payload as JSON: the work the source does with
 *   `format: json`, written by hand;
 * - `sluice` — a Sluice job: `nats` source (format json, metadata off, acknowledgements held until
 *   the checkpoint covering them completes, an early checkpoint every half `max_ack_pending`)
 *   → `discard`.
 *
 * The consumer's clock runs from its first message to its last. The programs alternate within
 * each run so that drift in machine load hits all alike; the median of `--runs` is reported.
 * Needs NATS with JetStream on 127.0.0.1:4222.
 *
 *   node bench/nats.ts [--records 100000] [--runs 3] [--max-ack-pending 1000] [--json]
 */

import { cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { builtins, createLogger, Job, parsePipelineYaml, Registry } from '@sluice/core';
import { nats as natsConnector } from '@sluice/nats';
import { cpuMsSince, measureJobUntilRead, median, runChild } from './measure.ts';
import { SCRATCH_DIR } from './scratch-dir.ts';

const SERVER = 'nats://127.0.0.1:4222';
const PULL_BATCH = 500;
const VARIANTS = ['bare', 'bare+json', 'sluice'] as const;
type Variant = (typeof VARIANTS)[number];

/** What a child reports. */
interface Measurement {
  cpuMs: number;
  wallMs: number;
  records: number;
}

interface ChildJob {
  variant: Variant;
  stream: string;
  durable: string;
  records: number;
  maxAckPending: number;
}

// ------------------------------------------------------------------------------------------------
// children

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** The client's own consume loop, acknowledging each message. */
async function bareLoop(job: ChildJob, parse: boolean): Promise<Measurement> {
  const nc = await connect({ servers: SERVER });
  const jsm = await jetstreamManager(nc);
  await jsm.consumers.add(job.stream, {
    durable_name: job.durable,
    ack_policy: AckPolicy.Explicit,
    max_ack_pending: job.maxAckPending,
  });
  const consumer = await jetstream(nc).consumers.get(job.stream, job.durable);
  const messages = await consumer.consume({ max_messages: PULL_BATCH });
  let seen = 0;
  let keys = 0;
  let cpu0 = process.cpuUsage();
  let t0 = performance.now();
  for await (const m of messages) {
    if (parse) keys += Object.keys(JSON.parse(m.string()) as object).length;
    m.ack();
    if (++seen === 1) {
      cpu0 = process.cpuUsage();
      t0 = performance.now();
    }
    if (seen === job.records) break;
  }
  const measured = { cpuMs: cpuMsSince(cpu0), wallMs: performance.now() - t0, records: seen - 1 };
  await nc.drain();
  if (parse && keys === 0) throw new Error('no payload parsed');
  return measured;
}

/** The Sluice job, stopped (drain, final checkpoint) once every message has been read. */
async function sluiceJob(job: ChildJob): Promise<Measurement> {
  const registry = new Registry([builtins, natsConnector]);
  const yaml = `
name: bench-nats-${process.pid}
settings: { checkpoint: { interval: 5s, dir: ${SCRATCH_DIR} } }
sources:
  in:
    type: nats
    servers: ['${SERVER}']
    stream: ${job.stream}
    durable: ${job.durable}
    create: true
    max_ack_pending: ${job.maxAckPending}
    pull_batch: ${PULL_BATCH}
    format: json
    metadata: false
sinks:
  out: { type: discard }
`;
  const plan = parsePipelineYaml(yaml, `${SCRATCH_DIR}/pipeline.yaml`, { registry });
  const log = createLogger({ level: 'warn', format: 'text' });
  const running = await Job.create(plan, { registry, fromScratch: true, log });
  return measureJobUntilRead(running, job.records);
}

async function child(job: ChildJob): Promise<void> {
  const m =
    job.variant === 'sluice' ? await sluiceJob(job) : await bareLoop(job, job.variant === 'bare+json');
  say(`RESULT ${JSON.stringify(m)}`);
}

// ------------------------------------------------------------------------------------------------
// orchestrator

/** One reading of about 170 bytes of JSON, deterministic in `i` (as bench/mqtt.ts publishes). */
function payload(i: number): string {
  return JSON.stringify({
    device: `sensor-${(i * 7919) % 1_000}`,
    temperature: Math.round(((i * 7.31) % 40) * 100) / 100,
    humidity: Math.round(((i * 3.17) % 100) * 100) / 100,
    ts: 1_767_225_600_000 + i,
    site: ['north', 'south', 'east', 'west'][i % 4],
    firmware: '2.4.1',
    note: 'lorem ipsum dolor sit amet, consectetur adipiscing',
  });
}

async function orchestrate(): Promise<void> {
  const { values } = parseArgs({
    options: {
      records: { type: 'string', default: '100000' },
      runs: { type: 'string', default: '3' },
      'max-ack-pending': { type: 'string', default: '1000' },
      json: { type: 'boolean', default: false },
    },
  });
  const records = Number(values.records);
  const runs = Number(values.runs);
  const maxAckPending = Number(values['max-ack-pending']);
  const stream = `sluice_bench_${process.pid}_${Date.now().toString(36)}`;
  const nc = await connect({ servers: SERVER });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: stream, subjects: [`${stream}.>`], storage: 'file' });
  let bytes = 0;
  try {
    const js = jetstream(nc);
    for (let i = 0; i < records; i += 1000) {
      const acks: Promise<unknown>[] = [];
      for (let j = i; j < Math.min(records, i + 1000); j++) {
        const p = payload(j);
        bytes += p.length;
        acks.push(js.publish(`${stream}.readings`, p));
      }
      await Promise.all(acks);
    }
    const rates = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
    const walls = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
    const load0 = loadavg()[0];
    for (let r = 0; r < runs; r++)
      for (const variant of VARIANTS) {
        const durable = `bench_${r}_${variant.replace('+', '_')}`;
        const job: ChildJob = { variant, stream, durable, records, maxAckPending };
        const m = await runChild<Measurement>(import.meta.filename, job);
        if (m.records < records / 2) throw new Error(`${variant} measured ${m.records} of ${records}`);
        rates.get(variant)?.push(m.records / (m.cpuMs / 1000));
        walls.get(variant)?.push(m.records / (m.wallMs / 1000));
        await jsm.consumers.delete(stream, durable);
      }
    const result = {
      records,
      runs,
      max_ack_pending: maxAckPending,
      payload_bytes: Math.round(bytes / records),
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
      `nats source, ${records} messages of ~${result.payload_bytes} B, max_ack_pending ${maxAckPending}, median of ${runs}; ${result.node}, ${result.cpus}, load ${result.load}`,
    );
    for (const v of result.variants)
      say(
        `  ${v.variant.padEnd(10)} ${String(v.rec_per_cpu_s).padStart(9)} rec/CPU-s  ${String(v.rec_per_s_wall).padStart(9)} rec/s wall`,
      );
    say(
      `  sluice / bare: ${(sluice / bare).toFixed(2)}; sluice / bare+json: ${(sluice / bareJson).toFixed(2)}`,
    );
  } finally {
    await jsm.streams.delete(stream).catch(() => false);
    await nc.drain();
  }
}

const childIndex = process.argv.indexOf('--child');
if (childIndex >= 0) await child(JSON.parse(process.argv[childIndex + 1] ?? '{}') as ChildJob);
else await orchestrate();
