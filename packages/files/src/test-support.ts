/**
 * Helpers for the tests of the file-writing sinks: opening one outside a job, seeded records of
 * every shape the Parquet writer maps, and DuckDB (an independent reader) reading Parquet files
 * back. Not a public API.
 */

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Clock,
  type Logger,
  type Row,
  type Sink,
  type SinkSpec,
  silentLogger,
  systemClock,
  validateConfig,
} from '@sluice/core';
import { seededRandom } from '@sluice/core/testing';
import type { Static, TSchema } from 'typebox';

/** Seeded records with nested objects, lists, nulls and both kinds of numbers. */
export function mixedRecords(n: number, seed: number): Row[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, (_, i) => ({
    id: i,
    name: `record ${i}`,
    amount: Math.round(random() * 100_000) / 100,
    region: ['EU', 'US', 'APAC'][Math.floor(random() * 3)] ?? 'EU',
    ok: random() < 0.5,
    note: random() < 0.2 ? null : `n${Math.floor(random() * 10)}`,
    tags: Array.from({ length: Math.floor(random() * 4) }, (_, j) => `t${j}`),
    geo: { lat: Math.round(random() * 9000) / 100, lon: Math.round(random() * 18000) / 100 },
  }));
}

/** Records ordered by their `id` field. */
export function byId(rows: readonly { [k: string]: unknown }[]): { [k: string]: unknown }[] {
  return [...rows].sort((a, b) => Number(a.id) - Number(b.id));
}

/** What DuckDB reads from Parquet files: their rows, and the metadata of their column chunks. */
export interface ParquetReadBack {
  /** Every row, files in the order given, as DuckDB's JSON of it. */
  records: { [k: string]: unknown }[];
  columns: { path: string; compression: string; min: string | null; max: string | null }[];
}

/**
 * Reads Parquet files (their bytes, in order) with DuckDB from local copies: the rows (columns
 * matched by name across files) and each column chunk's codec and min/max statistics.
 */
export async function readParquetWithDuckdb(files: readonly Uint8Array[]): Promise<ParquetReadBack> {
  if (files.length === 0) return { records: [], columns: [] };
  const dir = await mkdtemp(join(tmpdir(), 'sluice-parquet-'));
  try {
    const paths: string[] = [];
    for (const [i, bytes] of files.entries()) {
      const path = join(dir, `${String(i).padStart(6, '0')}.parquet`);
      await writeFile(path, bytes);
      paths.push(path);
    }
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const db = await DuckDBInstance.create(':memory:', { threads: '1' });
    const connection = await db.connect();
    try {
      const list = `[${paths.map((f) => `'${f}'`).join(', ')}]`;
      const rows = await connection.runAndReadAll(
        `SELECT to_json(t)::VARCHAR AS j FROM read_parquet(${list}, union_by_name = true) t`,
      );
      const records = rows.getRows().map((r) => JSON.parse(String(r[0])) as { [k: string]: unknown });
      const meta = await connection.runAndReadAll(
        `SELECT path_in_schema, compression, stats_min_value, stats_max_value FROM parquet_metadata(${list})`,
      );
      const columns = meta.getRows().map((r) => ({
        path: String(r[0]),
        compression: String(r[1]),
        min: r[2] === null ? null : String(r[2]),
        max: r[3] === null ? null : String(r[3]),
      }));
      return { records, columns };
    } finally {
      connection.closeSync();
      db.closeSync();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Opens the sink of `spec` outside a job with `options` (defaults applied), as step `id` of
 * `pipeline`, resuming from `restored` when given.
 */
export async function openSink<S extends TSchema>(
  spec: SinkSpec<S>,
  options: { [k: string]: unknown },
  job: { pipeline: string; id?: string; restored?: unknown; clock?: Clock; log?: Logger },
): Promise<Sink> {
  const checked = validateConfig<Static<S>>(spec.config, options);
  if (!checked.ok) throw new Error(`invalid ${spec.type} config: ${JSON.stringify(checked.issues)}`);
  const sink = spec.create(checked.value);
  await sink.open({
    id: job.id ?? 'out',
    pipeline: job.pipeline,
    restored: job.restored,
    clock: job.clock ?? systemClock,
    baseDir: process.cwd(),
    signal: new AbortController().signal,
    log: job.log ?? silentLogger,
  });
  return sink;
}

/**
 * The Parquet read-back tests' run: writes `records` (all at event time `time`) in batches of
 * 700, with a completed checkpoint after the third batch and another at the end, and closes the
 * sink.
 */
export async function writeWithTwoCheckpoints(
  sink: Sink,
  records: readonly Row[],
  time: number,
): Promise<void> {
  for (let from = 0; from < records.length; from += 700) {
    const chunk = records.slice(from, from + 700);
    await sink.write({ records: chunk, times: chunk.map(() => time) });
    if (from === 1400) {
      await sink.prepareCommit?.(1);
      await sink.commit?.(1);
    }
  }
  await sink.prepareCommit?.(2);
  await sink.commit?.(2);
  await sink.close();
}

/**
 * Checks what DuckDB read back from `files` Parquet files: the input records (in any order), every
 * column chunk compressed with `compression`, and min/max statistics of `id` in each file.
 */
export function assertParquetReadBack(
  read: ParquetReadBack,
  input: readonly Row[],
  compression: string,
  files: number,
): void {
  assert.deepEqual(byId(read.records), byId(input));
  const codec = compression.toUpperCase();
  assert.ok(
    read.columns.every((c) => c.compression === codec),
    `every column chunk is ${codec}`,
  );
  const ids = read.columns.filter((c) => c.path === 'id');
  assert.ok(
    ids.length === files && ids.every((c) => c.min !== null && c.max !== null),
    'id has min/max statistics in every file',
  );
}
