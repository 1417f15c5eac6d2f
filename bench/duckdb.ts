/**
 * DuckDB sink: the `duckdb` sink (`mode: append`, checkpoints every 10 writes) beside DuckDB's
 * own bulk paths on the same rows, each into a fresh database file:
 *
 * - `sluice` — `duckdbSink.create(…)`: `write` of batches of 1,024 records (staged
 *   through the Appender), `prepareCommit` + `commit` every 10 writes (each publishes the
 *   staged rows into the table in one transaction), `close`;
 * - `insert` — multi-row `INSERT … VALUES ($1, …)` of 500 rows each, autocommitted: the
 *   alternative to the Appender for staging;
 * - `appender` — the Appender API (`appendInteger`/`appendVarchar`/`appendDouble`, `endRow`),
 *   flushed and closed once: DuckDB's row-at-a-time bulk path;
 * - `copy` — `COPY t FROM 'rows.csv'`, the CSV written beforehand (not timed): DuckDB's bulk load.
 *
 * Rates are records per CPU-second of this process (DuckDB runs inside it, its threads included)
 * and per second of wall time; the variants alternate within each run and the median of `--runs`
 * is reported.
 *
 *   node bench/duckdb.ts [--records 100000] [--runs 5] [--json]
 */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { type Row, silentLogger, systemClock, validateConfig } from '@sluice/core';
import { duckdbSink } from '@sluice/duckdb';
import type { Static } from 'typebox';
import { measure, median } from './measure.ts';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '100000' },
    runs: { type: 'string', default: '5' },
    json: { type: 'boolean', default: false },
  },
});
const records = Number(values.records);
const runs = Number(values.runs);
const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-duckdb-'));
const REGIONS = ['eu-west', 'us-east', 'ap-south', 'sa-east'];
const data: Row[] = Array.from({ length: records }, (_v, i) => ({
  id: i,
  region: REGIONS[i % REGIONS.length],
  amount: Math.round(i * 7.31) / 100,
}));
const TABLE = 'CREATE TABLE t (id INTEGER, region VARCHAR, amount DOUBLE)';
let files = 0;
const fresh = () => join(dir, `db-${++files}.duckdb`);

async function count(path: string): Promise<number> {
  const db = await DuckDBInstance.fromCache(path);
  const conn = await db.connect();
  const n = Number((await conn.runAndReadAll('SELECT count(*) AS n FROM t')).getRowObjectsJS()[0].n);
  conn.closeSync();
  return n;
}

async function sluice(): Promise<number> {
  const path = fresh();
  const config = validateConfig<Static<typeof duckdbSink.config>>(duckdbSink.config, {
    path,
    table: 't',
    create_table: true,
    columns: { id: 'INTEGER', region: 'VARCHAR', amount: 'DOUBLE' },
  });
  if (!config.ok) throw new Error(JSON.stringify(config.issues));
  const sink = duckdbSink.create(config.value);
  await sink.open({
    id: 'out',
    pipeline: 'bench',
    restored: undefined,
    clock: systemClock,
    baseDir: dir,
    signal: new AbortController().signal,
    log: silentLogger,
  });
  let checkpoint = 0;
  for (let from = 0, n = 0; from < records; from += 1024, n++) {
    const batch = data.slice(from, from + 1024);
    await sink.write({ records: batch, times: batch.map(() => 0) });
    if (n % 10 === 9) {
      await sink.prepareCommit?.(++checkpoint);
      await sink.commit?.(checkpoint);
    }
  }
  await sink.close();
  return count(path);
}

async function insert(): Promise<number> {
  const path = fresh();
  const conn = await (await DuckDBInstance.fromCache(path)).connect();
  await conn.run(TABLE);
  for (let from = 0; from < records; from += 500) {
    const rows = data.slice(from, from + 500);
    const params = rows.flatMap((r) => [BigInt(r.id as number), r.region as string, r.amount as number]);
    const tuples = rows.map((_r, i) => `($${i * 3 + 1}, $${i * 3 + 2}, $${i * 3 + 3})`).join(', ');
    await conn.run(`INSERT INTO t VALUES ${tuples}`, params);
  }
  conn.closeSync();
  return count(path);
}

async function appender(): Promise<number> {
  const path = fresh();
  const conn = await (await DuckDBInstance.fromCache(path)).connect();
  await conn.run(TABLE);
  const app = await conn.createAppender('t');
  for (const r of data) {
    app.appendInteger(r.id as number);
    app.appendVarchar(r.region as string);
    app.appendDouble(r.amount as number);
    app.endRow();
  }
  app.flushSync();
  app.closeSync();
  conn.closeSync();
  return count(path);
}

const csv = join(dir, 'rows.csv');
writeFileSync(csv, `id,region,amount\n${data.map((r) => `${r.id},${r.region},${r.amount}`).join('\n')}\n`);

async function copy(): Promise<number> {
  const path = fresh();
  const conn = await (await DuckDBInstance.fromCache(path)).connect();
  await conn.run(TABLE);
  await conn.run(`COPY t FROM '${csv}' (HEADER)`);
  conn.closeSync();
  return count(path);
}

const variants = { sluice, insert, appender, copy };
const results: { [name: string]: { cpu: number[]; wall: number[] } } = {};
for (let run = 0; run < runs; run++)
  for (const [name, fn] of Object.entries(variants)) {
    const m = await measure(fn);
    if (m.output !== records) throw new Error(`${name} wrote ${m.output} rows, not ${records}`);
    results[name] ??= { cpu: [], wall: [] };
    results[name].cpu.push(records / (m.cpuMs / 1000));
    results[name].wall.push(records / (m.wallMs / 1000));
  }
rmSync(dir, { recursive: true, force: true });

const summary = Object.fromEntries(
  Object.entries(results).map(([name, r]) => [
    name,
    { perCpuSecond: Math.round(median(r.cpu)), perSecond: Math.round(median(r.wall)) },
  ]),
);
if (values.json) process.stdout.write(`${JSON.stringify({ records, runs, summary })}\n`);
else {
  process.stdout.write(
    `${records} records × ${runs} runs, ${cpus().length} CPUs (${cpus()[0]?.model}), load ${loadavg()[0].toFixed(1)}, Node ${process.version}\n`,
  );
  for (const [name, s] of Object.entries(summary))
    process.stdout.write(
      `${name.padEnd(9)} ${s.perCpuSecond.toLocaleString('en').padStart(12)} rec/CPU-s ${s.perSecond.toLocaleString('en').padStart(12)} rec/s\n`,
    );
}
