/**
 * Kafka end to end: Kafka (JSON records of about 200 bytes) → parse → pass-through → Kafka.
 *
 * Three programs read the same input topic and write an output topic, each in its own Node
 * process so that one's JIT and heap do not colour another's, and each measured by its own CPU
 * time (user + system) from its first record to the acknowledgement of its last:
 *
 * - `bare` — @platformatic/kafka's own consume stream feeding its own producer, values copied
 *   as bytes: the ceiling, the issue's "bare consume-and-produce loop";
 * - `bare+json` — the same loop, but every value parsed and re-serialized, the same work a
 *   parsing pipeline does, written by hand;
 * - `sluice` — a Sluice job (`kafka` source with format json → `kafka` sink keyed by `user`,
 *   idempotent, acks=all, checkpoints every 5 s with offsets committed after each). Every value
 *   is parsed; as no step changes a record, the sink writes the text it was parsed from;
 * - `sluice+map` — the same job with a `map` step that adds a field, so that every record is a
 *   new object the sink serializes again: parse, transform, serialize;
 * - `sluice+poison` — the same job over a copy of the input where one record in 100 is not a
 *   JSON object (malformed JSON, an array, an empty value), with a Kafka dead-letter
 *   topic: the poison goes there with its coordinates and the pipeline keeps its pace.
 *
 * The runs alternate between programs so that drift in machine load hits all alike; the median
 * of `--runs` is reported. Needs the broker (`npm run services -- up kafka`).
 *
 *   npm run bench:kafka -- [--records 400000] [--partitions 4] [--runs 3] [--json] [--profile DIR]
 *                          [--only bare,sluice] [--allocations]
 *
 * `--profile DIR` writes a V8 CPU profile of the first run of each program into DIR, covering
 * exactly the measured interval (first record to last acknowledgement); open it in Chrome's
 * DevTools or summarize it with `node bench/profile-summary.ts DIR/sluice.cpuprofile`. With
 * `--allocations` it is a sampling heap profile of what that interval allocated, garbage
 * included (`DIR/sluice.heapprofile`; summarize it the same way, with `--records N`).
 */

import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { Admin, Consumer, type Message, Producer } from '@platformatic/kafka';
import { builtins, createLogger, Job, parsePipelineYaml, Registry } from '@sluice/core';
import { kafka } from '@sluice/kafka';
import { IntervalProfile, median, runChild as runChildProcess } from './measure.ts';
import { SCRATCH_DIR } from './scratch-dir.ts';

const BROKER = '127.0.0.1:9092';
const VARIANTS = ['bare', 'bare+json', 'sluice', 'sluice+map', 'sluice+poison'] as const;
/** Every POISON_EVERY-th record of the poisoned input is not a JSON object. */
const POISON_EVERY = 100;
type Variant = (typeof VARIANTS)[number];

/** What a child reports. */
interface Measurement {
  cpuMs: number;
  wallMs: number;
  records: number;
}

interface ChildJob {
  variant: Variant;
  input: string;
  output: string;
  /** Records that reach `output` (the input less its poison). */
  records: number;
  /** `sluice+poison`: the dead-letter topic, and how many records must reach it. */
  deadLetters?: { topic: string; records: number };
  /** Where to write a CPU profile of the measured interval, if anywhere. */
  profileDir?: string;
  /** Profile allocations (sampling heap profiler) instead of CPU time. */
  allocations?: boolean;
}

// ------------------------------------------------------------------------------------------------
// children

function cpuMsSince(start: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(start);
  return (c.user + c.system) / 1000;
}

