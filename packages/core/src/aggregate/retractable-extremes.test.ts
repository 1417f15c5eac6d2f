/**
 * The retractable min and max against a plain multiset: after every add and take-back the result
 * is the extreme of the values held, also across a checkpoint round trip of the accumulator and
 * a merge of two accumulators.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { seededRandom } from '../testing/random.ts';
import { roundTrip } from '../window/test-support.ts';
import { max, min } from './basic-aggregates.ts';
import { aggregateFunction } from './registry.ts';
import { type ExtremeCounts, maxRetract, minRetract } from './retractable-extremes.ts';

type Held = (number | string)[];

/** The smallest or largest value of `held` by a plain loop; null when empty. */
function extremeOf(held: Held, name: 'min' | 'max'): number | string | null {
  let best: number | string | null = null;
  for (const v of held) if (best === null || (name === 'min' ? v < best : v > best)) best = v;
  return best;
}

/** A random run of adds and take-backs of values `held` holds, checked after each step. */
function randomRun(name: 'min' | 'max', seed: number, value: (r: () => number) => number | string): void {
  const fn = name === 'min' ? minRetract : maxRetract;
  const random = seededRandom(seed);
  let acc = fn.create();
  const held: Held = [];
  for (let i = 0; i < 4000; i++) {
    if (held.length > 0 && random() < 0.45) {
      const v = held.splice(Math.floor(random() * held.length), 1)[0];
      acc = fn.retract!(acc, v);
    } else {
      const v = value(random);
      fn.check!(acc, v);
      held.push(v);
      acc = fn.add(acc, v);
    }
    // Now and then through the checkpoint codec, as a restore would hand it back.
    if (i % 500 === 250) acc = roundTrip(acc) as ExtremeCounts;
    assert.equal(fn.result(acc), extremeOf(held, name), `${name} after step ${i}`);
    assert.equal(acc.counts.size, new Set(held).size, 'one entry per distinct value held');
  }
}

describe('retractable min and max', () => {
  for (const name of ['min', 'max'] as const) {
    test(`${name} over numbers equals a plain loop after every add and take-back`, () => {
      randomRun(name, 3, (r) => Math.floor(r() * 60) - 20);
    });
    test(`${name} over strings equals a plain loop after every add and take-back`, () => {
      randomRun(name, 5, (r) => `k${Math.floor(r() * 40)}`);
    });
  }

  test('taking back a value the group does not hold, or NULL, changes nothing', () => {
    let acc = minRetract.add(minRetract.create(), 4);
    acc = minRetract.retract!(acc, 9);
    acc = minRetract.retract!(acc, '4');
    acc = minRetract.retract!(acc, null);
    assert.equal(minRetract.result(acc), 4);
    acc = minRetract.retract!(acc, 4);
    assert.equal(minRetract.result(acc), null);
    assert.equal(acc.counts.size, 0);
  });

  test('a value of another kind than the group’s is refused by check and checkRetract, skipped by add', () => {
    const acc = maxRetract.add(maxRetract.create(), 'b');
    assert.throws(() => maxRetract.check!(acc, 3), /max of this group holds strings/);
    assert.throws(() => maxRetract.checkRetract!(acc, 3), /max of this group holds strings/);
    assert.equal(maxRetract.result(maxRetract.add(acc, 3)), 'b');
  });

  test('merge holds both groups’ values: taking back the merged extreme finds the next one', () => {
    const a = [5, 1, 9].reduce((acc, v) => minRetract.add(acc, v), minRetract.create());
    const b = [1, 3].reduce((acc, v) => minRetract.add(acc, v), minRetract.create());
    let merged = minRetract.merge(a, b);
    assert.equal(minRetract.result(merged), 1);
    merged = minRetract.retract!(merged, 1);
    assert.equal(minRetract.result(merged), 1, 'one of the two 1s is left');
    merged = minRetract.retract!(merged, 1);
    assert.equal(minRetract.result(merged), 3);
  });

  test('the registry gives the retractable forms only when asked; the append-only forms stay', () => {
    assert.equal(aggregateFunction('min'), min);
    assert.equal(aggregateFunction('MAX'), max);
    assert.equal(min.retract, undefined);
    assert.equal(aggregateFunction('min', { retract: true }), minRetract);
    assert.equal(aggregateFunction('max', { retract: true }), maxRetract);
    assert.notEqual(minRetract.name, min.name, 'another accumulator layout, another name');
  });
});
