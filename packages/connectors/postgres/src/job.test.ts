/**
 * The `postgres` lookup and sink in a real job: orders from a file are enriched with their
 * customer's region from a PostgreSQL table, summed per region by an aggregate without a window
 * (an updating stream), and upserted into a PostgreSQL table the sink creates.
 */

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { builtins, Job, parsePipelineYaml, Registry } from '@sluice/core';
import { postgres } from './index.ts';
import { PG_URL, postgresMissing, TestSchema } from './test-support.ts';

const skip = (await postgresMissing()) ?? false;
const schema = new TestSchema();
const dirs: string[] = [];
after(async () => {
  await schema.drop();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const registry = new Registry([builtins, postgres]);

describe('postgres in a job', { skip }, () => {
  test('file → lookup (postgres) → aggregate → upsert (postgres): the table holds the final totals', async () => {
    const customers = schema.table('customers');
    const totals = schema.table('totals');
    await schema.query(`CREATE TABLE ${customers} (id text PRIMARY KEY, region text NOT NULL)`);
    const regions = ['eu', 'us', 'ap'];
    await schema.query(
      `INSERT INTO ${customers} SELECT 'c' || i, (ARRAY['eu','us','ap'])[i % 3 + 1] FROM generate_series(0, 29) i`,
    );
    const orders = Array.from({ length: 2000 }, (_v, i) => ({
      id: i,
      customer: `c${(i * 7) % 31}`,
      amount: i % 10,
    }));
    const dir = await mkdtemp(join(tmpdir(), 'sluice-pg-job-'));
    dirs.push(dir);
    await writeFile(join(dir, 'orders.jsonl'), `${orders.map((o) => JSON.stringify(o)).join('\n')}\n`);
    const yaml = `
name: pg-job-${process.pid}
settings:
  batch_size: 64
  checkpoint: { interval: 50ms, dir: ./checkpoints }
sources:
  orders: { type: file, path: ./orders.jsonl }
steps:
  - id: enrich
    type: lookup
    input: orders
    table: { type: postgres, url: "${PG_URL}", table: ${customers}, key: [id], columns: [region] }
    key: customer
    as: c
    on_miss: drop
  - id: regional
    type: map
    input: enrich
    fields: { region: c.region, amount: amount }
  - id: per_region
    type: aggregate
    input: regional
    key: [region]
    fields:
      orders: count(*)
      revenue: sum(amount)
sinks:
  out:
    type: postgres
    input: per_region
    url: "${PG_URL}"
    table: ${totals}
    mode: upsert
    key: [region]
    create_table: true
    columns: { region: text, orders: bigint, revenue: double precision }
`;
    const plan = parsePipelineYaml(yaml, join(dir, 'pipeline.yaml'), { registry });
    const job = await Job.create(plan, { registry });
    const result = await job.run();
    assert.equal(result.status, 'completed');
    const expected = new Map<string, { orders: number; revenue: number }>();
    for (const o of orders) {
      const n = Number(o.customer.slice(1));
      if (n >= 30) continue; // c30 is not in the table: dropped as a miss
      const region = regions[n % 3];
      const t = expected.get(region) ?? { orders: 0, revenue: 0 };
      t.orders++;
      t.revenue += o.amount;
      expected.set(region, t);
    }
    const rows = await schema.query(`SELECT region, orders::int, revenue FROM ${totals} ORDER BY region`);
    assert.deepEqual(
      rows,
      [...expected.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([region, t]) => ({ region, ...t })),
    );
  });
});