/** The library's consume stream into its producer, 4,096 records per send (as the sink's writes). */
async function bareLoop(job: ChildJob, json: boolean): Promise<Measurement> {
  const consumer = new Consumer({
    clientId: `bench-${process.pid}`,
    groupId: `bench-${job.variant}-${process.pid}-${Date.now()}`,
    bootstrapBrokers: [BROKER],
    autocommit: false,
    maxBytes: 1_048_576,
  });
  const producer = new Producer({
    clientId: `bench-${process.pid}`,
    bootstrapBrokers: [BROKER],
    idempotent: true,
  });
  const stream = await consumer.consume({ topics: [job.input], mode: 'earliest', autocommit: false });
  const profile = new IntervalProfile(job.profileDir, job.variant, job.allocations === true);
  let cpu0 = process.cpuUsage();
  let t0 = 0;
  let count = 0;
  let pending: { topic: string; key: Buffer | undefined; value: Buffer; timestamp: bigint }[] = [];
  // The library's consume stream has been seen to stall here (no record for minutes) on a broker
  // with many groups and topics; fail the run with what it had rather than wait out the limit.
  let seen = -1;
  const watchdog = setInterval(() => {
    if (count === seen) {
      process.stderr.write(`bare loop stalled: no record for 60 s after ${count} of ${job.records}\n`);
      process.exit(3);
    }
    seen = count;
  }, 60_000);
  watchdog.unref();
  const flush = async () => {
    const messages = pending;
    pending = [];
    await producer.send({ messages });
  };
  for await (const m of stream as AsyncIterable<Message<Buffer, Buffer, Buffer, Buffer>>) {
    if (count === 0) {
      profile.start();
      cpu0 = process.cpuUsage();
      t0 = performance.now();
    }
    const value = json ? Buffer.from(JSON.stringify(JSON.parse(m.value.toString('utf8')))) : m.value;
    pending.push({ topic: job.output, key: m.key ?? undefined, value, timestamp: m.timestamp });
    if (++count === job.records) break;
    if (pending.length === 4096) await flush();
  }
  if (pending.length > 0) await flush();
  clearInterval(watchdog);
  const result = { cpuMs: cpuMsSince(cpu0), wallMs: performance.now() - t0, records: count };
  await profile.stop();
  await stream.close();
  await Promise.all([consumer.close(true), producer.close()]);
  return result;
}

