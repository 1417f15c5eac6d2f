/**
 * Engine semantics: a partition that stops receiving records holds the watermark back only
 * until its `idle_timeout` has passed in processing time; then windows fed by the active
 * partition fire while the job is still running.
 */

import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { ManualClock, memoryChannel, memorySinkStore } from '../testing/index.ts';
import { Harness, planFrom, sleep, testRegistry, waitFor } from './engine-test-support.ts';
import { Job } from './job.ts';

const registry = testRegistry();
const h = new Harness();
afterEach(() => h.stopAll());

test('an idle partition stops holding the watermark back once its idle timeout has passed', async () => {
  const dir = await h.dir();
  const channel = memoryChannel('idle', ['p0', 'p1']);
  const plan = planFrom(
    `
name: idle
settings: { checkpoint: { interval: 0, dir: ./ckpt } }
sources:
  in: { type: memory, channel: idle, event_time: { field: ts, idle_timeout: 1s } }
steps:
  - { id: agg, type: aggregate, key: [k], window: { type: tumbling, size: 100ms }, fields: { n: count(*) } }
sinks:
  out: { type: memory, store: idle }
`,
    dir,
    registry,
  );
  const store = memorySinkStore('idle');
  const clock = new ManualClock(0);
  const job = await Job.create(plan, { registry, clock, tickInterval: 2 });
  const running = h.run(job);
  const read = (n: number) => waitFor(`${n} records read`, () => job.metrics().recordsIn === n);
  /** Lets the job tick and its idle readers poll (they return empty batches every 50 ms). */
  const settle = () => sleep(120);

  channel.push('p0', { k: 'a', ts: 10 });
  channel.push('p1', { k: 'a', ts: 20 });
  await read(2);
  // p1 goes quiet; p0 moves on to 150, past the end of [0, 100).
  channel.push('p0', { k: 'b', ts: 150 });
  await read(3);
  await settle();
  assert.equal(job.metrics().watermark, 19, 'p1 holds the watermark at 20 − 1');
  assert.deepEqual(store.pending, []);

  // Not yet idle: 999 ms < 1 s since p1's last record, while p1's reader keeps polling.
  clock.advance(999);
  channel.push('p0', { k: 'b', ts: 160 });
  await read(4);
  await settle();
  assert.equal(job.metrics().watermark, 19);
  assert.deepEqual(store.pending, []);
  assert.equal(job.metrics().steps.agg.results, 0);

  // 1 s after p1's last record it is idle: the watermark follows p0 alone and [0, 100) fires.
  clock.advance(1);
  await waitFor('[0, 100) to fire', () => store.pending.length === 1);
  assert.deepEqual(store.pending, [{ k: 'a', window_start: 0, window_end: 100, n: 2 }]);
  assert.equal(job.metrics().watermark, 159);

  // The job is still running; p1 comes back (its records now count again) and input ends.
  channel.push('p1', { k: 'a', ts: 170 });
  await read(5);
  channel.end();
  const result = await running;
  assert.equal(result.status, 'completed');
  assert.equal(result.metrics.late, 0);
  assert.deepEqual(store.committed, [
    { k: 'a', window_start: 0, window_end: 100, n: 2 },
    { k: 'b', window_start: 100, window_end: 200, n: 2 },
    { k: 'a', window_start: 100, window_end: 200, n: 1 },
  ]);
});

test('while every partition is idle the watermark stays where it is', async () => {
  const dir = await h.dir();
  const channel = memoryChannel('all-idle', ['p0', 'p1']);
  const plan = planFrom(
    `
name: all-idle
settings: { checkpoint: { interval: 0, dir: ./ckpt }, idle_timeout: 500ms }
sources:
  in: { type: memory, channel: all-idle, event_time: { field: ts } }
steps:
  - { id: agg, type: aggregate, window: { type: tumbling, size: 100ms }, fields: { n: count(*) } }
sinks:
  out: { type: memory, store: all-idle }
`,
    dir,
    registry,
  );
  const store = memorySinkStore('all-idle');
  const clock = new ManualClock(0);
  const job = await Job.create(plan, { registry, clock, tickInterval: 2 });
  const running = h.run(job);
  channel.push('p0', { ts: 10 }, { ts: 250 });
  channel.push('p1', { ts: 30 });
  await waitFor('3 records read', () => job.metrics().recordsIn === 3);
  await sleep(60);
  assert.equal(job.metrics().watermark, 29);
  clock.advance(10_000);
  await sleep(120);
  // Both idle: no partition says how far event time has got, so nothing fires.
  assert.equal(job.metrics().watermark, 29);
  assert.deepEqual(store.pending, []);
  channel.end();
  const result = await running;
  assert.equal(result.status, 'completed');
  assert.deepEqual(store.committed, [
    { window_start: 0, window_end: 100, n: 2 },
    { window_start: 200, window_end: 300, n: 1 },
  ]);
});

test('a partition that never reads a record stops holding the watermark back after its idle timeout', async () => {
  const dir = await h.dir();
  const channel = memoryChannel('never', ['p0', 'p1']);
  const plan = planFrom(
    `
name: never
settings: { checkpoint: { interval: 0, dir: ./ckpt }, idle_timeout: 2s }
sources:
  in: { type: memory, channel: never, event_time: { field: ts } }
steps:
  - { id: agg, type: aggregate, window: { type: tumbling, size: 100ms }, fields: { n: count(*) } }
sinks:
  out: { type: memory, store: never }
`,
    dir,
    registry,
  );
  const store = memorySinkStore('never');
  const clock = new ManualClock(0);
  const job = await Job.create(plan, { registry, clock, tickInterval: 2 });
  const running = h.run(job);
  clock.advance(1999);
  channel.push('p0', { ts: 10 }, { ts: 150 });
  await waitFor('2 records read', () => job.metrics().recordsIn === 2);
  await sleep(60);
  assert.equal(job.metrics().watermark, Number.NEGATIVE_INFINITY, 'p1 has said nothing yet');
  clock.advance(1);
  await waitFor('[0, 100) to fire', () => store.pending.length === 1);
  assert.equal(job.metrics().watermark, 149);
  channel.end();
  assert.equal((await running).status, 'completed');
  assert.deepEqual(store.committed, [
    { window_start: 0, window_end: 100, n: 1 },
    { window_start: 100, window_end: 200, n: 1 },
  ]);
});
