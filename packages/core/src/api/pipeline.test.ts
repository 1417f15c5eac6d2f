import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Type } from 'typebox';
import { builtins } from '../builtins.ts';
import { Registry } from '../registry.ts';
import { Job } from '../runtime/job.ts';
import { memoryChannel, memorySinkStore, testing } from '../testing/index.ts';
import { memorySink, memorySource } from '../testing/memory.ts';
import { count, sum } from './aggregates.ts';
import { type SourceDefinition, sinkOf, sourceOf } from './components.ts';
import { pipeline, tumbling } from './pipeline.ts';

interface Order {
  region: string;
  amount: number;
  ts: number;
}

const memory = sourceOf(memorySource);
const collect = sinkOf(memorySink);
const registry = new Registry([builtins, testing]);

test('a TypeScript pipeline builds a serializable plan with its functions beside it', () => {
  const { plan, functions } = pipeline('typed')
    .from('orders', memory<Order>({ channel: 'c', eventTime: { field: 'ts', maxOutOfOrderness: '1s' } }))
    .map('usd', (o) => ({ ...o, usd: o.amount * 1.1 }))
    .filter('positive', 'usd > 0')
    .to('out', collect({ store: 's' }))
    .build('/base');
  assert.deepEqual(JSON.parse(JSON.stringify(plan.steps)), [
    { id: 'usd', type: 'map_fn', inputs: ['orders'], config: {} },
    { id: 'positive', type: 'filter', inputs: ['usd'], config: { where: 'usd > 0' } },
  ]);
  assert.equal(plan.baseDir, '/base');
  assert.deepEqual(plan.sources[0].eventTime, { field: 'ts', maxOutOfOrderness: 1000 });
  assert.equal(typeof functions.get('usd'), 'function');
});

test('record types flow through the steps: misspelt fields do not compile', () => {
  const orders: SourceDefinition<Order> = memory<Order>({ channel: 'c' });
  const p = pipeline('typed').from('orders', orders);
  // @ts-expect-error — `amout` is not a field of Order.
  p.map('bad', (o) => o.amout);
  p.keyBy('k', (o) => o.region)
    .window(tumbling('1m'))
    // @ts-expect-error — `amountUsd` does not exist before the map that computes it.
    .aggregate('agg', { revenue: sum('amountUsd') });
  const schema = Type.Object({ region: Type.String(), n: Type.Number() });
  const valid = pipeline('v')
    .from('raw', memory({ channel: 'c' }))
    .validate('valid', schema);
  // @ts-expect-error — validated records are typed by the schema: `m` is not in it.
  valid.map('m', (r) => r.m);
  assert.ok(valid);
});

test('a TypeScript pipeline runs: map, keyBy, window, aggregate with typed results', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-api-'));
  const channel = memoryChannel('api-run');
  const store = memorySinkStore('api-run-out');
  const base = Date.UTC(2026, 0, 1);
  channel.push(
    'p0',
    { region: 'eu', amount: 10, ts: base + 1000 },
    { region: 'us', amount: 5, ts: base + 2000 },
    { region: 'eu', amount: 20, ts: base + 61_000 },
    { region: 'eu', amount: 1, ts: base + 3000 },
  );
  channel.end();
  const { plan, functions } = pipeline('api-run', { checkpoint: { dir } })
    .from(
      'orders',
      memory<Order>({ channel: 'api-run', eventTime: { field: 'ts', maxOutOfOrderness: '5s' } }),
    )
    .map('usd', (o) => ({ ...o, usd: o.amount * 2 }))
    .keyBy('by-region', (o) => o.region)
    .window(tumbling('1m'))
    .aggregate('per-region', { orders: count(), revenue: sum('usd') })
    .map('label', (r) => ({
      label: `${r.key}@${r.window_start - base}`,
      orders: r.orders,
      revenue: r.revenue,
    }))
    .to('out', collect({ store: 'api-run-out' }))
    .build(dir);
  const job = await Job.create(plan, { registry, functions });
  const result = await job.run();
  assert.equal(result.status, 'completed');
  const rows = store.committed.map((r) => JSON.stringify(r)).sort();
  assert.deepEqual(rows, [
    JSON.stringify({ label: 'eu@0', orders: 2, revenue: 22 }),
    JSON.stringify({ label: 'eu@60000', orders: 1, revenue: 40 }),
    JSON.stringify({ label: 'us@0', orders: 1, revenue: 10 }),
  ]);
});