/** The Sluice job, stopped (drain, final checkpoint) once every record has been acknowledged. */
async function sluiceJob(job: ChildJob): Promise<Measurement> {
  const registry = new Registry([builtins, kafka]);
  const yaml = `
name: bench-kafka-${process.pid}
settings: { checkpoint: { interval: 5s, dir: ${SCRATCH_DIR} } }
sources:
  in:
    type: kafka
    brokers: ['${BROKER}']
    topics: [${job.input}]
    group_id: bench-sluice-${process.pid}-${Date.now()}
    format: json
    include_metadata: false
    isolation_level: read_uncommitted
${job.variant === 'sluice+map' ? 'steps:\n  - id: cents\n    type: map\n    fields: { amount_cents: round(amount * 100) }\n' : ''}sinks:
  out:
    type: kafka
    brokers: ['${BROKER}']
    topic: ${job.output}
    key: user
${job.deadLetters ? `dead_letter: { type: kafka, brokers: ['${BROKER}'], topic: ${job.deadLetters.topic} }` : ''}
`;
  const plan = parsePipelineYaml(yaml, `${SCRATCH_DIR}/pipeline.yaml`, { registry });
  const log = createLogger({ level: 'warn', format: 'text' });
  const running = await Job.create(plan, { registry, fromScratch: true, log });
  const done = running.run();
  const profile = new IntervalProfile(job.profileDir, job.variant, job.allocations === true);
  // The clock starts when the first record has left the source.
  let cpu0 = process.cpuUsage();
  let t0 = performance.now();
  let started = false;
  let cpuMs = 0;
  let wallMs = 0;
  let progress = { written: -1, at: performance.now() };
  for (;;) {
    const m = running.metrics();
    const written = m.sinks.out?.written ?? 0;
    if (written !== progress.written) progress = { written, at: performance.now() };
    else if (performance.now() - progress.at > 60_000) {
      throw new Error(`no progress for 60 s at ${written} of ${job.records} written: ${JSON.stringify(m)}`);
    }
    if (!started && (m.sources.in?.in ?? 0) > 0) {
      started = true;
      profile.start();
      cpu0 = process.cpuUsage();
      t0 = performance.now();
    }
    if (written >= job.records && m.deadLetters >= (job.deadLetters?.records ?? 0)) {
      cpuMs = cpuMsSince(cpu0);
      wallMs = performance.now() - t0;
      await profile.stop();
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  running.stop();
  const result = await done;
  if (result.metrics.deadLetters !== (job.deadLetters?.records ?? 0)) {
    throw new Error(`${result.metrics.deadLetters} dead letters, expected ${job.deadLetters?.records ?? 0}`);
  }
  return { cpuMs, wallMs, records: result.metrics.sinks.out.written };
}

async function child(job: ChildJob): Promise<void> {
  const m = job.variant.startsWith('sluice')
    ? await sluiceJob(job)
    : await bareLoop(job, job.variant === 'bare+json');
  process.stdout.write(`RESULT ${JSON.stringify(m)}\n`);
}

// ------------------------------------------------------------------------------------------------
// orchestrator

function runChild(job: ChildJob): Promise<Measurement> {
  return runChildProcess<Measurement>(import.meta.filename, job);
}

/** One order of about 200 bytes of JSON, deterministic in `i`. */
function order(i: number, base: number): { [k: string]: unknown } {
  return {
    id: i,
    user: `user-${(i * 7919) % 10_000}`,
    amount: Math.round(((i * 7.31) % 500) * 100) / 100,
    currency: 'EUR',
    region: ['eu-west', 'us-east', 'ap-south'][i % 3],
    ts: base + i,
    items: (i % 5) + 1,
    tags: ['web', 'promo'],
    note: 'lorem ipsum dolor sit amet, consectetur',
  };
}

/** A value that is not a JSON object, three kinds in turn. */
function poison(i: number): Buffer {
  return Buffer.from(['{"id": 1, "user": oops', '[1, 2, 3]', ''][i % 3]);
}

async function fill(topic: string, records: number, poisoned = false): Promise<number> {
  const producer = new Producer({ clientId: 'bench-fill', bootstrapBrokers: [BROKER], idempotent: true });
  // Recent timestamps: records older than the broker's retention (7 days) are deleted under the run.
  const base = Date.now() - records;
  let bytes = 0;
  for (let from = 0; from < records; from += 10_000) {
    const messages = [];
    for (let i = from; i < Math.min(records, from + 10_000); i++) {
      const o = order(i, base);
      const value =
        poisoned && i % POISON_EVERY === POISON_EVERY - 1 ? poison(i) : Buffer.from(JSON.stringify(o));
      bytes += value.length;
      messages.push({ topic, key: Buffer.from(o.user as string), value, timestamp: BigInt(base + i) });
    }
    await producer.send({ messages });
  }
  await producer.close();
  return bytes / records;
}

async function orchestrate(): Promise<void> {
  const { values } = parseArgs({
    options: {
      records: { type: 'string', default: '400000' },
      partitions: { type: 'string', default: '4' },
      runs: { type: 'string', default: '3' },
      json: { type: 'boolean', default: false },
      profile: { type: 'string' },
      only: { type: 'string' },
      allocations: { type: 'boolean', default: false },
    },
  });
  const only = values.only?.split(',') ?? [...VARIANTS];
  for (const v of only) {
    if (!(VARIANTS as readonly string[]).includes(v))
      throw new Error(`--only: no program ${v} (${VARIANTS.join(', ')})`);
  }
  const variants = VARIANTS.filter((v) => only.includes(v));
  const records = Number(values.records);
  const partitions = Number(values.partitions);
  const runs = Number(values.runs);
  const admin = new Admin({ clientId: 'bench-admin', bootstrapBrokers: [BROKER] });
  const stamp = `${process.pid}-${Date.now().toString(36)}`;
  const input = `bench-kafka-in-${stamp}`;
  const poisoned = `bench-kafka-poisoned-${stamp}`;
  const created = [input, poisoned];
  const poisonCount = Math.floor(records / POISON_EVERY);
  const results = new Map<Variant, Measurement[]>(VARIANTS.map((v) => [v, []]));
  try {
    await admin.createTopics({ topics: [input], partitions, replicas: 1 });
    await admin.createTopics({ topics: [poisoned], partitions, replicas: 1 });
    if (!values.json) process.stderr.write(`filling ${input} and ${poisoned} with ${records} records each\n`);
    const bytes = await fill(input, records);
    if (variants.includes('sluice+poison')) await fill(poisoned, records, true);
    for (let run = 0; run < runs; run++) {
      for (const variant of variants) {
        const output = `bench-kafka-out-${stamp}-${variant.replace('+', '-')}-${run}`;
        await admin.createTopics({ topics: [output], partitions, replicas: 1 });
        created.push(output);
        const profileDir = run === 0 ? values.profile : undefined;
        const job: ChildJob = {
          variant,
          input,
          output,
          records,
          profileDir,
          allocations: values.allocations,
        };
        if (variant === 'sluice+poison') {
          const dead = `${output}-dead`;
          await admin.createTopics({ topics: [dead], partitions: 1, replicas: 1 });
          created.push(dead);
          Object.assign(job, {
            input: poisoned,
            records: records - poisonCount,
            deadLetters: { topic: dead, records: poisonCount },
          });
        }
        const m = await runChild(job);
        if (m.records !== job.records)
          throw new Error(`${variant} wrote ${m.records} of ${job.records} records`);
        results.get(variant)?.push(m);
        if (!values.json) {
          process.stderr.write(
            `run ${run + 1}/${runs} ${variant.padEnd(13)} ${Math.round(records / (m.cpuMs / 1000) / 1000)}k rec/CPU-s\n`,
          );
        }
      }
    }
    const rate = (v: Variant) => median((results.get(v) ?? []).map((m) => records / (m.cpuMs / 1000)));
    const wallRate = (v: Variant) => median((results.get(v) ?? []).map((m) => records / (m.wallMs / 1000)));
    const ceiling = variants.includes('bare') ? rate('bare') : Number.NaN;
    const rows = variants.map((v) => ({
      program: v,
      recordsPerCpuSecond: Math.round(rate(v)),
      recordsPerSecond: Math.round(wallRate(v)),
      ofBare: rate(v) / ceiling,
    }));
    const env = {
      node: process.version,
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      records,
      valueBytes: Math.round(bytes),
      partitions,
      runs,
    };
    if (values.json) {
      console.log(JSON.stringify({ env, rows }, null, 2));
      return;
    }
    console.log(
      `Kafka → parse → pass-through → Kafka: ${records} records of ~${env.valueBytes} bytes, ${partitions} partitions, median of ${runs}`,
    );
    console.log(`${env.cores} × ${env.cpu}, ${env.memoryGiB} GiB, Node ${env.node}`);
    console.log(`(sluice+poison: 1 record in ${POISON_EVERY} is poison, sent to a dead-letter topic)`);
    console.log('program         rec/CPU-s   rec/s (wall)   of bare');
    for (const r of rows) {
      console.log(
        `${r.program.padEnd(14)} ${`${Math.round(r.recordsPerCpuSecond / 1000)}k`.padStart(10)} ${`${Math.round(r.recordsPerSecond / 1000)}k`.padStart(14)} ${r.ofBare.toFixed(2).padStart(9)}`,
      );
    }
  } finally {
    await admin.deleteTopics({ topics: created }).catch(() => {});
    await admin.close();
  }
}

const childIndex = process.argv.indexOf('--child');
if (childIndex >= 0) await child(JSON.parse(process.argv[childIndex + 1]) as ChildJob);
else await orchestrate();
