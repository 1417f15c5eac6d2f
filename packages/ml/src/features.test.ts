import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { seededRandom } from '@sluice/core/testing';
import { FeatureError, FeatureSpec, stableHash, tokens } from './features.ts';

describe('numeric features', () => {
  test('standardize with the running mean and sample deviation of the values learned so far', () => {
    const random = seededRandom(3);
    const values = Array.from({ length: 200 }, () => 50 + 20 * random());
    const spec = new FeatureSpec([{ numeric: 'v', standardize: true, missing: 'dead_letter' }]);
    const state = spec.initialState();
    const x = new Float64Array(spec.width);
    values.forEach((v, i) => {
      spec.encode({ v }, state, x, true);
      const seen = values.slice(0, i + 1);
      const mean = seen.reduce((a, b) => a + b, 0) / seen.length;
      const sd = Math.sqrt(seen.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, seen.length - 1));
      const expected = i === 0 ? 0 : (v - mean) / sd;
      assert.ok(Math.abs(x[0] - expected) < 1e-9, `record ${i}: ${x[0]} vs ${expected}`);
    });
  });

  test('scoring without learning leaves the moments as they were', () => {
    const spec = new FeatureSpec([{ numeric: 'v', standardize: true, missing: 'dead_letter' }]);
    const state = spec.initialState();
    const x = new Float64Array(1);
    for (const v of [1, 2, 3, 4]) spec.encode({ v }, state, x, true);
    const before = structuredClone(state);
    spec.encode({ v: 100 }, state, x, false);
    assert.deepEqual(state, before);
    assert.ok(Math.abs(x[0] - (100 - 2.5) / Math.sqrt(5 / 3)) < 1e-12);
  });

  test('missing values follow the declared policy; non-numbers are refused without touching the state', () => {
    const spec = new FeatureSpec([
      { numeric: 'a', standardize: false, missing: 'zero' },
      { numeric: 'b', standardize: false, missing: 'mean' },
      { numeric: 'c', standardize: false, missing: 'dead_letter' },
    ]);
    const state = spec.initialState();
    const x = new Float64Array(spec.width);
    spec.encode({ a: 5, b: 10, c: 1 }, state, x, true);
    spec.encode({ a: 7, b: 20, c: 1 }, state, x, true);
    spec.encode({ a: null, c: 2 }, state, x, true);
    assert.deepEqual(Array.from(x), [0, 15, 2]);
    const before = structuredClone(state);
    assert.throws(() => spec.encode({ a: 1, b: 1 }, state, x, true), /'c' is missing/);
    assert.throws(() => spec.encode({ a: 1, b: 'x', c: 1 }, state, x, true), FeatureError);
    assert.throws(() => spec.encode({ a: Number.NaN, b: 1, c: 1 }, state, x, true), /not a finite number/);
    assert.deepEqual(state, before);
  });
});

describe('categorical features', () => {
  test('one-hot: a column per category in order of first appearance, `other` past the vocabulary bound', () => {
    const spec = new FeatureSpec([{ one_hot: 'c', max_categories: 2, missing: 'indicator' }]);
    assert.equal(spec.width, 4);
    const state = spec.initialState();
    const x = new Float64Array(spec.width);
    const row = (c: unknown, learn = true) => {
      spec.encode({ c }, state, x, learn);
      return Array.from(x);
    };
    assert.deepEqual(row('red'), [1, 0, 0, 0]);
    assert.deepEqual(row('blue'), [0, 1, 0, 0]);
    assert.deepEqual(row('green'), [0, 0, 1, 0]);
    assert.deepEqual(row('red'), [1, 0, 0, 0]);
    assert.deepEqual(row(null), [0, 0, 0, 1]);
    assert.deepEqual(state.features[0], ['red', 'blue']);
    assert.deepEqual(spec.columnNames(state), ['c=red', 'c=blue', 'c=<other>', 'c=<missing>']);
  });

  test('one-hot while scoring only does not grow the vocabulary', () => {
    const spec = new FeatureSpec([{ one_hot: 'c', max_categories: 4, missing: 'dead_letter' }]);
    const state = spec.initialState();
    const x = new Float64Array(spec.width);
    spec.encode({ c: 'new' }, state, x, false);
    assert.deepEqual(Array.from(x), [0, 0, 0, 0, 1]);
    assert.deepEqual(state.features[0], []);
    assert.throws(() => spec.encode({ c: '' }, state, x, false), /'c' is missing/);
  });

  test('hashed categories land in the bucket of their stable hash', () => {
    const spec = new FeatureSpec([{ hashed: 'merchant', buckets: 16, missing: 'indicator' }]);
    const state = spec.initialState();
    const x = new Float64Array(spec.width);
    for (const m of ['acme', 'globex', 'initech', 42]) {
      spec.encode({ merchant: m }, state, x, true);
      const expected = new Array(17).fill(0);
      expected[stableHash(String(m)) % 16] = 1;
      assert.deepEqual(Array.from(x), expected);
    }
    assert.throws(() => spec.encode({ merchant: { a: 1 } }, state, x, true), /not a category/);
  });

  test('text tokens are counted in their hashed buckets', () => {
    const spec = new FeatureSpec([{ text: 't', buckets: 1024, missing: 'indicator' }]);
    const state = spec.initialState();
    const x = new Float64Array(spec.width);
    spec.encode({ t: 'Free money, FREE prizes!' }, state, x, true);
    assert.deepEqual(tokens('Free money, FREE prizes!'), ['free', 'money', 'free', 'prizes']);
    const expected = new Array(1025).fill(0);
    for (const token of ['free', 'money', 'free', 'prizes']) expected[stableHash(token) % 1024] += 1;
    assert.deepEqual(Array.from(x), expected);
  });
});

describe('stableHash', () => {
  test('is FNV-1a with a final mix: fixed values, spread over buckets', () => {
    // An independent BigInt implementation of the definition: a change of hash would silently
    // re-bucket the columns of saved models.
    const reference = (text: string) => {
      let h = 2166136261;
      for (const ch of text) {
        h ^= ch.charCodeAt(0);
        h = Number((BigInt(h) * 16777619n) & 0xffffffffn);
      }
      h ^= h >>> 16;
      h = Number((BigInt(h) * 0x85ebca6bn) & 0xffffffffn);
      h ^= h >>> 13;
      h = Number((BigInt(h) * 0xc2b2ae35n) & 0xffffffffn);
      h ^= h >>> 16;
      return h >>> 0;
    };
    for (const text of ['', 'a', 'fraud', 'ünïcode', 'x'.repeat(100)])
      assert.equal(stableHash(text), reference(text));
    const counts = new Array(8).fill(0);
    for (let i = 0; i < 8000; i++) counts[stableHash(`key-${i}`) % 8]++;
    for (const c of counts) assert.ok(c > 850 && c < 1150, `bucket counts ${counts}`);
  });
});
