/**
 * Nexmark q0, q1, q2, q3, q5, q7 and q8 as Flink's reference suite writes them in SQL
 * (`nexmark/*.sql`, over the tables of `nexmark/tables.sql`) give, on the same generated events,
 * what the hand-written YAML versions give: the benchmark's (`bench/nexmark-queries.ts`) for q0,
 * q2, q5, q7 and q8 (`nexmarkSteps`), q1 and q3 (`nexmarkMoreSteps`). Where the SQL plans a regular join
 * (q3, q5, q7), its changelog is folded into the table it leaves (q8, two window aggregates
 * joined on their bounds, is a window join: its rows are appended, each once); where the SQL's result has
 * other columns than the YAML's (q5 and q7 select fewer, q8 groups persons per window where the
 * YAML joins each pair), the YAML rows are brought to the SQL's form first.
 */

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Job, parsePipelineYaml, type Row } from '@sluice/core';
import { rowText } from '@sluice/core/testing';
import { nexmarkMoreSteps, nexmarkSteps } from '../../../bench/nexmark-queries.ts';
import { finalTables, outputs, registry, resolveSql, runPlan } from './test-support.ts';

/** 30 s of event time: q5's and q7's windows fill, q8's persons open auctions. */
const EVENTS = 30_000;
const EVENTS_PER_SECOND = 1_000;
const SEED = 5;

const dir = mkdtempSync(join(tmpdir(), 'sluice-sql-nexmark-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const here = join(import.meta.dirname, 'nexmark');
const tables = readFileSync(join(here, 'tables.sql'), 'utf8')
  .replace('{{EVENTS}}', String(EVENTS))
  .replace('{{EVENTS_PER_SECOND}}', String(EVENTS_PER_SECOND))
  .replace('{{SEED}}', String(SEED));

/** The rows the SQL version of query `q` leaves in its table, as `rowText` strings, sorted. */
async function runSql(q: string, updating: boolean): Promise<string[]> {
  const out = join(dir, q);
  const sink = `'connector' = 'file', 'path' = './out/${q}.jsonl'${updating ? ", 'changelog' = 'debezium'" : ''}`;
  const text = `${tables}\n${readFileSync(join(here, `${q}.sql`), 'utf8').replace('{{SINK}}', sink)}`;
  await runPlan(resolveSql(text, join(out, `${q}.sql`)));
  const written = outputs(out);
  const rows = updating ? finalTables(written)[`${q}.jsonl`] : (written[`${q}.jsonl`] ?? []);
  return rows.map((r) => rowText(JSON.parse(r) as Row)).sort();
}

/** The rows the YAML `steps` write, each passed through `shape`. */
async function runYaml(name: string, steps: string, shape: (row: Row) => Row = (r) => r): Promise<Row[]> {
  const file = join(dir, name, 'pipeline.yaml');
  const text = `
name: nexmark-${name}
sources:
  events:
    type: nexmark
    events: ${EVENTS}
    events_per_second: ${EVENTS_PER_SECOND}
    seed: ${SEED}
steps:${steps}
sinks:
  out: { type: file, path: ./out.jsonl }
`;
  const job = await Job.create(parsePipelineYaml(text, file, { registry }), { registry });
  const result = await job.run();
  assert.equal(result.status, 'completed');
  return readFileSync(join(dir, name, 'out.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => shape(JSON.parse(l) as Row));
}

const texts = (rows: readonly Row[]) => rows.map(rowText).sort();

const { q1: q1Steps, q3: q3Steps } = nexmarkMoreSteps;

test('Nexmark q0 and q1 in SQL pass the bids through, q1 converting the price, as the YAML does', async () => {
  const q0 = await runSql('q0', false);
  assert.ok(q0.length > 25_000, `q0 gave ${q0.length} bids`);
  assert.deepEqual(q0, texts(await runYaml('q0', nexmarkSteps.q0)));
  assert.deepEqual(await runSql('q1', false), texts(await runYaml('q1', q1Steps)));
});

test('Nexmark q2 in SQL selects the bids the YAML selects', async () => {
  const q2 = await runSql('q2', false);
  assert.ok(q2.length > 0, 'q2 selected no bid');
  assert.deepEqual(q2, texts(await runYaml('q2', nexmarkSteps.q2)));
});

test('Nexmark q3 in SQL (a regular join with WHERE) leaves the table the YAML join leaves', async () => {
  const q3 = await runSql('q3', true);
  assert.ok(q3.length > 0, 'q3 joined no auction');
  assert.deepEqual(q3, texts(await runYaml('q3', q3Steps)));
});

test('Nexmark q5 in SQL (hopping counts joined with their maxima) gives the hot items the YAML gives', async () => {
  const q5 = await runSql('q5', true);
  assert.ok(q5.length > 0, 'q5 found no hot item');
  const yaml = await runYaml('q5', nexmarkSteps.q5, (r) => ({ auction: r.auction, num: r.bids }));
  assert.deepEqual(q5, texts(yaml));
});

test('Nexmark q7 in SQL (a join with each window’s maximum price) finds the bids the YAML finds', async () => {
  const q7 = await runSql('q7', true);
  assert.ok(q7.length > 0, 'q7 found no bid');
  const sql = q7.map((t) => {
    const { extra: _, ...row } = JSON.parse(t) as Row;
    return rowText(row);
  });
  assert.deepEqual(sql.sort(), texts(await runYaml('q7', nexmarkSteps.q7)));
});

test('Nexmark q8 in SQL gives the new sellers of each window the YAML window join gives', async () => {
  const q8 = await runSql('q8', false);
  assert.ok(q8.length > 0, 'q8 found no new seller');
  const yaml = await runYaml('q8', nexmarkSteps.q8, (r) => ({ id: r.id, name: r.name, stime: r.starttime }));
  assert.deepEqual(q8, [...new Set(texts(yaml))]);
});
