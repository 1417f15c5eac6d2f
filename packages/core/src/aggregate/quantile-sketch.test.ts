import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deserialize, serialize } from 'node:v8';
import { seededRandom as random } from '../testing/random.ts';
import {
  QUANTILE_RELATIVE_ACCURACY,
  type QuantileSketch,
  quantileAdd,
  quantileCreate,
  quantileMerge,
  quantileOf,
} from './quantile-sketch.ts';

const quantiles = [0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1];

function sketchOf(values: readonly number[]): QuantileSketch {
  const s = quantileCreate();
  for (const v of values) quantileAdd(s, v);
  return s;
}

function assertAccurate(s: QuantileSketch, values: readonly number[], label: string): void {
  const sorted = [...values].sort((a, b) => a - b);
  for (const q of quantiles) {
    const exact = sorted[Math.floor(q * (sorted.length - 1))];
    const got = quantileOf(s, q)!;
    const tolerance = QUANTILE_RELATIVE_ACCURACY * Math.abs(exact) + 1e-12;
    assert.ok(Math.abs(got - exact) <= tolerance, `${label} q=${q}: got ${got}, exact ${exact}`);
  }
}

describe('quantile sketch', () => {
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
    it(`answers every quantile within 1 % relative error: ${name}`, () => {
      assertAccurate(sketchOf(values), values, name);
    });
  }

  it('merges: the merge of parts answers like the sketch of the whole', () => {
    const values = datasets['mixed signs with zeros'];
    const parts = [values.slice(0, 10_000), values.slice(10_000, 35_000), values.slice(35_000)];
    const merged = parts.map(sketchOf).reduce(quantileMerge);
    const whole = sketchOf(values);
    assert.deepEqual(
      quantiles.map((q) => quantileOf(merged, q)),
      quantiles.map((q) => quantileOf(whole, q)),
    );
    assertAccurate(merged, values, 'merged');
  });

  it('is empty-safe, ignores non-finite values and survives serialization', () => {
    const s = quantileCreate();
    assert.equal(quantileOf(s, 0.5), null);
    quantileAdd(s, Number.NaN);
    quantileAdd(s, Number.POSITIVE_INFINITY);
    assert.equal(s.count, 0);
    quantileAdd(s, 7);
    assert.equal(quantileOf(s, 0.5), 7);
    const copy = deserialize(serialize(sketchOf(datasets.uniform))) as QuantileSketch;
    assertAccurate(copy, datasets.uniform, 'copy');
  });
});
