import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '@sluice/core/testing';
import { Adwin, detectorFromJson, PageHinkley } from './drift.ts';

/** A 0/1 error stream: rate `before` up to `change`, `after` from there on. */
function errors(seed: number, n: number, change: number, before: number, after: number): number[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, (_, i) => (random() < (i < change ? before : after) ? 1 : 0));
}

function detections(detector: { update(x: number): boolean }, xs: readonly number[]): number[] {
  const at: number[] = [];
  xs.forEach((x, i) => {
    if (detector.update(x)) at.push(i);
  });
  return at;
}

test('ADWIN: no alarm on a stationary stream; a jump of the error rate at 2000 is found within 300 values', () => {
  for (const seed of [1, 2, 3]) {
    assert.deepEqual(detections(new Adwin(), errors(seed, 4000, 4000, 0.1, 0.1)), [], `seed ${seed}`);
    const at = detections(new Adwin(), errors(seed, 4000, 2000, 0.1, 0.5));
    assert.ok(at.length >= 1, `seed ${seed}: no detection`);
    assert.ok(at[0] >= 2000 && at[0] < 2300, `seed ${seed}: first detection at ${at[0]}`);
  }
});

test('ADWIN: after a cut the window holds only values after the change', () => {
  const adwin = new Adwin();
  const xs = errors(4, 3000, 1500, 0.1, 0.6);
  let cutAt = -1;
  xs.forEach((x, i) => {
    if (adwin.update(x) && cutAt < 0) cutAt = i;
  });
  assert.ok(cutAt > 1500);
  // The window now spans no more than the post-change stretch, and its mean is the new rate.
  assert.ok(adwin.width <= 3000 - 1500, `width ${adwin.width}`);
  assert.ok(Math.abs(adwin.mean - 0.6) < 0.05, `mean ${adwin.mean}`);
  // The running sums equal those of the values the window holds: the last `width` values.
  const kept = xs.slice(xs.length - adwin.width);
  const mean = kept.reduce((a, b) => a + b) / kept.length;
  assert.ok(Math.abs(adwin.total - kept.reduce((a, b) => a + b)) < 1e-9);
  const ss = kept.reduce((s, x) => s + (x - mean) ** 2, 0);
  assert.ok(Math.abs(adwin.variance - ss) < 1e-6, `variance ${adwin.variance} vs ${ss}`);
});

test('Page–Hinkley: no alarm on a stationary stream; a rise of the mean at 1000 is found within 300 values', () => {
  for (const seed of [5, 6, 7]) {
    assert.deepEqual(detections(new PageHinkley(), errors(seed, 3000, 3000, 0.2, 0.2)), []);
    const at = detections(new PageHinkley(), errors(seed, 3000, 1000, 0.2, 0.6));
    assert.ok(at[0] >= 1000 && at[0] < 1300, `seed ${seed}: first detection at ${at[0]}`);
  }
});

test('ADWIN: a fall of the error shrinks the window but is no drift', () => {
  const adwin = new Adwin();
  assert.deepEqual(detections(adwin, errors(9, 4000, 2000, 0.5, 0.1)), []);
  assert.ok(adwin.width < 2100, `width ${adwin.width}`);
});

test('detectors resume from JSON exactly', () => {
  const xs = errors(8, 4000, 2000, 0.1, 0.5);
  for (const make of [() => new Adwin(), () => new PageHinkley()]) {
    const straight = detections(make(), xs);
    const first = make();
    const before = detections(first, xs.slice(0, 1700));
    const resumed = detectorFromJson(JSON.parse(JSON.stringify(first.toJSON())));
    const after = detections(resumed, xs.slice(1700)).map((i) => i + 1700);
    assert.deepEqual([...before, ...after], straight);
  }
});
