/**
 * Redis Streams source: the `redis` source (`mode: stream`) → discard, beside node-redis's own
 * `XREADGROUP` / `XACK` loop over the same entries (target: Sluice at least 70% of the bare client
 * loop in records per CPU-second).
 *
 * The benchmark process adds the entries once (`XADD`, seven fields of a sensor reading, about
 * 170 bytes); each consumer then reads all of them through a consumer group of its own (created
 * at `0`), in a Node process of its own, measured by its own CPU time (user + system):
 *
 * - `bare` — node-redis `XREADGROUP GROUP <g> <c> COUNT <count> BLOCK 200 STREAMS <s> >` in a loop,
 *   one `XACK` of each reply's ids right after it, counting entries: the ceiling;
 * - `bare+fields` — the same loop, turning each entry's field list into an object: the work the
 *   source does with `format: fields`, written by hand;
 * - `sluice` — a Sluice job: `redis` source (`format: fields`, acknowledgements held until the
 *   checkpoint covering them completes, an early checkpoint every half `max_pending`) → `discard`.
 *
 * `redis-benchmark` is no consumer: it sends one fixed command, without reading replies into
 * records or acknowledging them, so the bare node-redis loop is the baseline a consumer can reach.
 * The consumer's clock runs from its first entry to its last. The programs alternate within each
 * run so that drift in machine load hits all alike; the median of `--runs` is reported. Needs
 * Redis on 127.0.0.1:6379; the stream is deleted at the end.
 *
 *   node bench/redis-streams.ts [--records 100000] [--runs 3] [--count 500] [--max-pending 1000] [--json] [--profile DIR]
 *
 * `--profile DIR` writes a CPU profile of each child's measured interval in the first run
 * (`DIR/<variant>.cpuprofile`; `node bench/profile-summary.ts DIR/sluice.cpuprofile`), so that the
 * sluice child's can be read beside the bare loop's.
 */

import { cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { builtins, createLogger, Job, parsePipelineYaml, Registry } from '@sluice/core';
import { redis as redisConnector } from '@sluice/redis';
import { createClient } from 'redis';
import { cpuMsSince, IntervalProfile, measureJobUntilRead, median, runChild } from './measure.ts';
import { SCRATCH_DIR } from './scratch-dir.ts';

const URL = 'redis://127.0.0.1:6379';
const VARIANTS = ['bare', 'bare+fields', 'sluice'] as const;
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
  group: string;
  records: number;
  count: number;
  maxPending: number;
  /** Where to write a CPU profile of the sluice child's measured interval, if anywhere. */
  profileDir?: string;
}

// ------------------------------------------------------------------------------------------------
// children

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** One stream's entries of an `XREADGROUP` reply (RESP2: `[[key, [[id, [f, v, …]], …]]]`). */
function entriesOf(reply: unknown): [string, string[]][] {
  if (!Array.isArray(reply)) return [];
  const streams = reply as [string, [string, string[]][]][];
  return streams[0]?.[1] ?? [];
}

/** The client's own consume loop: read a batch, acknowledge it, count. */
async function bareLoop(job: ChildJob, fields: boolean): Promise<Measurement> {
  const client = createClient({ url: URL });
  await client.connect();
  await client.sendCommand(['XGROUP', 'CREATE', job.stream, job.group, '0']);
  let seen = 0;
  let first = 0;
  let keys = 0;
  let cpu0 = process.cpuUsage();
  let t0 = performance.now();
  const profile = new IntervalProfile(job.profileDir, job.variant);
  while (seen < job.records) {
    const entries = entriesOf(
      await client.sendCommand([
        'XREADGROUP',
        'GROUP',
        job.group,
        'bare',
        'COUNT',
        String(job.count),
        'BLOCK',
        '200',
        'STREAMS',
        job.stream,
        '>',
      ]),
    );
    if (entries.length === 0) continue;
    const ids: string[] = [];
    for (const [id, list] of entries) {
      ids.push(id);
      if (fields) {
        const record: { [field: string]: string } = {};
        for (let i = 0; i + 1 < list.length; i += 2) record[list[i] as string] = list[i + 1] as string;
        keys += Object.keys(record).length;
      }
    }
    await client.sendCommand(['XACK', job.stream, job.group, ...ids]);
    if (first === 0) {
      // The first reply starts the clock and is not counted, as the job's clock starts at the
      // first count it sees.
      first = entries.length;
      cpu0 = process.cpuUsage();
      t0 = performance.now();
      profile.start();
    }
    seen += entries.length;
  }
  const measured = { cpuMs: cpuMsSince(cpu0), wallMs: performance.now() - t0, records: seen - first };
  await profile.stop();
  client.destroy();
  if (fields && keys === 0) throw new Error('no entry turned into a record');
  return measured;
}

