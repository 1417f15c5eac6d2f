import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { builtins } from '../builtins.ts';
import { Registry } from '../registry.ts';
import { Job } from '../runtime/job.ts';
import { memoryChannel, memorySinkStore, testing } from '../testing/index.ts';
import { memorySink, memorySource } from '../testing/memory.ts';
import { sinkOf, sourceOf } from './components.ts';
import { begin, patternConfig } from './pattern.ts';
import { pipeline } from './pipeline.ts';

const memory = sourceOf(memorySource);
const collect = sinkOf(memorySink);

test('the pattern builder writes the stages, quantifiers and contiguity of the pattern step', () => {
  const p = begin('A')
    .where("action = 'fail'")
    .where('ok IS NULL')
    .timesOrMore(2)
    .reluctant()
    .next('B')
    .where("action = 'retry'")
    .optional()
    .followedBy('C')
    .where("action = 'ok'")
    .oneOrMore()
    .within('5m');
  assert.deepEqual(p.stages(), [
    { name: 'A', where: "(action = 'fail') AND (ok IS NULL)", quantifier: '{2,}?', contiguity: 'strict' },
    { name: 'B', where: "action = 'retry'", quantifier: '?', contiguity: 'strict' },
    { name: 'C', where: "action = 'ok'", quantifier: '+', contiguity: 'relaxed' },
  ]);
  assert.equal(p.withinDuration, '5m');
  assert.deepEqual(begin('A').where('true').times(3).stages()[0].quantifier, '{3}');
  assert.deepEqual(begin('A').where('true').times(1, 3).stages()[0].quantifier, '{1,3}');
  assert.throws(() => begin('A').stages(), /no condition/);
});

test('the pattern builder writes absent stages (notNext, notFollowedBy) and any contiguity (followedByAny)', () => {
  const p = begin('order')
    .where("type = 'order'")
    .notNext('cancel')
    .where("type = 'cancel'")
    .followedByAny('item')
    .where("type = 'item'")
    .oneOrMore()
    .notFollowedBy('payment')
    .where("type = 'payment'")
    .within('15m');
  assert.deepEqual(p.stages(), [
    { name: 'order', where: "type = 'order'", contiguity: 'strict' },
    { name: 'cancel', where: "type = 'cancel'", contiguity: 'strict', absent: true },
    { name: 'item', where: "type = 'item'", quantifier: '+', contiguity: 'any' },
    { name: 'payment', where: "type = 'payment'", contiguity: 'relaxed', absent: true },
  ]);
  assert.throws(() => begin('A').where('true').notNext('N').where('true').optional(), /absent/);
  assert.throws(() => begin('A').where('true').notNext('N').where('true').or('B'), /absent/);
  assert.throws(() => begin('A').where('true').notFollowedBy('N').where('true').times(2), /absent/);
});

test('the pattern builder writes alternations (or)', () => {
  const p = begin('A')
    .where("v = 'a'")
    .followedBy('B')
    .where("v = 'b'")
    .oneOrMore()
    .or('C')
    .where("v = 'c'")
    .next('D')
    .where("v = 'd'");
  assert.deepEqual(p.stages(), [
    { name: 'A', where: "v = 'a'", contiguity: 'strict' },
    { name: 'B', where: "v = 'b'", quantifier: '+', contiguity: 'relaxed' },
    { name: 'C', where: "v = 'c'", contiguity: 'relaxed', alternative: true },
    { name: 'D', where: "v = 'd'", contiguity: 'strict' },
  ]);
});

test('a TypeScript pipeline with a pattern runs through a job', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-api-pattern-'));
  const channel = memoryChannel('api-pattern');
  const store = memorySinkStore('api-pattern-out');
  interface Login {
    user: string;
    action: string;
    ts: number;
  }
  channel.push(
    'p0',
    { user: 'a', action: 'fail', ts: 1000 },
    { user: 'b', action: 'fail', ts: 1100 },
    { user: 'a', action: 'fail', ts: 2000 },
    { user: 'a', action: 'fail', ts: 3000 },
    { user: 'b', action: 'ok', ts: 3500 },
    { user: 'a', action: 'ok', ts: 4000 },
  );
  channel.end();
  const { plan, functions } = pipeline('api-pattern', { checkpoint: { dir } })
    .from('logins', memory<Login>({ channel: 'api-pattern', eventTime: { field: 'ts' } }))
    .pattern(
      'brute-force',
      begin('fails')
        .where("action = 'fail'")
        .timesOrMore(2)
        .followedBy('ok')
        .where("action = 'ok'")
        .within('1m'),
      { key: ['user'], measures: { failures: 'count(fails)', first_fail: 'first(fails.ts)' } },
    )
    .to('out', collect({ store: 'api-pattern-out' }))
    .build(dir);
  const job = await Job.create(plan, { registry: new Registry([builtins, testing]), functions });
  const result = await job.run();
  assert.equal(result.status, 'completed');
  assert.deepEqual(store.committed, [
    { user: 'a', match_start: 1000, match_end: 4000, failures: 3, first_fail: 1000 },
  ]);
});

test('a TypeScript pipeline with notFollowedBy at the end outputs the match once within has passed', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-api-pattern-absent-'));
  const channel = memoryChannel('api-pattern-absent');
  const store = memorySinkStore('api-pattern-absent-out');
  interface Order {
    id: string;
    type: string;
    ts: number;
  }
  channel.push(
    'p0',
    { id: 'o1', type: 'order', ts: 1000 },
    { id: 'o2', type: 'order', ts: 1500 },
    { id: 'o1', type: 'payment', ts: 30_000 },
    { id: 'o2', type: 'item', ts: 40_000 },
    { id: 'o2', type: 'payment', ts: 90_000 },
  );
  channel.end();
  const { plan, functions } = pipeline('api-pattern-absent', { checkpoint: { dir } })
    .from('orders', memory<Order>({ channel: 'api-pattern-absent', eventTime: { field: 'ts' } }))
    .pattern(
      'unpaid',
      begin('order').where("type = 'order'").notFollowedBy('payment').where("type = 'payment'").within('1m'),
      { key: ['id'], measures: { ordered: 'first(order.ts)' } },
    )
    .to('out', collect({ store: 'api-pattern-absent-out' }))
    .build(dir);
  const job = await Job.create(plan, { registry: new Registry([builtins, testing]), functions });
  const result = await job.run();
  assert.equal(result.status, 'completed');
  assert.deepEqual(store.committed, [{ id: 'o2', match_start: 1500, match_end: 1500, ordered: 1500 }]);
});

test('running: true in the TypeScript API is the option MATCH_RECOGNIZE compiles to', () => {
  const p = begin('A').where('true').next('B').where('B.price > A.price AND avg(B.price) < 10');
  assert.deepEqual(patternConfig(p, { key: ['symbol'], running: true }), {
    stages: p.stages(),
    key: ['symbol'],
    running: true,
  });
  assert.equal('running' in patternConfig(p, {}), false);
});
