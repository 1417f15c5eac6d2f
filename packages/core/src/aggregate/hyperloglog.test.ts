import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deserialize, serialize } from 'node:v8';
import { type HllSketch, hllAdd, hllCreate, hllEstimate, hllMerge } from './hyperloglog.ts';

function sketchOf(count: number, value: (i: number) => unknown): HllSketch {
  let s = hllCreate();
  for (let i = 0; i < count; i++) s = hllAdd(s, value(i));
  return s;
}

function relativeError(estimate: number, exact: number): number {
  return Math.abs(estimate - exact) / exact;
}

describe('HyperLogLog', () => {
  it('estimates 100k distinct strings within 2 %', () => {
    const s = sketchOf(100_000, (i) => `user-${i}`);
    assert.ok(s instanceof Uint8Array);
    const e = hllEstimate(s);
    assert.ok(relativeError(e, 100_000) < 0.02, `estimate ${e}`);
  });

  it('estimates 100k distinct numbers within 2 %, ignoring repeats', () => {
    let s = sketchOf(100_000, (i) => i * 3 + 0.5);
    for (let i = 0; i < 50_000; i++) s = hllAdd(s, i * 3 + 0.5);
    const e = hllEstimate(s);
    assert.ok(relativeError(e, 100_000) < 0.02, `estimate ${e}`);
  });

  it('stays within 2 % across cardinalities, through the sparse, linear-counting and raw ranges', () => {
    for (const n of [100, 500, 1_000, 5_000, 20_000, 40_000, 60_000, 80_000, 250_000, 1_000_000]) {
      const e = hllEstimate(sketchOf(n, (i) => `k${i}:${n}`));
      assert.ok(relativeError(e, n) < 0.02, `n=${n} estimate ${e}`);
    }
  });

  it('keeps 1, "1", 1n and true apart, and 0 and -0 together', () => {
    const s = sketchOf(6, (i) => [1, '1', 1n, true, 0, -0][i]);
    assert.equal(hllEstimate(s), 5);
  });

  it('merges to the sketch of the union, sparse or dense on either side', () => {
    const a = sketchOf(60_000, (i) => `v${i}`);
    const b = sketchOf(60_000, (i) => `v${i + 30_000}`);
    const small = sketchOf(300, (i) => `v${i + 200_000}`);
    const union = sketchOf(90_000, (i) => `v${i}`);
    const merged = hllMerge(hllMerge(a, b), small);
    const expected = hllMerge(
      union,
      sketchOf(300, (i) => `v${i + 200_000}`),
    );
    assert.deepEqual(merged, expected);
    assert.ok(relativeError(hllEstimate(merged), 90_300) < 0.02);
    const sparse = hllMerge(
      sketchOf(100, (i) => i),
      sketchOf(100, (i) => i + 50),
    );
    assert.ok(sparse instanceof Map);
    assert.ok(Math.abs(hllEstimate(sparse) - 150) <= 1);
    const densified = hllMerge(
      sketchOf(400, (i) => i),
      sketchOf(400, (i) => i + 400),
    );
    assert.ok(densified instanceof Uint8Array);
    assert.ok(relativeError(hllEstimate(densified), 800) < 0.02);
  });

  it('hashes stably: a serialized sketch keeps counting the same values as the same', () => {
    const s = sketchOf(2_000, (i) => `x${i}`);
    const copy = deserialize(serialize(s)) as HllSketch;
    const e1 = hllEstimate(sketchOf(2_000, (i) => `x${i}`));
    let c = copy;
    for (let i = 0; i < 2_000; i++) c = hllAdd(c, `x${i}`);
    assert.equal(hllEstimate(c), e1);
  });
});
