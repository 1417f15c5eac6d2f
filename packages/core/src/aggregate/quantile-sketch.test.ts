import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deserialize, serialize } from 'node:v8';
import { seededRandom as random } from '../testing/random.ts';
import {
  QUANTILE_RELATIVE_ACCURACY as ALPHA,
  QUANTILE_EXACT_LIMIT,
  type QuantileSketch,
  quantileAdd,
  quantileCont,
  quantileCreate,
  quantileDisc,
  quantileMerge,
} from './quantile-sketch.ts';

const quantiles = [0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1];

function sketchOf(values: readonly number[], options: { exact?: boolean } = {}): QuantileSketch {
  const s = quantileCreate(options);
  for (const v of values) quantileAdd(s, v);
  return s;
}

/**
 * PostgreSQL's percentile_cont over sorted values (independent of the sketch): the exact answer
 * and the error the stated guarantee allows (α of each of the two values interpolated between).
 */
export function exactCont(sorted: readonly number[], q: number): { exact: number; bound: number } {
  const h = q * (sorted.length - 1);
  const lo = Math.floor(h);
  const f = h - lo;
  if (f === 0) return { exact: sorted[lo], bound: ALPHA * Math.abs(sorted[lo]) };
  const [a, b] = [sorted[lo], sorted[lo + 1]];
  return { exact: a + (b - a) * f, bound: ALPHA * ((1 - f) * Math.abs(a) + f * Math.abs(b)) };
}

/**
 * PostgreSQL's percentile_disc over sorted values: the first whose cumulative fraction reaches q,
 * found as PostgreSQL finds it (row ⌈q·n⌉ in double arithmetic, the first row for q = 0).
 */
export function exactDisc(sorted: readonly number[], q: number): number {
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1];
}

function assertAccurate(s: QuantileSketch, values: readonly number[], label: string): void {
  const sorted = [...values].sort((a, b) => a - b);
  for (const q of quantiles) {
    const cont = exactCont(sorted, q);
    const gotCont = quantileCont(s, q)!;
    assert.ok(
      Math.abs(gotCont - cont.exact) <= cont.bound * (1 + 1e-9) + 1e-12,
      `${label} cont q=${q}: got ${gotCont}, exact ${cont.exact}`,
    );
    const disc = exactDisc(sorted, q);
    const gotDisc = quantileDisc(s, q)!;
    assert.ok(
      Math.abs(gotDisc - disc) <= ALPHA * Math.abs(disc) * (1 + 1e-9) + 1e-12,
      `${label} disc q=${q}: got ${gotDisc}, exact ${disc}`,
    );
  }
  assert.equal(quantileCont(s, 0), sorted[0], `${label}: the minimum is exact`);
  assert.equal(quantileCont(s, 1), sorted[sorted.length - 1], `${label}: the maximum is exact`);
  assert.equal(quantileDisc(s, 0), sorted[0]);
  assert.equal(quantileDisc(s, 1), sorted[sorted.length - 1]);
}

/** Up to QUANTILE_EXACT_LIMIT values, the answers are PostgreSQL's, to the last bit. */
function assertExact(s: QuantileSketch, values: readonly number[], label: string): void {
  const sorted = [...values].sort((a, b) => a - b);
  for (const q of quantiles) {
    assert.equal(quantileCont(s, q), exactCont(sorted, q).exact, `${label} cont q=${q}`);
    assert.equal(quantileDisc(s, q), exactDisc(sorted, q), `${label} disc q=${q}`);
  }
}

