/**
 * S3 sink: records → the `s3` sink (JSON lines, and Parquet) on the S3Proxy of
 * `scripts/services.sh up s3`, beside a bare AWS SDK loop that uploads the same records as JSON
 * lines in 5 MiB multipart parts (lines kept as strings, joined and encoded once per part: the
 * least the sink can do for `jsonl`).
 *
 * The ceiling the sink's `parquet` format is held to: the writer's own speed, the encoder the
 * sink uses (`ParquetColumnsBuilder` and `writeColumns` of `@sluice/files`) turning the same
 * records into one Parquet file (ZSTD) written to a local file — no JSON lines, no S3.
 *
 * All variants run in this process, one after another within each run (so drift in machine load
 * hits all alike), each measured by this process's CPU time (user + system) from its first
 * record to its completed upload; S3Proxy's own CPU is not counted. The median of `--runs` is
 * reported, as records per CPU-second and as a ratio to `bare`. Each run writes to a bucket of
 * its own, removed at the end.
 *
 *   node bench/s3.ts [--records 200000] [--runs 3] [--json]
 */

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { type Row, silentLogger, systemClock, validateConfig } from '@sluice/core';
import { ParquetColumnsBuilder, writeColumns } from '@sluice/files';
import { s3Sink } from '@sluice/s3';
import { s3Available, serverOptions, TestBucket } from '@sluice/s3/testing';
import { median } from './measure.ts';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '200000' },
    runs: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
  },
});
const total = Number(values.records);
const runs = Number(values.runs);
const BATCH = 1000;
const PART = 5 * 1024 * 1024;

if (!(await s3Available())) process.exit(0);

const records: Row[] = Array.from({ length: total }, (_, i) => ({
  id: i,
  name: `record ${i}`,
  amount: (i % 10_000) * 1.25,
  region: ['EU', 'US', 'APAC'][i % 3] ?? 'EU',
  tags: ['a', `t${i % 7}`],
  geo: { lat: (i % 90) * 0.5, lon: (i % 180) * 0.5 },
}));
const times = records.map(() => Date.UTC(2026, 11, 6));

function cpuMs(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
}

async function bare(bucket: TestBucket): Promise<number> {
  const start = process.cpuUsage();
  const key = 'bare/part-0.jsonl';
  const { UploadId } = await bucket.client.send(
    new CreateMultipartUploadCommand({ Bucket: bucket.name, Key: key }),
  );
  const parts: { PartNumber: number; ETag?: string }[] = [];
  let chunks: string[] = [];
  let size = 0;
  const flush = async () => {
    const body = Buffer.from(chunks.join(''));
    const n = parts.length + 1;
    const out = await bucket.client.send(
      new UploadPartCommand({ Bucket: bucket.name, Key: key, UploadId, PartNumber: n, Body: body }),
    );
    parts.push({ PartNumber: n, ETag: out.ETag });
    chunks = [];
    size = 0;
  };
  for (const r of records) {
    const line = JSON.stringify(r);
    chunks.push(line, '\n');
    size += line.length + 1;
    if (size >= PART) await flush();
  }
  if (size > 0) await flush();
  await bucket.client.send(
    new CompleteMultipartUploadCommand({
      Bucket: bucket.name,
      Key: key,
      UploadId,
      MultipartUpload: { Parts: parts },
    }),
  );
  return cpuMs(start);
}

async function sluice(bucket: TestBucket, format: 'jsonl' | 'parquet'): Promise<number> {
  const checked = validateConfig(s3Sink.config, {
    ...serverOptions,
    bucket: bucket.name,
    prefix: `${format}/`,
    format,
    roll: { max_bytes: 1 << 30 },
  });
  if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
  const start = process.cpuUsage();
  const sink = s3Sink.create(checked.value as never);
  await sink.open({
    id: 'out',
    pipeline: `bench-${format}`,
    restored: undefined,
    clock: systemClock,
    baseDir: process.cwd(),
    signal: new AbortController().signal,
    log: silentLogger,
  });
  for (let at = 0; at < total; at += BATCH)
    await sink.write({ records: records.slice(at, at + BATCH), times: times.slice(at, at + BATCH) });
  await sink.prepareCommit?.(1);
  await sink.commit?.(1);
  await sink.close();
  return cpuMs(start);
}

const localDir = await mkdtemp(join(tmpdir(), 'bench-s3-'));

/** The ceiling: the same records encoded as one Parquet file and written to a local file. */
async function localParquet(): Promise<number> {
  const start = process.cpuUsage();
  const builder = new ParquetColumnsBuilder();
  for (const r of records) builder.add(r);
  const columns = builder.build();
  if (columns === undefined) throw new Error('the bench records need typed columns');
  await writeFile(join(localDir, 'all.parquet'), writeColumns(columns, 'zstd'));
  return cpuMs(start);
}

const variants = {
  bare,
  'parquet → local file': () => localParquet(),
  'sluice jsonl': (b: TestBucket) => sluice(b, 'jsonl'),
  'sluice parquet (zstd)': (b: TestBucket) => sluice(b, 'parquet'),
};
const samples: { [name: string]: number[] } = {};
for (let run = 0; run < runs; run++) {
  const bucket = await TestBucket.create('bench-s3');
  try {
    for (const [name, fn] of Object.entries(variants)) {
      const ms = await fn(bucket);
      samples[name] = [...(samples[name] ?? []), ms];
    }
  } finally {
    await bucket.dispose();
  }
}
await rm(localDir, { recursive: true, force: true });
const baseline = median(samples.bare ?? []);
const rows = Object.entries(samples).map(([name, ms]) => {
  const m = median(ms);
  return {
    variant: name,
    cpuMs: Math.round(m),
    recordsPerCpuSecond: Math.round(total / (m / 1000)),
    ratio: baseline / m,
  };
});
if (values.json) console.log(JSON.stringify({ records: total, runs, node: process.version, rows }, null, 2));
else {
  console.log(
    `${total} records, median of ${runs} runs, Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model}`,
  );
  for (const r of rows)
    console.log(
      `${r.variant.padEnd(26)} ${String(r.cpuMs).padStart(7)} CPU-ms  ${String(r.recordsPerCpuSecond).padStart(9)} records/CPU-s  ${r.ratio.toFixed(2)} × bare`,
    );
}
