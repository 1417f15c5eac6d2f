import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RepartitionWatermarks } from './repartition-watermarks.ts';

test('the watermark stays at −∞ until every producer has published a marker, then is their minimum', () => {
  const w = new RepartitionWatermarks(3);
  assert.equal(w.update(0, 5_000), false);
  assert.equal(w.update(2, 9_000), false);
  assert.equal(w.current, Number.NEGATIVE_INFINITY, 'producer 1 may still write records of any time');
  assert.equal(w.update(1, 7_000), true);
  assert.equal(w.current, 5_000);
  // The slowest producer moves: the minimum follows it, up to the next slowest.
  assert.equal(w.update(0, 8_000), true);
  assert.equal(w.current, 7_000);
  // A faster producer moving changes nothing.
  assert.equal(w.update(2, 20_000), false);
  assert.equal(w.current, 7_000);
});

test('a producer never moves backwards, and neither does the minimum', () => {
  const w = new RepartitionWatermarks(2);
  w.update(0, 4_000);
  w.update(1, 6_000);
  assert.equal(w.current, 4_000);
  // A marker written again after the producer restarted from an older checkpoint.
  assert.equal(w.update(0, 1_000), false);
  assert.equal(w.current, 4_000);
  assert.deepEqual(w.snapshot(), { watermarks: { 0: 4_000, 1: 6_000 }, idle: [] });
});

test('an idle producer stops holding the minimum back until it is active again', () => {
  const w = new RepartitionWatermarks(2);
  w.update(0, 1_000, true);
  assert.equal(w.current, Number.NEGATIVE_INFINITY, 'producer 1 was never heard from');
  w.update(1, 3_000);
  assert.equal(w.current, 3_000, 'producer 0 is idle');
  // Producer 0 active again: it holds the minimum back from now on (which never moves back).
  assert.equal(w.update(0, 1_000), false);
  w.update(1, 9_000);
  assert.equal(w.current, 3_000);
  w.update(0, 5_000);
  assert.equal(w.current, 5_000);
  // Producer 0 idle again: producer 1 alone holds the minimum.
  w.update(0, 6_000, true);
  assert.equal(w.current, 9_000);
  // Every producer idle: the greatest of their watermarks (Flink's valve flushes so).
  assert.equal(w.update(1, 9_500, true), true);
  assert.equal(w.current, 9_500);
});

test('producers that go idle together release the windows: the last one heard first as idle', () => {
  // Three producers passed every window and went idle; the fourth (a quiet partition whose task
  // moved before its first marker) is first heard idle, with no watermark of its own.
  const w = new RepartitionWatermarks(4);
  for (const p of [0, 1, 2]) w.update(p, 3_600_000);
  assert.equal(w.current, Number.NEGATIVE_INFINITY, 'producer 3 never heard from');
  w.update(0, 3_600_000, true);
  w.update(2, 3_600_000, true);
  w.update(1, 3_600_000, true);
  assert.equal(w.current, Number.NEGATIVE_INFINITY, 'producer 3 still never heard from');
  assert.equal(w.update(3, Number.NEGATIVE_INFINITY, true), true);
  assert.equal(w.current, 3_600_000);
  // Active again with a lower watermark: the watermark never moves back.
  assert.equal(w.update(3, 1_000), false);
  assert.equal(w.current, 3_600_000);
});

test('a checkpoint keeps each producer latest marker: a restored reader has the same minimum', () => {
  const w = new RepartitionWatermarks(3);
  w.update(0, 2_000);
  w.update(1, 3_000, true);
  const saved = w.snapshot();
  assert.deepEqual(saved, { watermarks: { 0: 2_000, 1: 3_000 }, idle: [1] });
  const restored = new RepartitionWatermarks(3);
  restored.restore(JSON.parse(JSON.stringify(saved)));
  assert.equal(restored.current, Number.NEGATIVE_INFINITY, 'producer 2 still unheard');
  restored.update(2, 10_000);
  assert.equal(restored.current, 2_000);
});

test('a marker of a producer outside the known count is refused', () => {
  const w = new RepartitionWatermarks(2);
  assert.throws(() => w.update(2, 1), { code: 'INTERNAL', message: /producer 2.*2 producers/ });
  assert.throws(() => new RepartitionWatermarks(0), { code: 'INTERNAL' });
});
