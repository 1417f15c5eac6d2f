/**
 * The `postgres` sink's append path beside the server's own bulk path on the same rows: the sink
 * writing N records by COPY (in writes of `write` records, 1,000 by default as the runtime's
 * batches; `batch_size` rows a chunk, `delivery: at_least_once`; the checkpoint's commit and the
 * close timed too) against `psql \copy` of the same rows from a TSV file, each into a fresh table
 * of the same shape, on the test server. Prints rows per second (wall) and rows per CPU-second:
 * of the client alone (this process; psql's in a second, instrumented run) and of the client with
 * its server backend (read from /proc, so the server must run on this machine). With `warm` > 0
 * the sink first writes the rows that many times into a scratch table, untimed, so that the
 * timed pass runs compiled code as a long-running job does; by default it runs cold.
 *
 *   node packages/connectors/postgres/src/sink-bench.ts [rows] [batch_size] [write] [warm]
 *
 * With SLUICE_BENCH_PROFILE=FILE it writes a CPU profile of the sink's timed pass alone to FILE
 * (`node bench/profile-summary.ts FILE` summarizes it).
 */

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Row } from '@sluice/core';
import { columnText, copyField } from './encode.ts';
import { batchOf, openSink, PG_URL, TestSchema } from './test-support.ts';

const rows = Number(process.argv[2] ?? 200_000);
const batchSize = Number(process.argv[3] ?? 1000);
const writeSize = Number(process.argv[4] ?? 1000);
const warm = Number(process.argv[5] ?? 0);
const schema = new TestSchema();
const records: Row[] = Array.from({ length: rows }, (_v, i) => ({
  id: i,
  name: `record ${i}`,
  amount: i * 1.25,
  region: ['eu', 'us', 'ap'][i % 3],
}));
const shape = '(id bigint, name text, amount double precision, region text)';

/** CPU seconds (user + system) of a process from its /proc/PID/stat line (clock ticks of 10 ms). */
function statCpu(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

try {
  for (let pass = 0; pass < warm; pass++) {
    const scratch = schema.table('bench_warm');
    await schema.query(`CREATE TABLE ${scratch} ${shape}`);
    const sink = await openSink({ url: PG_URL, table: scratch, batch_size: batchSize });
    for (let from = 0; from < rows; from += writeSize)
      await sink.write(batchOf(records.slice(from, from + writeSize)));
    await sink.close();
    await schema.query(`DROP TABLE ${scratch}`);
  }
  const sinkTable = schema.table('bench_sink');
  await schema.query(`CREATE TABLE ${sinkTable} ${shape}`);
  const [{ now }] = await schema.query<{ now: Date }>('SELECT clock_timestamp() AS now');
  const sink = await openSink({ url: PG_URL, table: sinkTable, batch_size: batchSize });
  // The sink's backend: the one connection of its name opened since.
  const backends = await schema.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE application_name = 'sluice out' AND backend_start >= $1`,
    [now],
  );
  if (backends.length !== 1) throw new Error(`${backends.length} backends could be the sink’s`);
  const [backend] = backends;
  const backendCpu = () => statCpu(readFileSync(`/proc/${backend.pid}/stat`, 'utf8'));
  const backend0 = backendCpu();
  const profileFile = process.env.SLUICE_BENCH_PROFILE;
  const session = profileFile ? new Session() : undefined;
  if (session) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let from = 0; from < rows; from += writeSize)
    await sink.write(batchOf(records.slice(from, from + writeSize)));
  await sink.prepareCommit?.(1); // commits what is still open: part of the time
  const backendSeconds = backendCpu() - backend0;
  await sink.close();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  if (session && profileFile) {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    writeFileSync(profileFile, JSON.stringify(profile));
  }

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
  // Again, instrumented and not timed: psql's CPU (GNU time), and its backend's, read before and
  // after the \copy while it is connected.
  const psqlCpuTable = schema.table('bench_psql_cpu');
  await schema.query(`CREATE TABLE ${psqlCpuTable} ${shape}`);
  const script = join(dir, 'cpu.sql');
  writeFileSync(
    script,
    [
      'SELECT pg_backend_pid() AS pid \\gset',
      '\\setenv SLUICE_BACKEND :pid',
      '\\! cat /proc/$SLUICE_BACKEND/stat',
      `\\copy ${psqlCpuTable} FROM '${file}'`,
      '\\! cat /proc/$SLUICE_BACKEND/stat',
      '',
    ].join('\n'),
  );
  const run = spawnSync('/usr/bin/time', ['-f', 'cpu %U %S', 'psql', PG_URL, '-X', '-q', '-f', script], {
    encoding: 'utf8',
  });
  const stats = run.stdout.trim().split('\n');
  const timed = /cpu ([\d.]+) ([\d.]+)/.exec(run.stderr);
  if (run.status !== 0 || stats.length !== 2 || timed === null)
    throw new Error(`the instrumented psql run failed: ${run.stderr}`);
  const psqlCpu = Number(timed[1]) + Number(timed[2]);
  const psqlBackend = statCpu(stats[1]) - statCpu(stats[0]);
  rmSync(dir, { recursive: true, force: true });
  const [{ n }] = await schema.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sinkTable}`);
  if (n !== rows) throw new Error(`the sink wrote ${n} rows, not ${rows}`);

  const perSec = (rows / ms) * 1000;
  const psqlPerSec = (rows / psqlMs) * 1000;
  const k = (x: number) => `${(x / 1000).toFixed(0)}k`;
  console.log(
    `rows: ${rows}, batch_size: ${batchSize}, write: ${writeSize}, warm-up passes: ${warm}, node ${process.version}, load ${loadavg()[0].toFixed(1)}`,
  );
  console.log(
    `sink COPY:   ${k(perSec)} rows/s (${ms.toFixed(0)} ms); CPU ${cpuSeconds.toFixed(2)} s client + ${backendSeconds.toFixed(2)} s backend: ${k(rows / cpuSeconds)} rows per client CPU-s, ${k(rows / (cpuSeconds + backendSeconds))} per CPU-s with the backend`,
  );
  console.log(
    `psql \\copy:  ${k(psqlPerSec)} rows/s (${psqlMs.toFixed(0)} ms, psql's start included); CPU ${psqlCpu.toFixed(2)} s client + ${psqlBackend.toFixed(2)} s backend: ${k(rows / psqlCpu)} rows per client CPU-s, ${k(rows / (psqlCpu + psqlBackend))} per CPU-s with the backend`,
  );
  console.log(
    `ratio sink / psql: ${(perSec / psqlPerSec).toFixed(2)} rows/s, ${(psqlCpu / cpuSeconds).toFixed(2)} client CPU, ${((psqlCpu + psqlBackend) / (cpuSeconds + backendSeconds)).toFixed(2)} CPU with the backend`,
  );
} finally {
  await schema.drop();
}
