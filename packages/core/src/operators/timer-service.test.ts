import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deserialize, serialize } from 'node:v8';
import { MemoryStateBackend } from '../state.ts';
import { TimerHeap } from './timer-heap.ts';
import { type RegisteredTimes, TimerQueue, TimerService } from './timer-service.ts';

function lcg(seed: number): () => number {
  let s = seed;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function drain(queue: TimerQueue, bound: number): [string, number][] {
  const fired: [string, number][] = [];
  while (queue.next(bound)) fired.push([queue.key, queue.time]);
  return fired;
}

describe('TimerHeap', () => {
  it('pops in (time, key) order, also after rebuild', () => {
    const rand = lcg(1);
    const heap = new TimerHeap();
    const entries: [number, string][] = [];
    for (let i = 0; i < 2000; i++) {
      const e: [number, string] = [Math.floor(rand() * 100), `k${Math.floor(rand() * 50)}`];
      entries.push(e);
      heap.push(e[0], e[1]);
    }
    const expected = [...entries].sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
    const popped: [number, string][] = [];
    while (heap.size > 0) {
      popped.push([heap.topTime, heap.topKey]);
      heap.pop();
    }
    assert.deepEqual(popped, expected);

    heap.rebuild(
      entries.map((e) => e[0]),
      entries.map((e) => e[1]),
    );
    const rebuilt: [number, string][] = [];
    while (heap.size > 0) {
      rebuilt.push([heap.topTime, heap.topKey]);
      heap.pop();
    }
    assert.deepEqual(rebuilt, expected);
  });
});

describe('TimerQueue', () => {
  it('deduplicates (key, time) and fires in (time, key) order up to the bound', () => {
    const q = new TimerQueue(new MemoryStateBackend().map<RegisteredTimes>('t'));
    assert.equal(q.register('b', 10), true);
    assert.equal(q.register('b', 10), false);
    q.register('a', 10);
    q.register('a', 5);
    q.register('a', 20);
    assert.equal(q.size, 4);
    assert.equal(q.peek(), 5);
    assert.deepEqual(drain(q, 10), [
      ['a', 5],
      ['a', 10],
      ['b', 10],
    ]);
    assert.equal(q.size, 1);
    assert.equal(q.has('a', 20), true);
    assert.deepEqual(drain(q, Number.POSITIVE_INFINITY), [['a', 20]]);
    assert.equal(q.peek(), Number.POSITIVE_INFINITY);
  });

  it('skips deleted timers and fires a timer registered again after deletion once', () => {
    const q = new TimerQueue(new MemoryStateBackend().map<RegisteredTimes>('t'));
    q.register('a', 1);
    q.register('a', 2);
    assert.equal(q.delete('a', 1), true);
    assert.equal(q.delete('a', 1), false);
    q.register('a', 1);
    q.delete('a', 2);
    assert.equal(q.peek(), 1);
    assert.deepEqual(drain(q, 10), [['a', 1]]);
    assert.equal(q.size, 0);
  });

  it('fires timers registered while draining when they are within the bound', () => {
    const q = new TimerQueue(new MemoryStateBackend().map<RegisteredTimes>('t'));
    q.register('a', 1);
    const fired: number[] = [];
    while (q.next(5)) {
      fired.push(q.time);
      if (q.time < 9) q.register('a', q.time + 2);
    }
    assert.deepEqual(fired, [1, 3, 5]);
    assert.equal(q.peek(), 7);
  });

  it('stays correct through heavy delete churn (heap compaction)', () => {
    const q = new TimerQueue(new MemoryStateBackend().map<RegisteredTimes>('t'));
    for (let i = 0; i < 10_000; i++) {
      q.register('k', i);
      if (i > 0) q.delete('k', i - 1);
    }
    assert.equal(q.size, 1);
    assert.deepEqual(drain(q, Number.POSITIVE_INFINITY), [['k', 9999]]);
  });

  it('rebuilds its order from restored state', () => {
    const rand = lcg(7);
    const backend = new MemoryStateBackend();
    const timers = new TimerService(backend);
    for (let i = 0; i < 500; i++) {
      const key = `k${Math.floor(rand() * 40)}`;
      const time = Math.floor(rand() * 200);
      timers.event.register(key, time);
      if (rand() < 0.2) timers.event.delete(key, time);
      timers.processing.register(key, time + 1000);
    }
    drain(timers.event, 50);
    const restored = new TimerService(new MemoryStateBackend(deserialize(serialize(backend.snapshot()))));
    assert.deepEqual(drain(restored.event, 150), drain(timers.event, 150));
    assert.deepEqual(
      drain(restored.processing, Number.POSITIVE_INFINITY),
      drain(timers.processing, Number.POSITIVE_INFINITY),
    );
    assert.deepEqual(
      drain(restored.event, Number.POSITIVE_INFINITY),
      drain(timers.event, Number.POSITIVE_INFINITY),
    );
  });
});
