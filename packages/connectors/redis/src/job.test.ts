/**
 * The `redis` lookup and sink in a real job from a YAML pipeline: orders from a file are enriched
 * with their customer's region from Redis hashes (one round trip per batch), summed per region by
 * an aggregate without a window (an updating stream), and upserted into one Redis hash per region.
 */

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { builtins, Job, parsePipelineYaml, Registry } from '@sluice/core';
import { redis } from './index.ts';
import {
  dropKeys,
  keysOf,
  REDIS_URL,
  redisAvailable,
  type TestClient,
  testClient,
  uniqueName,
} from './test-support.ts';

const available = await redisAvailable();
const client: TestClient | undefined = available ? await testClient() : undefined;
const prefix = uniqueName('job');
const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  if (client === undefined) return;
  await dropKeys(client, prefix);
  await client.close();
});

const registry = new Registry([builtins, redis]);

describe('redis in a job', { skip: !available }, () => {
  test('file → lookup (redis hash) → aggregate → redis hash sink: one hash per region with the final totals', async () => {
    const r = client as TestClient;
    const regions = ['eu', 'us', 'ap'];
    for (let i = 0; i < 30; i++)
      await r.hSet(`${prefix}:customer:c${i}`, { region: regions[i % 3] as string });
    const orders = Array.from({ length: 2000 }, (_v, i) => ({
      id: i,
      customer: `c${(i * 7) % 31}`,
      amount: i % 10,
    }));
    const dir = await mkdtemp(join(tmpdir(), 'sluice-redis-job-'));
    dirs.push(dir);
    await writeFile(join(dir, 'orders.jsonl'), `${orders.map((o) => JSON.stringify(o)).join('\n')}\n`);
    const yaml = `
name: redis-job-${process.pid}
settings:
  batch_size: 64
  checkpoint: { interval: 50ms, dir: ./checkpoints }
sources:
  orders: { type: file, path: ./orders.jsonl }
steps:
  - id: enrich
    type: lookup
    input: orders
    table: { type: redis, url: "${REDIS_URL}", prefix: "${prefix}:customer:", fields: [region] }
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
    type: redis
    input: per_region
    url: "${REDIS_URL}"
    mode: hash
    key: "${prefix}:totals:{region}"
`;
    const plan = parsePipelineYaml(yaml, join(dir, 'pipeline.yaml'), { registry });
    const job = await Job.create(plan, { registry });
    const result = await job.run();
    assert.equal(result.status, 'completed');
    const expected = new Map<string, { orders: number; revenue: number }>();
    for (const o of orders) {
      const n = Number(o.customer.slice(1));
      if (n >= 30) continue; // c30 has no hash: dropped as a miss
      const region = regions[n % 3] as string;
      const t = expected.get(region) ?? { orders: 0, revenue: 0 };
      t.orders++;
      t.revenue += o.amount;
      expected.set(region, t);
    }
    const keys = await keysOf(r, `${prefix}:totals:`);
    assert.deepEqual(
      keys,
      [...expected.keys()].sort().map((region) => `${prefix}:totals:${region}`),
    );
    for (const [region, t] of expected)
      assert.deepEqual(
        { ...(await r.hGetAll(`${prefix}:totals:${region}`)) },
        { region, orders: String(t.orders), revenue: String(t.revenue) },
      );
  });

  test('the plan check refuses an updating stream into `mode: stream`, with the hint', async () => {
    const yaml = `
name: redis-refused-${process.pid}
sources:
  orders: { type: generate, template: orders, count: 10 }
steps:
  - id: totals
    type: aggregate
    input: orders
    key: [region]
    fields: { n: count(*) }
sinks:
  out: { type: redis, input: totals, url: "${REDIS_URL}", mode: stream, key: "${prefix}:s" }
`;
    await assert.rejects(
      async () =>
        Job.create(parsePipelineYaml(yaml, join(tmpdir(), 'pipeline.yaml'), { registry }), { registry }),
      /mode: hash`, `string` or `sorted_set`/,
    );
  });
});

describe('redis stream source in a job', { skip: !available }, () => {
  test('stream → stream: acknowledged after the checkpoints; a restarted job reads only what came after, each entry once', async () => {
    const r = client as TestClient;
    const input = `${prefix}:in`;
    const output = `${prefix}:out`;
    const dir = await mkdtemp(join(tmpdir(), 'sluice-redis-stream-job-'));
    dirs.push(dir);
    const yaml = `
name: redis-stream-job-${process.pid}
settings:
  batch_size: 16
  checkpoint: { interval: 50ms, dir: ./checkpoints }
sources:
  orders: { type: redis, url: "${REDIS_URL}", stream: "${input}", group: g, consumer: w, start: "0", format: json }
steps:
  - { id: big, type: filter, input: orders, where: "amount >= 5" }
sinks:
  out: { type: redis, input: big, url: "${REDIS_URL}", mode: stream, key: "${output}", fields: [id, amount] }
`;
    const runUntil = async (recordsIn: number) => {
      const plan = parsePipelineYaml(yaml, join(dir, 'pipeline.yaml'), { registry });
      const job = await Job.create(plan, { registry });
      const done = job.run();
      const deadline = Date.now() + 15_000;
      while (job.metrics().recordsIn < recordsIn && Date.now() < deadline)
        await new Promise((res) => setTimeout(res, 25));
      job.stop();
      return done;
    };
    const add = async (from: number, to: number) => {
      for (let i = from; i < to; i++)
        await r.xAdd(input, '*', { data: JSON.stringify({ id: i, amount: i % 10 }) });
    };
    await add(0, 100);
    assert.equal((await runUntil(100)).status, 'stopped');
    const pending = async () => Number(((await r.sendCommand(['XPENDING', input, 'g'])) as [number])[0]);
    assert.equal(await pending(), 0, 'the final checkpoint acknowledged every entry');
    await add(100, 150);
    // The job's counts continue from its checkpoint: 150 records in over both runs.
    const second = await runUntil(150);
    assert.equal(second.status, 'stopped');
    assert.equal(second.metrics.sources.orders?.in, 150);
    assert.equal(await pending(), 0);
    const written = (await r.xRange(output, '-', '+')).map((e) => Number(e.message.id));
    const expected = Array.from({ length: 150 }, (_v, i) => i).filter((i) => i % 10 >= 5);
    assert.deepEqual(written, expected, 'each entry once, in order');
  });
});
