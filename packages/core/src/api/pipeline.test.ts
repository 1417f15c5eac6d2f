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

test('select keeps the named fields, typed as the pick of them; compute is the YAML map', () => {
  const orders = pipeline('sel').from('orders', memory<Order>({ channel: 'c' }));
  const slim = orders.select('slim', ['region', 'amount']);
  slim.map('ok', (r) => r.region.length + r.amount);
  // @ts-expect-error — `ts` was not selected.
  slim.map('bad', (r) => r.ts);
  // @ts-expect-error — `regoin` is not a field of Order.
  orders.select('typo', ['regoin']);
  orders.compute('usd', { usd: 'amount * 1.1' }, { select: ['region'] });
  const { plan } = orders.pipeline.build('/base');
  assert.deepEqual(
    plan.steps.filter((s) => s.id === 'slim' || s.id === 'usd'),
    [
      { id: 'slim', type: 'map', inputs: ['orders'], config: { select: ['region', 'amount'] } },
      {
        id: 'usd',
        type: 'map',
        inputs: ['orders'],
        config: { fields: { usd: 'amount * 1.1' }, select: ['region'] },
      },
    ],
  );
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

test('flatMap, keyed process with state and event-time timers, and dedupe run through a job', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-api-process-'));
  const channel = memoryChannel('api-process');
  const store = memorySinkStore('api-process-out');
  interface Visit {
    user: string;
    pages: string[];
    ts: number;
  }
  channel.push(
    'p0',
    { user: 'a', pages: ['home', 'cart'], ts: 1000 },
    { user: 'b', pages: ['home'], ts: 1500 },
    { user: 'a', pages: ['home', 'pay'], ts: 2000 },
    { user: 'a', pages: [], ts: 2500 },
    { user: 'c', pages: ['home'], ts: 60_000 },
  );
  channel.end();
  const { plan, functions } = pipeline('api-process', { checkpoint: { dir } })
    .from('visits', memory<Visit>({ channel: 'api-process', eventTime: { field: 'ts' } }))
    .flatMap('pages', (v) => v.pages.map((page) => ({ user: v.user, page, ts: v.ts })))
    .dedupe('first-visit', (p) => `${p.user}:${p.page}`, '1h')
    .keyBy('by-user', (p) => p.user)
    .process<{ pages: number }, { user: string; pages: number; at: number }>('sessions', {
      processRecord(_p, ctx) {
        ctx.setState({ pages: (ctx.state()?.pages ?? 0) + 1 });
        // The first timer of a key fires for all its pages; later ones find the state cleared.
        ctx.registerEventTimeTimer(ctx.timestamp + 10_000);
      },
      onTimer(time, _domain, ctx) {
        const state = ctx.state();
        if (state) ctx.emit({ user: ctx.key, pages: state.pages, at: time });
        ctx.clearState();
      },
    })
    .to('out', collect({ store: 'api-process-out' }))
    .build(dir);
  const job = await Job.create(plan, { registry, functions });
  const result = await job.run();
  assert.equal(result.status, 'completed');
  // 'a' visits home twice: the second is a duplicate within the hour; an empty visit yields nothing.
  assert.equal(result.metrics.steps['first-visit'].filtered, 1);
  assert.equal(result.metrics.steps.pages.filtered, 1);
  const rows = store.committed.map((r) => JSON.stringify(r)).sort();
  assert.deepEqual(rows, [
    JSON.stringify({ user: 'a', pages: 3, at: 11_000 }),
    JSON.stringify({ user: 'b', pages: 1, at: 11_500 }),
    JSON.stringify({ user: 'c', pages: 1, at: 70_000 }),
  ]);
});

test('over: the over_aggregate step YAML writes, each record with its frame’s aggregates in time order', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-api-'));
  const channel = memoryChannel('api-over');
  const store = memorySinkStore('api-over-out');
  channel.push(
    'p0',
    { region: 'eu', amount: 10, ts: 1000 },
    { region: 'us', amount: 5, ts: 2000 },
    { region: 'eu', amount: 1, ts: 1500 },
    { region: 'eu', amount: 20, ts: 3000 },
  );
  channel.end();
  const { plan, functions } = pipeline('api-over', { checkpoint: { dir } })
    .from(
      'orders',
      memory<Order>({ channel: 'api-over', eventTime: { field: 'ts', maxOutOfOrderness: '1s' } }),
    )
    .keyBy('by-region', (o) => o.region)
    .over('last-two', { total: sum('amount'), n: count() }, { rows: 1 })
    .map('label', (r) => `${r.region}@${r.ts}: ${r.total}/${r.n}`)
    .to('out', collect({ store: 'api-over-out' }))
    .build(dir);
  assert.deepEqual(JSON.parse(JSON.stringify(plan.steps[1])), {
    id: 'last-two',
    type: 'over_aggregate',
    inputs: ['by-region'],
    config: { rows: 1, fields: { total: 'sum("amount")', n: 'count(*)' } },
  });
  const result = await (await Job.create(plan, { registry, functions })).run();
  assert.equal(result.status, 'completed');
  assert.deepEqual(store.committed, ['eu@1000: 10/1', 'eu@1500: 11/2', 'us@2000: 5/1', 'eu@3000: 21/2']);
});

test('windowTopN: the window_top_n step, each window’s first rows once when it closes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-api-'));
  const channel = memoryChannel('api-wtop');
  const store = memorySinkStore('api-wtop-out');
  channel.push(
    'p0',
    { region: 'eu', amount: 10, ts: 1000 },
    { region: 'us', amount: 5, ts: 2000 },
    { region: 'eu', amount: 1, ts: 3000 },
    { region: 'eu', amount: 20, ts: 61_000 },
  );
  channel.end();
  const { plan, functions } = pipeline('api-wtop', { checkpoint: { dir } })
    .from(
      'orders',
      memory<Order>({ channel: 'api-wtop', eventTime: { field: 'ts', maxOutOfOrderness: '1s' } }),
    )
    .keyBy('by-region', (o) => o.region)
    .window(tumbling('1m'))
    .aggregate('per-region', { revenue: sum('amount') })
    .windowTopN('top', { orderBy: ['revenue DESC'], n: 1, rankField: 'rn' })
    .map('label', (r) => `${r.window_start}: ${r.key} ${r.revenue} #${r.rn}`)
    .to('out', collect({ store: 'api-wtop-out' }))
    .build(dir);
  assert.deepEqual(JSON.parse(JSON.stringify(plan.steps.find((s) => s.id === 'top'))), {
    id: 'top',
    type: 'window_top_n',
    inputs: ['per-region'],
    config: { n: 1, order_by: ['revenue DESC'], rank_field: 'rn' },
  });
  const result = await (await Job.create(plan, { registry, functions })).run();
  assert.equal(result.status, 'completed');
  assert.deepEqual(store.committed, ['0: eu 11 #1', '60000: eu 20 #1']);
});
