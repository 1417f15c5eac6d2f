/**
 * Keyed state held by the runtime: key groups are a fixed function of the key, checkpoints store
 * each map by key group, a keyed `process` step and `dedupe` resume from them after a crash, and
 * checkpoints whose operators kept their keyed state themselves (version 1) are still read.
 */

import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { sinkOf, sourceOf } from '../api/components.ts';
import { pipeline } from '../api/pipeline.ts';
import { decodeValue, encodeValue } from '../checkpoint/value-codec.ts';
import { createDedupeOperator } from '../operators/dedupe.ts';
import type { Row } from '../record.ts';
import { ManualClock, memoryChannel, memorySinkStore } from '../testing/index.ts';
import { memorySink, memorySource } from '../testing/memory.ts';
import { Harness, testRegistry, waitFor } from './engine-test-support.ts';
import { Job } from './job.ts';
import { KEY_GROUPS, KeyedStateStore, keyGroupOf, keyGroupOfKey } from './keyed-state.ts';

const registry = testRegistry();
const h = new Harness();
afterEach(() => h.stopAll());

describe('key groups', () => {
  test('are a fixed function of the key, spread over all groups', () => {
    // Part of the checkpoint format: these must never change.
    assert.deepEqual(['', 'a', 'user-42', '\u0000n17', 'ünïcode'].map(keyGroupOf), [69, 44, 43, 115, 53]);
    const used = new Set<number>();
    for (let i = 0; i < 10_000; i++) used.add(keyGroupOf(`k${i}`));
    assert.equal(used.size, KEY_GROUPS);
  });

  test('a store snapshots each map by key group and restores it, through the checkpoint codec', () => {
    const store = new KeyedStateStore('s');
    const counts = store.map<number>('counts');
    for (let i = 0; i < 500; i++) counts.set(`k${i}`, i);
    store.map<string>('empty');
    const { bytes, start } = encodeValue(store.snapshot(), 0, 100);
    const snapshot = decodeValue(bytes.subarray(start), 100) as ReturnType<KeyedStateStore['snapshot']>;
    assert.equal(snapshot.keyGroups, KEY_GROUPS);
    for (const [group, entries] of Object.entries(snapshot.maps.counts))
      for (const [key] of entries) assert.equal(keyGroupOfKey(key), Number(group));
    const restored = new KeyedStateStore('s', snapshot);
    assert.deepEqual(new Map(restored.map<number>('counts').entries()), new Map(counts.entries()));
    assert.equal(restored.map('empty').size, 0);
    assert.throws(() => new KeyedStateStore('s', { keyGroups: 64, maps: {} }), /not in 128 key groups/);
  });

  test('a view of an operator’s own structures is snapshotted by key group; its keys keep their type', () => {
    const roundTrip = (store: KeyedStateStore) => {
      const { bytes, start } = encodeValue(store.snapshot(), 0, 100);
      return decodeValue(bytes.subarray(start), 100);
    };
    // An operator's own state: per key, a time-ordered list.
    const own = new Map<string | number | null, number[]>([
      ['a', [1, 2]],
      [7, [3]],
      ['7', [4]],
      [null, [5, 6]],
    ]);
    const store = new KeyedStateStore('s');
    store.keyed('lists', { entries: () => own.entries(), restore: () => assert.fail('nothing to restore') });
    const snapshot = roundTrip(store);
    assert.equal(keyGroupOfKey(7), keyGroupOf('7'));
    const back = new Map<unknown, number[]>();
    new KeyedStateStore('s', snapshot).keyed<unknown, number[]>('lists', {
      entries: () => back.entries(),
      restore: (key, list) => back.set(key, list),
    });
    assert.deepEqual(back, own);
    assert.throws(() => store.map('lists'), /asked twice for keyed state 'lists'/);
  });

  test('a store restores only the key groups it owns and keeps the others as they were', () => {
    const store = new KeyedStateStore('s');
    const counts = store.map<number>('counts');
    for (let i = 0; i < 200; i++) counts.set(`k${i}`, i);
    const snapshot = store.snapshot();
    const even = (g: number) => g % 2 === 0;
    const part = new KeyedStateStore('s', snapshot, even);
    const mine = part.map<number>('counts');
    assert.ok(mine.size > 0 && mine.size < 200);
    for (const [k] of mine.entries()) assert.ok(even(keyGroupOf(k)));
    mine.set('k0', -1);
    const again = new KeyedStateStore('s', part.snapshot()).map<number>('counts');
    assert.equal(again.size, 200);
    assert.equal(again.get('k0'), keyGroupOf('k0') % 2 === 0 ? -1 : 0);
  });
});

describe('operators on the runtime’s keyed state', () => {
  const memory = sourceOf(memorySource);
  const collect = sinkOf(memorySink);

  test('a keyed process step resumes its state and timers after a crash', async () => {
    const name = 'keyed-process';
    const channel = memoryChannel(name);
    const build = () =>
      pipeline(name, { checkpoint: { interval: '0s', dir: './ckpt' } })
        .from('in', memory<{ user: string; ts: number }>({ channel: name, eventTime: { field: 'ts' } }))
        .keyBy('by', (r) => r.user)
        .process<{ n: number }, { user: string; n: number }>('count', {
          processRecord(_r, ctx) {
            ctx.setState({ n: (ctx.state()?.n ?? 0) + 1 });
            ctx.registerEventTimeTimer(100_000);
          },
          onTimer(_t, _d, ctx) {
            ctx.emit({ user: ctx.key, n: ctx.state()?.n ?? 0 });
          },
        })
        .to('out', collect({ store: name }));
    const dir = await h.dir();
    const clock = new ManualClock(0);
    const first = build().build(dir);
    const job = await Job.create(first.plan, {
      registry,
      functions: first.functions,
      clock,
      tickInterval: 5,
    });
    const running = h.run(job);
    const rows = (from: number, to: number) =>
      Array.from({ length: to - from }, (_, i) => ({ user: `u${(from + i) % 7}`, ts: from + i }));
    channel.push('p0', ...rows(0, 40));
    await waitFor('40 read', () => job.metrics().recordsIn === 40);
    await job.checkpoint();
    channel.push('p0', ...rows(40, 60));
    await waitFor('60 read', () => job.metrics().recordsIn === 60);
    channel.crash('p0');
    await assert.rejects(running, /simulated crash/);
    const second = build().build(dir);
    const resumed = await Job.create(second.plan, {
      registry,
      functions: second.functions,
      clock,
      tickInterval: 5,
    });
    const done = h.run(resumed);
    channel.push('p0', ...rows(60, 100));
    channel.end();
    assert.equal((await done).status, 'completed');
    const got = memorySinkStore(name).committed.map((r: Row) => [r.user, r.n]);
    const want = Array.from({ length: 7 }, (_, u) => [`u${u}`, Math.ceil((100 - u) / 7)]);
    assert.deepEqual(got.sort(), want.sort());
  });

  test('dedupe reads a checkpoint from before keyed state was the runtime’s', () => {
    const state = new KeyedStateStore('d');
    const op = createDedupeOperator({
      stepId: 'd',
      within: 1_000,
      time: 'event',
      keyFn: (r: Row) => String(r.k),
    });
    const legacy = { version: 1, watermark: 10, state: new Map([['first-seen', new Map([['a', 5]])]]) };
    op.open?.({ stepId: 'd', restored: legacy, clock: new ManualClock(0), watermark: () => 0, state });
    assert.deepEqual([...state.map<number>('first-seen').entries()], [['a', 5]]);
    assert.deepEqual(op.snapshot?.(), { version: 2, watermark: 10 }, 'the map now lives in the keyed state');
  });
});