/** The Sluice job, stopped (drain, final checkpoint) once every entry has been read. */
async function sluiceJob(job: ChildJob): Promise<Measurement> {
  const registry = new Registry([builtins, redisConnector]);
  const yaml = `
name: bench-redis-streams-${process.pid}
settings: { checkpoint: { interval: 5s, dir: ${SCRATCH_DIR} }, batch_size: ${job.count} }
sources:
  in:
    type: redis
    url: ${URL}
    mode: stream
    stream: ${job.stream}
    group: ${job.group}
    consumer: sluice
    start: '0'
    format: fields
    max_pending: ${job.maxPending}
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
    job.variant === 'sluice' ? await sluiceJob(job) : await bareLoop(job, job.variant === 'bare+fields');
  say(`RESULT ${JSON.stringify(m)}`);
}

// ------------------------------------------------------------------------------------------------
// orchestrator

/** The fields of one reading, about 170 bytes, deterministic in `i` (the readings of bench/mqtt.ts). */
function entryFields(i: number): string[] {
  return [
    'device',
    `sensor-${(i * 7919) % 1_000}`,
    'temperature',
    String(Math.round(((i * 7.31) % 40) * 100) / 100),
    'humidity',
    String(Math.round(((i * 3.17) % 100) * 100) / 100),
    'ts',
    String(1_767_225_600_000 + i),
    'site',
    ['north', 'south', 'east', 'west'][i % 4] ?? 'north',
    'firmware',
    '2.4.1',
    'note',
    'lorem ipsum dolor sit amet, consectetur adipiscing',
  ];
}

async function orchestrate(): Promise<void> {
  const { values } = parseArgs({
    options: {
      records: { type: 'string', default: '100000' },
      runs: { type: 'string', default: '3' },
      count: { type: 'string', default: '500' },
      'max-pending': { type: 'string', default: '1000' },
      json: { type: 'boolean', default: false },
      profile: { type: 'string' },
    },
  });
  const records = Number(values.records);
  const runs = Number(values.runs);
  const count = Number(values.count);
  const maxPending = Number(values['max-pending']);
  const stream = `sluice:bench:streams:${process.pid}:${Date.now().toString(36)}`;
  const client = createClient({ url: URL });
  await client.connect();
  let bytes = 0;
  try {
    for (let i = 0; i < records; i += 1000) {
      const adds: Promise<unknown>[] = [];
      for (let j = i; j < Math.min(records, i + 1000); j++) {
        const fields = entryFields(j);
        for (const f of fields) bytes += f.length;
        adds.push(client.sendCommand(['XADD', stream, '*', ...fields]));
      }
      await Promise.all(adds);
    }
    const rates = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
    const walls = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
    const load0 = loadavg()[0] ?? 0;
    for (let r = 0; r < runs; r++)
      for (const variant of VARIANTS) {
        const group = `bench_${r}_${variant.replace('+', '_')}`;
        const job: ChildJob = { variant, stream, group, records, count, maxPending };
        if (values.profile !== undefined && r === 0) job.profileDir = values.profile;
        const m = await runChild<Measurement>(import.meta.filename, job);
        if (m.records < records / 2) throw new Error(`${variant} measured ${m.records} of ${records}`);
        rates.get(variant)?.push(m.records / (m.cpuMs / 1000));
        walls.get(variant)?.push(m.records / (m.wallMs / 1000));
        await client.sendCommand(['XGROUP', 'DESTROY', stream, group]);
      }
    const result = {
      records,
      runs,
      count,
      max_pending: maxPending,
      entry_bytes: Math.round(bytes / records),
      node: process.version,
      cpus: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
      memory_gib: Math.round(totalmem() / 2 ** 30),
      load: [load0, loadavg()[0] ?? 0].map((l) => l.toFixed(1)).join(' → '),
      variants: VARIANTS.map((v) => ({
        variant: v,
        rec_per_cpu_s: Math.round(median(rates.get(v) ?? [])),
        rec_per_s_wall: Math.round(median(walls.get(v) ?? [])),
      })),
    };
    const bare = result.variants[0]?.rec_per_cpu_s ?? Number.NaN;
    const bareFields = result.variants[1]?.rec_per_cpu_s ?? Number.NaN;
    const sluice = result.variants[2]?.rec_per_cpu_s ?? Number.NaN;
    if (values.json) {
      say(
        JSON.stringify({
          ...result,
          sluice_over_bare: sluice / bare,
          sluice_over_bare_fields: sluice / bareFields,
        }),
      );
      return;
    }
    say(
      `redis streams source, ${records} entries of ~${result.entry_bytes} B, COUNT ${count}, max_pending ${maxPending}, median of ${runs}; ${result.node}, ${result.cpus}, load ${result.load}`,
    );
    for (const v of result.variants)
      say(
        `  ${v.variant.padEnd(11)} ${String(v.rec_per_cpu_s).padStart(9)} rec/CPU-s  ${String(v.rec_per_s_wall).padStart(9)} rec/s wall`,
      );
    say(
      `  sluice / bare: ${(sluice / bare).toFixed(2)}; sluice / bare+fields: ${(sluice / bareFields).toFixed(2)}`,
    );
  } finally {
    await client.sendCommand(['DEL', stream]).catch(() => 0);
    client.destroy();
  }
}

const childIndex = process.argv.indexOf('--child');
if (childIndex >= 0) await child(JSON.parse(process.argv[childIndex + 1] ?? '{}') as ChildJob);
else await orchestrate();
