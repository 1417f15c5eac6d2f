/**
 * `changelog: upsert` against the real broker: an aggregate without a window (an updating
 * stream) written to a compacted topic, read back with Kafka's console consumer and folded by
 * key (the last message of a key wins, a tombstone deletes it) into the table a plain loop
 * computes from the same input — at least once and exactly once.
 */

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { builtins, Job, parsePipelineYaml, Registry, resolvePlan, SluiceError } from '@sluice/core';
import { kafkaSink } from './sink.ts';
import { consoleConsume, KAFKA_BROKER, kafkaAvailable, Topics, uniqueName } from './test-support.ts';

const available = await kafkaAvailable();
const topics = new Topics();
const dirs: string[] = [];
after(async () => {
  await topics.cleanup();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const registry = new Registry([builtins, { name: 'kafka-sink', components: [kafkaSink] }]);
const RECORDS = 5000;
const REGIONS = 7;

/** Deterministic orders: region r0..r6, amount 0..99. */
function orders(): { region: string; amount: number; ts: number }[] {
  let seed = 42;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  return Array.from({ length: RECORDS }, (_, i) => ({
    region: `r${Math.floor(next() * REGIONS)}`,
    amount: Math.floor(next() * 100),
    ts: 1_700_000_000_000 + i,
  }));
}

async function run(out: string, delivery: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-kafka-upsert-'));
  dirs.push(dir);
  await writeFile(
    join(dir, 'orders.jsonl'),
    `${orders()
      .map((o) => JSON.stringify(o))
      .join('\n')}\n`,
  );
  const yaml = `
name: ${uniqueName('kafka-upsert')}
settings: { batch_size: 64, checkpoint: { interval: 50ms, dir: ./checkpoints } }
sources:
  orders: { type: file, path: ./orders.jsonl, event_time: { field: ts } }
steps:
  - id: totals
    type: aggregate
    input: orders
    key: [region]
    fields: { orders: count(*), revenue: sum(amount) }
sinks:
  out:
    type: kafka
    input: totals
    brokers: ['${KAFKA_BROKER}']
    topic: ${out}
    key: region
    changelog: upsert
    timestamp: now
    delivery: ${delivery}
`;
  const plan = parsePipelineYaml(yaml, join(dir, 'pipeline.yaml'), { registry });
  const result = await (await Job.create(plan, { registry })).run();
  assert.equal(result.status, 'completed');
  assert.equal(result.metrics.deadLetters, 0);
}

function expected(): Map<string, { region: string; orders: number; revenue: number }> {
  const table = new Map<string, { region: string; orders: number; revenue: number }>();
  for (const o of orders()) {
    const row = table.get(o.region) ?? { region: o.region, orders: 0, revenue: 0 };
    table.set(o.region, { region: o.region, orders: row.orders + 1, revenue: row.revenue + o.amount });
  }
  return table;
}

describe('kafka sink, changelog: upsert (real broker)', { skip: !available, concurrency: true }, () => {
  for (const delivery of ['at_least_once', 'exactly_once']) {
    test(`${delivery}: the topic folded by key is the aggregate's final table`, async () => {
      const out = await topics.create('upsert-out', 3, { 'cleanup.policy': 'compact' });
      await run(out, delivery);
      const read = await consoleConsume(out, {
        isolation: 'read_committed',
        idleMs: 6000,
        atLeast: REGIONS,
      });
      const folded = new Map<string, unknown>();
      for (const m of read) {
        assert.ok(m.key !== null, 'every message has a key');
        if (m.value === null) folded.delete(m.key);
        else folded.set(m.key, JSON.parse(m.value));
      }
      assert.deepEqual(folded, expected());
      assert.ok(read.length > REGIONS, 'updates, not only the final rows, were written');
    });
  }
});

test('an updating stream into a kafka sink without `changelog` is refused, saying what to set', async () => {
  const yaml = `
name: refused
sources:
  orders: { type: stdin }
steps:
  - { id: totals, type: aggregate, input: orders, key: [region], fields: { orders: 'count(*)' } }
sinks:
  out: { type: kafka, input: totals, brokers: ['${KAFKA_BROKER}'], topic: t, key: region }
`;
  const plan = parsePipelineYaml(yaml, '/nowhere/pipeline.yaml', { registry });
  await assert.rejects(Job.validate(plan, { registry }), (err: unknown) => {
    assert.ok(err instanceof Error && 'code' in err, String(err));
    assert.equal(err.code, 'PLAN_CHANGELOG_MISMATCH');
    assert.match(err.message, /changelog: upsert/);
    assert.match(err.message, /totals/);
    return true;
  });
});

test('an upsert key expression that leaves out a field of the stream’s key is refused at `key`', () => {
  const yaml = (key: string) => `
name: keyed
sources:
  orders: { type: stdin }
steps:
  - { id: totals, type: aggregate, input: orders, key: [region, store], fields: { orders: 'count(*)' } }
sinks:
  out:
    type: kafka
    input: totals
    brokers: ['${KAFKA_BROKER}']
    topic: t
    changelog: upsert
    key: ${key}
`;
  const resolve = (key: string) =>
    resolvePlan(parsePipelineYaml(yaml(key), '/nowhere/pipeline.yaml', { registry }), registry);
  assert.throws(
    () => resolve('region'),
    (err: unknown) => {
      assert.ok(err instanceof SluiceError, String(err));
      assert.equal(err.code, 'PLAN_KEY_MISMATCH');
      assert.deepEqual([err.step, err.path, err.line], ['out', 'key', 14]);
      assert.match(
        err.message,
        /^sink 'out' \(kafka\) upserts rows by `key: region` \(which reads \[region\]\), but its input 'totals' is an updating stream whose rows are identified by \[region, store\]: rows that differ only in \[store\]/,
      );
      assert.match(err.message, /make `key` an expression of \[region, store\]/);
      return true;
    },
  );
  // An expression of every field of the key is taken as it is: it may well tell them apart.
  assert.deepEqual(resolve(`"region || '/' || store"`).keys?.totals?.unique, [['region', 'store']]);
});
