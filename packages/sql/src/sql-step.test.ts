/**
 * The `sql` step of a YAML pipeline (`sql-step.ts`): its query over the step's inputs gives what a
 * plain loop over the same records gives (a window aggregation, a join of two inputs, an updating
 * GROUP BY folded from its changelog), at batch sizes 1, 7 and 1000; it plans the steps the same
 * query in a `.sql` script plans; and its errors name the step, the option and the place in the
 * query.
 */

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  builtins,
  file,
  fileSink,
  Job,
  type Plan,
  parsePipelineYaml,
  pipeline,
  Registry,
  resolvePlan,
  SluiceError,
} from '@sluice/core';
import { sql } from './sql-step.ts';
import { finalTables, outputs, resolveSql } from './test-support.ts';

const registry = new Registry([builtins, sql]);
const dir = mkdtempSync(join(tmpdir(), 'sluice-sql-step-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Order {
  readonly id: number;
  readonly region: string;
  readonly amount: number;
  readonly ts: number;
}

/** Orders out of order by up to 2 s, so the watermark matters; regions as a lookup table. */
const orders: Order[] = Array.from({ length: 300 }, (_, i) => ({
  id: i,
  region: ['eu', 'us', 'apac'][(i * 7) % 3],
  amount: (i * 37) % 101,
  ts: i * 100 + ((i * 53) % 20) * 100,
}));
writeFileSync(join(dir, 'orders.jsonl'), orders.map((o) => `${JSON.stringify(o)}\n`).join(''));

const head = `name: sql-step
sources:
  orders:
    type: file
    path: ./orders.jsonl
    format: json
    event_time: { field: ts, max_out_of_orderness: 2s }
`;

function plan(yaml: string): Plan {
  return parsePipelineYaml(yaml, join(dir, 'pipeline.yaml'), { registry });
}

async function run(yaml: string, batchSize: number): Promise<{ [file: string]: string[] }> {
  rmSync(join(dir, 'out'), { recursive: true, force: true });
  rmSync(join(dir, '.sluice'), { recursive: true, force: true });
  const p = plan(yaml);
  const job = await Job.create(
    { ...p, settings: { ...p.settings, batchSize } },
    { registry, fromScratch: true },
  );
  assert.equal((await job.run()).status, 'completed');
  return outputs(dir);
}

const rows = (lines: readonly string[] = []) => lines.map((l) => JSON.stringify(JSON.parse(l))).sort();

test('a sql step’s tumbling window aggregation equals a plain loop at batch sizes 1, 7 and 1000', async () => {
  const yaml = `${head}steps:
  - id: per_region
    type: sql
    input: orders
    columns: { orders: [id, region, amount, ts] }
    query: |
      SELECT region, window_start, count(*) AS n, sum(amount) AS total
      FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(ts), INTERVAL '5' SECOND))
      WHERE amount > 10
      GROUP BY region, window_start, window_end
sinks:
  out: { type: file, input: per_region, path: ./out/per-region.jsonl }
`;
  const groups = new Map<string, { region: string; window_start: number; n: number; total: number }>();
  for (const o of orders) {
    if (o.amount <= 10) continue;
    const start = o.ts - (o.ts % 5000);
    const g = groups.get(`${o.region}/${start}`) ?? { region: o.region, window_start: start, n: 0, total: 0 };
    g.n++;
    g.total += o.amount;
    groups.set(`${o.region}/${start}`, g);
  }
  const want = [...groups.values()].map((g) => JSON.stringify(g)).sort();
  assert.ok(want.length > 10, `${want.length} windows`);
  for (const batchSize of [1, 7, 1000])
    assert.deepEqual(rows((await run(yaml, batchSize))['per-region.jsonl']), want, `batches of ${batchSize}`);
});

test('a sql step plans the steps the same query in a .sql script plans, its last one under the step’s id', () => {
  const query = `SELECT region, amount * 2 AS doubled FROM orders WHERE amount > 50`;
  const steps = resolvePlan(
    plan(`${head}steps:
  - { id: big, type: sql, input: orders, columns: { orders: [id, region, amount, ts] }, query: '${query}' }
sinks:
  out: { type: discard, input: big }
`),
    registry,
  ).steps.map((s) => [s.id, s.type, s.inputs, s.config]);
  const script = resolveSql(
    `CREATE TABLE orders (id DOUBLE, region STRING, amount DOUBLE, ts DOUBLE, WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
WITH ('connector' = 'file', 'path' = './orders.jsonl', 'format' = 'json');
CREATE TABLE big (region STRING, doubled DOUBLE) WITH ('connector' = 'discard');
INSERT INTO big ${query};`,
    join(dir, 'q.sql'),
  ).steps.map((s) => [s.id === 'big-select' ? 'big' : s.id, s.type, s.inputs, s.config]);
  assert.deepEqual(steps, script);
});

test('a sql step joins two inputs, one a step whose schema gives its columns, and an updating GROUP BY folds to the loop’s table', async () => {
  const yaml = `${head}steps:
  - id: regions
    type: map
    input: orders
    select: [region]
    fields: { zone: "CASE WHEN region = 'eu' THEN 'emea' ELSE 'rest' END", ts: ts }
  - id: per_zone
    type: sql
    input: [orders, regions]
    columns: { orders: [id, region, amount, ts] }
    time_columns: { regions: ts }
    query: |
      WITH zoned AS (
        SELECT o.id, r.zone, o.amount FROM orders o
        JOIN regions r ON o.region = r.region AND r.ts BETWEEN o.ts - INTERVAL '0' SECOND AND o.ts
      )
      SELECT zone, count(*) AS n, max(amount) AS top FROM zoned GROUP BY zone
sinks:
  out: { type: file, input: per_zone, path: ./out/per-zone.jsonl, changelog: debezium }
`;
  // Each order meets the region rows of its own region at its own time: its own, and any other
  // order of that region at the same millisecond.
  const byZone = new Map<string, { zone: string; n: number; top: number }>();
  for (const o of orders)
    for (const r of orders)
      if (r.region === o.region && r.ts === o.ts) {
        const zone = o.region === 'eu' ? 'emea' : 'rest';
        const g = byZone.get(zone) ?? { zone, n: 0, top: Number.NEGATIVE_INFINITY };
        g.n++;
        g.top = Math.max(g.top, o.amount);
        byZone.set(zone, g);
      }
  const want = [...byZone.values()].map((g) => JSON.stringify(g)).sort();
  for (const batchSize of [1, 7, 1000]) {
    const got = finalTables(await run(yaml, batchSize));
    assert.deepEqual(rows(got['per-zone.jsonl']), want, `batches of ${batchSize}`);
  }
});

function refused(yaml: string): SluiceError {
  try {
    resolvePlan(plan(yaml), registry);
  } catch (err) {
    assert.ok(err instanceof SluiceError, String(err));
    return err;
  }
  assert.fail('the plan was accepted');
}

test('a sql step’s errors name the step, the option and the place in the query', () => {
  const step = (extra: string, query: string) => `${head}steps:
  - id: q
    type: sql
    input: orders
${extra}    query: |
      ${query}
sinks:
  out: { type: discard, input: q }
`;
  const cols = '    columns: { orders: [id, region, amount, ts] }\n';
  const typo = refused(step(cols, 'SELECT regoin FROM orders'));
  assert.equal(typo.step, 'q');
  assert.equal(typo.path, 'query');
  assert.match(
    typo.message,
    /'orders' has no column 'regoin' — did you mean 'region'\?.*\(line 1, column 8 of the query\)/,
  );
  assert.match(typo.describe(), /pipeline\.yaml:\d+:\d+: step 'q', query:/);
  const unknown = refused(step('', 'SELECT region FROM orders'));
  assert.equal(unknown.path, 'columns');
  assert.match(unknown.message, /the columns of 'orders' are not known from its schema: list them/);
  const time = refused(step(`${cols}    time_columns: { orders: when }\n`, 'SELECT region FROM orders'));
  assert.equal(time.path, 'time_columns.orders');
  const stray = refused(step(`${cols}    time_columns: { order: ts }\n`, 'SELECT region FROM orders'));
  assert.match(stray.message, /'order' is no input of the step \(orders\)/);
});

test('the TypeScript API’s sql() plans the same steps as the YAML sql step and gives the same windows', async () => {
  const query = `SELECT region, window_start, count(*) AS n
FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(ts), INTERVAL '5' SECOND))
GROUP BY region, window_start, window_end`;
  const { plan: fromTs } = pipeline('sql-step')
    .from(
      'orders',
      file({ path: './orders.jsonl', format: 'json', eventTime: { field: 'ts', maxOutOfOrderness: '2s' } }),
    )
    .sql('per_region', query, { columns: { orders: ['id', 'region', 'amount', 'ts'] } })
    .to('out', fileSink({ path: './out/ts.jsonl' }))
    .build(dir);
  const yaml = `${head}steps:
  - id: per_region
    type: sql
    input: orders
    columns: { orders: [id, region, amount, ts] }
    query: |
${query.replace(/^/gm, '      ')}
sinks:
  out: { type: file, input: per_region, path: ./out/yaml.jsonl }
`;
  const steps = (p: Plan) => resolvePlan(p, registry).steps.map((s) => [s.id, s.type, s.inputs, s.config]);
  assert.deepEqual(steps(fromTs), steps(plan(yaml)));
  rmSync(join(dir, 'out'), { recursive: true, force: true });
  const job = await Job.create(fromTs, { registry, fromScratch: true });
  assert.equal((await job.run()).status, 'completed');
  const fromTsRows = rows(outputs(dir)['ts.jsonl']);
  assert.ok(fromTsRows.length > 5);
  assert.deepEqual(fromTsRows, rows((await run(yaml, 1000))['yaml.jsonl']));
});
