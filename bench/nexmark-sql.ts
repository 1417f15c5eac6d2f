/**
 * Nexmark in SQL beside the hand-written YAML: each query of `packages/sql/src/nexmark` (as
 * Flink's reference suite writes it, over the `nexmark` source) and, where the benchmark has one,
 * its YAML version (`nexmark-queries.ts`), run alternately in this process into `discard` with
 * the same settings (no checkpoints, batches of 1024); medians of events per CPU-second and per
 * wall-clock second. Where the SQL plans another operator than the YAML (q5 and q7 join with a
 * regular join, as Flink's SQL is written, where the YAML uses a window or interval join), the
 * figures show what that costs.
 *
 *   node bench/nexmark-sql.ts [--events 2000000] [--events-per-second 100000] [--runs 3] [--only q7,q9] [--skip q19]
 */

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { builtins, Job, type Plan, parsePipelineYaml, Registry } from '@sluice/core';
import { compileSql } from '@sluice/sql';
import { measure, median } from './measure.ts';
import { defineNexmarkFunctions, nexmarkMoreSteps, nexmarkSteps } from './nexmark-queries.ts';
import { SCRATCH_DIR } from './scratch-dir.ts';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '2000000' },
    'events-per-second': { type: 'string', default: '100000' },
    runs: { type: 'string', default: '3' },
    only: { type: 'string' },
    skip: { type: 'string' },
  },
});
const EVENTS = Number(args.events);
const EVENTS_PER_SECOND = Number(args['events-per-second']);
const RUNS = Number(args.runs);
const SEED = 1;
const registry = new Registry([builtins]);
// q14 calls count_char, defined here as the tests define it.
defineNexmarkFunctions();
const queries = [
  ...['q0', 'q1', 'q2', 'q3', 'q4', 'q5', 'q7', 'q8', 'q9', 'q11', 'q12', 'q13', 'q14', 'q15', 'q16'],
  ...['q17', 'q18', 'q19', 'q20', 'q21', 'q22'],
].filter(
  (q) =>
    (args.only === undefined || args.only.split(',').includes(q)) &&
    (args.skip === undefined || !args.skip.split(',').includes(q)),
);

const dir = join(import.meta.dirname, '../packages/sql/src/nexmark');
const tables = readFileSync(join(dir, 'tables.sql'), 'utf8')
  .replace('{{EVENTS}}', String(EVENTS))
  .replace('{{EVENTS_PER_SECOND}}', String(EVENTS_PER_SECOND))
  .replace('{{SEED}}', String(SEED));

/** q13's side table, as the reference suite's generator writes it: rows (i, 'i') for i < 10,000. */
const SIDE_INPUT = join(SCRATCH_DIR, 'side_input.jsonl');
writeFileSync(
  SIDE_INPUT,
  Array.from({ length: 10_000 }, (_, i) => `${JSON.stringify({ key: i, value: String(i) })}\n`).join(''),
);

function yamlPlan(steps: string): Plan {
  const text = `
name: nexmark-yaml
settings: { checkpoint: { interval: 0s, dir: ${SCRATCH_DIR} }, batch_size: 1024 }
sources:
  events:
    type: nexmark
    events: ${EVENTS}
    events_per_second: ${EVENTS_PER_SECOND}
    seed: ${SEED}
steps:${steps}
sinks:
  out: { type: discard }
`;
  return parsePipelineYaml(text, join(SCRATCH_DIR, 'pipeline.yaml'), { registry });
}

/** The SQL query's plan, with the YAML's settings (the same batch size, no checkpoints). */
function sqlPlan(q: string): Plan {
  const query = readFileSync(join(dir, `${q}.sql`), 'utf8')
    .replace('{{SINK}}', "'connector' = 'discard'")
    .replace('{{SIDE_INPUT}}', SIDE_INPUT);
  const plan = compileSql(`${tables}\n${query}`, join(SCRATCH_DIR, `${q}.sql`), { registry });
  return { ...plan, settings: yamlPlan(nexmarkSteps.q0).settings };
}

async function run(plan: Plan): Promise<number> {
  const job = await Job.create(plan, { registry, fromScratch: true });
  const result = await job.run();
  if (result.status !== 'completed') throw new Error(`the job ended ${result.status}`);
  return result.metrics.recordsIn;
}

const rows: string[] = [];
for (const q of queries) {
  const yamlSteps = (
    { ...nexmarkSteps, ...nexmarkMoreSteps } as { readonly [q: string]: string | undefined }
  )[q];
  const sql: { cpu: number; wall: number }[] = [];
  const yaml: { cpu: number; wall: number }[] = [];
  for (let i = 0; i < RUNS; i++) {
    const s = await measure(() => run(sqlPlan(q)));
    sql.push({ cpu: EVENTS / (s.cpuMs / 1000), wall: EVENTS / (s.wallMs / 1000) });
    if (yamlSteps !== undefined) {
      const y = await measure(() => run(yamlPlan(yamlSteps)));
      yaml.push({ cpu: EVENTS / (y.cpuMs / 1000), wall: EVENTS / (y.wallMs / 1000) });
    }
  }
  const k = (n: number) => `${Math.round(n / 1000)}k`;
  const sqlCpu = median(sql.map((m) => m.cpu));
  const yamlCpu = median(yaml.map((m) => m.cpu));
  rows.push(
    `| ${q} | ${k(sqlCpu)} | ${k(median(sql.map((m) => m.wall)))} | ${yaml.length > 0 ? k(yamlCpu) : '—'} | ${yaml.length > 0 ? (sqlCpu / yamlCpu).toFixed(2) : '—'} |`,
  );
}
process.stdout.write(
  `Nexmark, ${EVENTS} events at ${EVENTS_PER_SECOND} events/s of event time, ${RUNS} runs (medians)\n\n| query | SQL events/CPU-s | SQL events/s (wall) | YAML events/CPU-s | SQL / YAML |\n|---|---|---|---|---|\n${rows.join('\n')}\n`,
);