describe('quantile sketch', () => {
  it('answers PostgreSQL’s definitions on the issue’s example: p95 of 1..4 is 3.85 (cont) and 4 (disc)', () => {
    const s = sketchOf([4, 2, 1, 3]);
    assert.equal(quantileCont(s, 0.95), 3.8499999999999996); // what PostgreSQL answers
    assert.equal(quantileDisc(s, 0.95), 4);
    assert.equal(quantileCont(s, 0.5), 2.5);
    assert.equal(quantileDisc(s, 0.5), 2);
    const approximate = sketchOf([1, 2, 3, 4], { exact: false });
    assert.ok(Math.abs(quantileCont(approximate, 0.95)! - 3.85) <= ALPHA * 3.85);
    assert.equal(quantileDisc(approximate, 0.95), 4);
  });

  it('is exact up to QUANTILE_EXACT_LIMIT values, then within the stated error; merging keeps that', () => {
    const r = random(3);
    const values = Array.from({ length: QUANTILE_EXACT_LIMIT + 1 }, () => (r() - 0.3) * 1000);
    const atLimit = values.slice(0, QUANTILE_EXACT_LIMIT);
    assertExact(sketchOf(atLimit), atLimit, 'at the limit');
    const halves = quantileMerge(sketchOf(atLimit.slice(0, 100)), sketchOf(atLimit.slice(100)));
    assertExact(halves, atLimit, 'merged to the limit');
    const past = sketchOf(values);
    assert.equal(past.exact, null);
    assertAccurate(past, values, 'past the limit');
    const mergedPast = quantileMerge(sketchOf(values.slice(0, 200)), sketchOf(values.slice(200)));
    assert.deepEqual(
      quantiles.map((q) => quantileCont(mergedPast, q)),
      quantiles.map((q) => quantileCont(past, q)),
    );
  });

  const rnd = random(42);
  const datasets: { [name: string]: number[] } = {
    uniform: Array.from({ length: 100_000 }, () => rnd() * 1000),
    lognormal: Array.from({ length: 100_000 }, () => {
      const z = Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
      return Math.exp(3 + 2 * z);
    }),
    'mixed signs with zeros': Array.from({ length: 50_000 }, () => {
      const u = rnd();
      return u < 0.1 ? 0 : (u - 0.55) * 10 ** (1 + Math.floor(rnd() * 6));
    }),
    integers: Array.from({ length: 20_000 }, () => Math.floor(rnd() * 100)),
  };

  for (const [name, values] of Object.entries(datasets)) {
    it(`answers percentile_cont and percentile_disc within the stated error: ${name}`, () => {
      assertAccurate(sketchOf(values), values, name);
    });
  }

  it('is within the stated error on many small random inputs (where interpolation matters most)', () => {
    const r = random(7);
    for (let trial = 0; trial < 500; trial++) {
      const n = 1 + Math.floor(r() * 40);
      const spread = 10 ** Math.floor(r() * 8 - 3);
      const values = Array.from({ length: n }, () => {
        const u = r();
        return u < 0.05 ? 0 : (r() < 0.2 ? -1 : 1) * r() * spread;
      });
      assertAccurate(sketchOf(values, { exact: false }), values, `trial ${trial} (n=${n})`);
      assertExact(sketchOf(values), values, `trial ${trial} (n=${n}), exact`);
    }
  });

  it('merges: the merge of parts answers like the sketch of the whole', () => {
    const values = datasets['mixed signs with zeros'];
    const parts = [values.slice(0, 10_000), values.slice(10_000, 35_000), values.slice(35_000)];
    const merged = parts.map((p) => sketchOf(p)).reduce(quantileMerge);
    const whole = sketchOf(values);
    for (const read of [quantileCont, quantileDisc]) {
      assert.deepEqual(
        quantiles.map((q) => read(merged, q)),
        quantiles.map((q) => read(whole, q)),
      );
    }
    assertAccurate(merged, values, 'merged');
  });

  it('interpolates between extreme values without overflowing', () => {
    const s = sketchOf([-1.7e308, 1.7e308]);
    assert.equal(quantileCont(s, 0.5), 0);
    assert.ok(Number.isFinite(quantileCont(s, 0.25)!));
  });

  it('is empty-safe, ignores non-finite values and survives serialization', () => {
    const s = quantileCreate();
    assert.equal(quantileCont(s, 0.5), null);
    assert.equal(quantileDisc(s, 0.5), null);
    quantileAdd(s, Number.NaN);
    quantileAdd(s, Number.POSITIVE_INFINITY);
    assert.equal(s.count, 0);
    quantileAdd(s, 7);
    assert.equal(quantileCont(s, 0.5), 7);
    assert.equal(quantileDisc(s, 0.5), 7);
    const copy = deserialize(serialize(sketchOf(datasets.uniform))) as QuantileSketch;
    assertAccurate(copy, datasets.uniform, 'copy');
  });
});
