/**
 * PostgreSQL change data capture: the `postgres` source → discard, beside the replication client
 * library's own loop over the same changes (target: Sluice at least 70% of the bare client loop
 * in records per CPU-second).
 *
 * The benchmark process makes a table and one logical replication slot per consumer and run
 * (all before any change, so every slot holds the same changes), then inserts `--records` rows in
 * transactions of 1,000. Each consumer then reads all of them from its own slot in a Node process
 * of its own, measured by its own CPU time (user + system):
 *
 * - `bare` — `pg-logical-replication`'s service with the `pgoutput` plugin, counting the inserts
 *   (the decoded rows are what the library gives): the ceiling;
 * - `sluice` — a Sluice job: `postgres` source (`snapshot: never`, the slot made beforehand,
 *   whole transactions handed out, LSNs confirmed at checkpoints) → `discard`.
 *
 * The consumer's clock runs from its first row to its last. The programs alternate within each
 * run; the median of `--runs` is reported. Needs PostgreSQL with `wal_level = logical` on
 * 127.0.0.1:5432 (`scripts/services.sh up`).
 *
 *   node bench/postgres-cdc.ts [--records 100000] [--runs 3]
 */

import { cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { builtins, createLogger, Job, parsePipelineYaml, Registry } from '@sluice/core';
import { postgres } from '@sluice/postgres';
import pg from 'pg';
import { LogicalReplicationService, type Pgoutput, PgoutputPlugin } from 'pg-logical-replication';
import { cpuMsSince, measureJobUntilRead, median, runChild } from './measure.ts';
import { SCRATCH_DIR } from './scratch-dir.ts';

const URL = process.env.SLUICE_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const VARIANTS = ['bare', 'sluice'] as const;
type Variant = (typeof VARIANTS)[number];

interface Measurement {
  cpuMs: number;
  wallMs: number;
  records: number;
}

interface ChildJob {
  variant: Variant;
  table: string;
  slot: string;
  publication: string;
  records: number;
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** The library's own loop: every insert counted, the slot confirmed once at the end. */
async function bareLoop(job: ChildJob): Promise<Measurement> {
  const service = new LogicalReplicationService(
    { connectionString: URL },
    { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: true } },
  );
  let seen = 0;
  let cpu0 = process.cpuUsage();
  let t0 = performance.now();
  let measured: Measurement | undefined;
  const done = new Promise<void>((resolve) => {
    service.on('data', (lsn: string, message: Pgoutput.Message) => {
      if (message.tag !== 'insert' || measured !== undefined) return;
      if (++seen === 1) {
        cpu0 = process.cpuUsage();
        t0 = performance.now();
      }
      if (seen === job.records) {
        measured = { cpuMs: cpuMsSince(cpu0), wallMs: performance.now() - t0, records: seen - 1 };
        void service.acknowledge(lsn).then(() => resolve());
      }
    });
  });
  service.on('error', () => {});
  void service
    .subscribe(new PgoutputPlugin({ protoVersion: 1, publicationNames: [job.publication] }), job.slot)
    .catch(() => {});
  await done;
  await service.destroy();
  return measured!;
}

/** The Sluice job, stopped (drain, final checkpoint) once every row has been read. */
async function sluiceJob(job: ChildJob): Promise<Measurement> {
  const registry = new Registry([builtins, postgres]);
  const yaml = `
name: bench-pg-cdc-${process.pid}
settings: { checkpoint: { interval: 5s, dir: ${SCRATCH_DIR} } }
sources:
  in:
    type: postgres
    url: "${URL}"
    table: public.${job.table}
    key: [id]
    slot: ${job.slot}
    publication: ${job.publication}
    snapshot: never
sinks:
  out: { type: discard }
`;
  const plan = parsePipelineYaml(yaml, `${SCRATCH_DIR}/pipeline.yaml`, { registry });
  const log = createLogger({ level: 'warn', format: 'text' });
  const running = await Job.create(plan, { registry, fromScratch: true, log });
  return measureJobUntilRead(running, job.records);
}

async function child(job: ChildJob): Promise<void> {
  const m = job.variant === 'sluice' ? await sluiceJob(job) : await bareLoop(job);
  say(`RESULT ${JSON.stringify(m)}`);
}

async function orchestrate(): Promise<void> {
  const { values } = parseArgs({
    options: {
      records: { type: 'string', default: '100000' },
      runs: { type: 'string', default: '3' },
    },
  });
  const records = Number(values.records);
  const runs = Number(values.runs);
  const table = `sluice_bench_cdc_${process.pid}_${Date.now().toString(36)}`;
  const publication = `${table}_pub`;
  const client = new pg.Client({ connectionString: URL });
  await client.connect();
  const slots: string[] = [];
  try {
    await client.query(
      `CREATE TABLE ${table} (id int PRIMARY KEY, device text, temperature double precision, humidity double precision, ts bigint, site text, note text)`,
    );
    await client.query(`CREATE PUBLICATION ${publication} FOR TABLE ${table}`);
    for (let r = 0; r < runs; r++)
      for (const variant of VARIANTS) {
        const slot = `${table}_${r}_${variant}`;
        await client.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
        slots.push(slot);
      }
    for (let i = 0; i < records; i += 1000)
      await client.query(
        `INSERT INTO ${table} SELECT i, 'sensor-' || (i * 7919 % 1000), (i * 7.31) % 40, (i * 3.17) % 100,
           1767225600000 + i, (ARRAY['north','south','east','west'])[i % 4 + 1], 'lorem ipsum dolor sit amet'
           FROM generate_series($1::int, $2::int) AS i`,
        [i, Math.min(records, i + 1000) - 1],
      );
    const rates = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
    const walls = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
    const load0 = loadavg()[0];
    for (let r = 0; r < runs; r++)
      for (const variant of VARIANTS) {
        const job: ChildJob = { variant, table, slot: `${table}_${r}_${variant}`, publication, records };
        const m = await runChild<Measurement>(import.meta.filename, job);
        if (m.records < records / 2) throw new Error(`${variant} measured ${m.records} of ${records}`);
        rates.get(variant)?.push(m.records / (m.cpuMs / 1000));
        walls.get(variant)?.push(m.records / (m.wallMs / 1000));
      }
    const bare = median(rates.get('bare') ?? []);
    const sluice = median(rates.get('sluice') ?? []);
    say(
      `postgres CDC source, ${records} inserted rows (transactions of 1,000), median of ${runs}; ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${Math.round(totalmem() / 2 ** 30)} GiB, load ${load0.toFixed(1)} → ${loadavg()[0].toFixed(1)}`,
    );
    for (const v of VARIANTS)
      say(
        `  ${v.padEnd(8)} ${String(Math.round(median(rates.get(v) ?? []))).padStart(9)} rec/CPU-s  ${String(Math.round(median(walls.get(v) ?? []))).padStart(9)} rec/s wall`,
      );
    say(`  sluice / bare: ${(sluice / bare).toFixed(2)}`);
  } finally {
    for (const slot of slots)
      await client.query('SELECT pg_drop_replication_slot($1)', [slot]).catch(() => {});
    await client.query(`DROP PUBLICATION IF EXISTS ${publication}`).catch(() => {});
    await client.query(`DROP TABLE IF EXISTS ${table}`).catch(() => {});
    await client.end();
  }
}

const childIndex = process.argv.indexOf('--child');
if (childIndex >= 0) await child(JSON.parse(process.argv[childIndex + 1] ?? '{}') as ChildJob);
else await orchestrate();
