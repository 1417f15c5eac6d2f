/**
 * The `postgres` sink's append path beside the server's own bulk path on the same rows: the sink
 * writing N records by COPY (in writes of `write` records, 1,000 by default as the runtime's
 * batches; `batch_size` rows a statement, `delivery: at_least_once`; its close, which commits what is still open, timed too) against `psql \copy` of the same rows
 * from a TSV file, each into a fresh table of the same shape, on the test server. Prints rows per second and per CPU-second of this process.
 *
 *   node packages/connectors/postgres/src/sink-bench.ts [rows] [batch_size] [write]
 */

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Row } from '@sluice/core';
import { columnText, copyField } from './encode.ts';
import { batchOf, openSink, PG_URL, TestSchema } from './test-support.ts';

const rows = Number(process.argv[2] ?? 200_000);
const batchSize = Number(process.argv[3] ?? 1000);
const writeSize = Number(process.argv[4] ?? 1000);
const schema = new TestSchema();
const records: Row[] = Array.from({ length: rows }, (_v, i) => ({
  id: i,
  name: `record ${i}`,
  amount: i * 1.25,
  region: ['eu', 'us', 'ap'][i % 3],
}));
const shape = '(id bigint, name text, amount double precision, region text)';

try {
  const sinkTable = schema.table('bench_sink');
  await schema.query(`CREATE TABLE ${sinkTable} ${shape}`);
  const sink = await openSink({ url: PG_URL, table: sinkTable, batch_size: batchSize });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let from = 0; from < rows; from += writeSize)
    await sink.write(batchOf(records.slice(from, from + writeSize)));
  await sink.close(); // commits what is still open: part of the time
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;

  const dir = mkdtempSync(join(tmpdir(), 'sluice-pg-bench-'));
  const file = join(dir, 'rows.tsv');
  writeFileSync(
    file,
    records
      .map((r) => [r.id, r.name, r.amount, r.region].map((v) => copyField(columnText(v, 'other'))).join('\t'))
      .join('\n') + '\n',
  );
  const psqlTable = schema.table('bench_psql');
  await schema.query(`CREATE TABLE ${psqlTable} ${shape}`);
  const p0 = performance.now();
  execFileSync('psql', [PG_URL, '-q', '-c', `\\copy ${psqlTable} FROM '${file}'`], { stdio: 'inherit' });
  const psqlMs = performance.now() - p0;
  rmSync(dir, { recursive: true, force: true });
  const [{ n }] = await schema.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sinkTable}`);
  if (n !== rows) throw new Error(`the sink wrote ${n} rows, not ${rows}`);

  const perSec = (rows / ms) * 1000;
  const psqlPerSec = (rows / psqlMs) * 1000;
  console.log(`rows: ${rows}, batch_size: ${batchSize}, write: ${writeSize}, node ${process.version}`);
  console.log(
    `sink COPY:   ${perSec.toFixed(0)} rows/s (${ms.toFixed(0)} ms), ${(rows / cpuSeconds).toFixed(0)} rows per CPU-second of the sink's process`,
  );
  console.log(
    `psql \\copy:  ${psqlPerSec.toFixed(0)} rows/s (${psqlMs.toFixed(0)} ms, psql started included)`,
  );
  console.log(`ratio sink / psql: ${(perSec / psqlPerSec).toFixed(2)}`);
} finally {
  await schema.drop();
}
