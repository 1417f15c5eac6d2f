/**
 * S3 objects source: the `s3` source (JSON lines, `follow: false`) → discard, beside a bare AWS
 * SDK loop over the same objects (issue 13: Sluice at least 70% of the bare client loop in
 * records per CPU-second), on the S3Proxy of `scripts/services.sh up s3`.
 *
 * This process writes `--objects` objects of JSON lines (the MQTT benchmark's sensor readings,
 * about 172 bytes a line; `--records` lines in all) under a prefix of a bucket of its own, then
 * runs the consumers, each in its own Node process measured by its own CPU time (user + system),
 * alternating within each run, clock from the start of the listing to the last record (creating
 * the client, or the job, is outside it; the job's run includes its end-of-input checkpoint):
 *
 * - `bare` — `ListObjectsV2`, then for each object `GetObject`, the body as one string
 *   (`transformToString`), split at newlines, each line `JSON.parse`d: the least a reader of JSON
 *   lines can do with the SDK (the source must parse: a line is only a record once decoded);
 * - `sluice` — a job: the `s3` source (`format: json`, `follow: false`: read what is there, then
 *   end) → `discard`; its position (last object read whole, byte offset in the current one) goes
 *   into the checkpoint.
 *
 * S3Proxy's CPU is not counted. The median of `--runs` is reported.
 *
 *   node bench/s3-source.ts [--records 200000] [--objects 10] [--runs 3] [--json] [--profile DIR]
 */

import { cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { builtins, createLogger, Job, parsePipelineYaml, Registry } from '@sluice/core';
import { s3 } from '@sluice/s3';
import { S3_ENDPOINT, s3Available, serverOptions, TestBucket, testClient } from '@sluice/s3/testing';
import { cpuMsSince, IntervalProfile, median, runChild } from './measure.ts';
import { SCRATCH_DIR } from './scratch-dir.ts';

const VARIANTS = ['bare', 'sluice'] as const;
type Variant = (typeof VARIANTS)[number];
const PREFIX = 'readings/';

interface Measurement {
  cpuMs: number;
  wallMs: number;
  records: number;
}

interface ChildJob {
  variant: Variant;
  bucket: string;
  records: number;
  profileDir?: string;
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

// ------------------------------------------------------------------------------------------------
// children

/** The AWS SDK's own loop: list, get each object, split its lines, parse each. */
async function bareLoop(job: ChildJob): Promise<Measurement> {
  const client = testClient();
  const profile = new IntervalProfile(job.profileDir, job.variant);
  profile.start();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let count = 0;
  let keys = 0;
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: job.bucket, Prefix: PREFIX, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) {
      const got = await client.send(new GetObjectCommand({ Bucket: job.bucket, Key: o.Key }));
      const text = (await got.Body?.transformToString('utf8')) ?? '';
      let start = 0;
      for (;;) {
        const end = text.indexOf('\n', start);
        const line = end < 0 ? text.slice(start) : text.slice(start, end);
        if (line.length > 0) {
          keys += Object.keys(JSON.parse(line) as object).length;
          count++;
        }
        if (end < 0) break;
        start = end + 1;
      }
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  const m = { cpuMs: cpuMsSince(cpu0), wallMs: performance.now() - t0, records: count };
  await profile.stop();
  client.destroy();
  if (keys === 0) throw new Error('no line parsed');
  return m;
}

/** The Sluice job: it ends by itself once every object is read (`follow: false`). */
async function sluiceJob(job: ChildJob): Promise<Measurement> {
  const registry = new Registry([builtins, s3]);
  const yaml = `
name: bench-s3-source-${process.pid}
settings: { checkpoint: { interval: 5s, dir: ${SCRATCH_DIR} } }
sources:
  in:
    type: s3
    bucket: ${job.bucket}
    prefix: ${PREFIX}
    endpoint: ${S3_ENDPOINT}
    force_path_style: true
    access_key_id: ${serverOptions.access_key_id}
    secret_access_key: ${serverOptions.secret_access_key}
    format: json
    follow: false
sinks:
  out: { type: discard }
`;
  const plan = parsePipelineYaml(yaml, `${SCRATCH_DIR}/pipeline.yaml`, { registry });
  const log = createLogger({ level: 'warn', format: 'text' });
  const running = await Job.create(plan, { registry, fromScratch: true, log });
  // The clock runs from the job's start (its first listing), as the bare loop's does.
  const profile = new IntervalProfile(job.profileDir, job.variant);
  profile.start();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await running.run();
  const m = {
    cpuMs: cpuMsSince(cpu0),
    wallMs: performance.now() - t0,
    records: result.metrics.sources.in?.in ?? 0,
  };
  await profile.stop();
  if (result.metrics.deadLetters !== 0) throw new Error(`${result.metrics.deadLetters} dead letters`);
  return m;
}

async function child(job: ChildJob): Promise<void> {
  const m = job.variant === 'sluice' ? await sluiceJob(job) : await bareLoop(job);
  if (m.records !== job.records) throw new Error(`${job.variant} read ${m.records} of ${job.records}`);
  say(`RESULT ${JSON.stringify(m)}`);
}

// ------------------------------------------------------------------------------------------------
// orchestrator

/** One reading of about 170 bytes of JSON, deterministic in `i` (the MQTT benchmark's). */
function reading(i: number): string {
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
      records: { type: 'string', default: '200000' },
      objects: { type: 'string', default: '10' },
      runs: { type: 'string', default: '3' },
      json: { type: 'boolean', default: false },
      profile: { type: 'string' },
    },
  });
  const records = Number(values.records);
  const objects = Number(values.objects);
  const runs = Number(values.runs);
  if (!(await s3Available())) throw new Error('S3Proxy is not up: bash scripts/services.sh up s3');
  const bucket = await TestBucket.create('sluice-bench');
  let bytes = 0;
  const rates = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
  const walls = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
  let load0 = 0;
  try {
    const per = Math.ceil(records / objects);
    for (let o = 0, i = 0; o < objects; o++) {
      const lines: string[] = [];
      for (const end = Math.min(records, i + per); i < end; i++) lines.push(reading(i));
      const body = `${lines.join('\n')}\n`;
      bytes += Buffer.byteLength(body);
      await bucket.put(`${PREFIX}part-${String(o).padStart(5, '0')}.jsonl`, body);
    }
    load0 = loadavg()[0];
    // A first run of each, not measured: S3Proxy's own caches and JIT warm up.
    for (let r = -1; r < runs; r++)
      for (const variant of VARIANTS) {
        const job: ChildJob = { variant, bucket: bucket.name, records };
        if (values.profile !== undefined && r === 0) job.profileDir = values.profile;
        const m = await runChild<Measurement>(import.meta.filename, job);
        if (r < 0) continue;
        rates.get(variant)?.push(m.records / (m.cpuMs / 1000));
        walls.get(variant)?.push(m.records / (m.wallMs / 1000));
      }
  } finally {
    await bucket.dispose();
  }
  const result = {
    records,
    objects,
    runs,
    line_bytes: Math.round(bytes / records),
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
  const sluice = result.variants[1]?.rec_per_cpu_s ?? Number.NaN;
  if (values.json) {
    say(JSON.stringify({ ...result, sluice_over_bare: sluice / bare }));
    return;
  }
  say(
    `s3 source, ${records} JSON lines of ~${result.line_bytes} B in ${objects} objects, median of ${runs}; ${result.node}, ${result.cpus}, load ${result.load}`,
  );
  for (const v of result.variants)
    say(
      `  ${v.variant.padEnd(10)} ${String(v.rec_per_cpu_s).padStart(9)} rec/CPU-s  ${String(v.rec_per_s_wall).padStart(9)} rec/s wall`,
    );
  say(`  sluice / bare: ${(sluice / bare).toFixed(2)}`);
}

const childIndex = process.argv.indexOf('--child');
if (childIndex >= 0) await child(JSON.parse(process.argv[childIndex + 1] ?? '{}') as ChildJob);
else await orchestrate();
