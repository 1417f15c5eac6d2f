/**
 * A mergeable quantile sketch with 1 % relative accuracy, on the DDSketch idea.
 *
 * With γ = (1 + α) / (1 − α) and α = 0.01, a positive value x falls in bucket k = ⌈log_γ x⌉, which
 * covers (γ^(k−1), γ^k]; the bucket answers with 2γ^k / (γ + 1), which is within α of every value
 * in it. Negative values are counted in a mirror store by the bucket of −x, zero in its own
 * counter. Merging adds bucket counts, so a merged sketch is exactly the sketch of the union.
 * The number of buckets grows with the logarithm of the value range (about 1,400 span 10^−3 to
 * 10^9); it is not capped. NaN and ±Infinity are ignored like NULL.
 */

import { type AggregateFunction, numericValue } from './aggregate-function.ts';

/** Relative accuracy α of every quantile the sketch returns. */
export const QUANTILE_RELATIVE_ACCURACY = 0.01;
const GAMMA = (1 + QUANTILE_RELATIVE_ACCURACY) / (1 - QUANTILE_RELATIVE_ACCURACY);
const INVERSE_LOG_GAMMA = 1 / Math.log(GAMMA);
const LOG_GAMMA = Math.log(GAMMA);

/** The sketch: plain data, so it can go into a checkpoint. */
export interface QuantileSketch {
  /** Values counted, including zeros and negatives. */
  count: number;
  zeroCount: number;
  /** Bucket index → count, for positive values. */
  positive: Map<number, number>;
  /** Bucket index of −x → count, for negative values x. */
  negative: Map<number, number>;
  /** Exact extremes, to clamp answers; ±Infinity while empty. */
  min: number;
  max: number;
}

/** Returns an empty sketch. */
export function quantileCreate(): QuantileSketch {
  return {
    count: 0,
    zeroCount: 0,
    positive: new Map(),
    negative: new Map(),
    min: Number.POSITIVE_INFINITY,
    max: Number.NEGATIVE_INFINITY,
  };
}

function bucketIndex(magnitude: number): number {
  return Math.ceil(Math.log(magnitude) * INVERSE_LOG_GAMMA);
}

function bucketValue(index: number): number {
  return (2 * Math.exp(index * LOG_GAMMA)) / (GAMMA + 1);
}

/** Counts one finite number into the sketch (other values are ignored). */
export function quantileAdd(sketch: QuantileSketch, x: number): void {
  if (!Number.isFinite(x)) return;
  sketch.count++;
  if (x < sketch.min) sketch.min = x;
  if (x > sketch.max) sketch.max = x;
  if (x > 0) {
    const k = bucketIndex(x);
    sketch.positive.set(k, (sketch.positive.get(k) ?? 0) + 1);
  } else if (x < 0) {
    const k = bucketIndex(-x);
    sketch.negative.set(k, (sketch.negative.get(k) ?? 0) + 1);
  } else {
    sketch.zeroCount++;
  }
}

function addCounts(into: Map<number, number>, from: Map<number, number>): void {
  for (const [k, n] of from) into.set(k, (into.get(k) ?? 0) + n);
}

/** Adds `b` into `a` and returns `a`. */
export function quantileMerge(a: QuantileSketch, b: QuantileSketch): QuantileSketch {
  a.count += b.count;
  a.zeroCount += b.zeroCount;
  addCounts(a.positive, b.positive);
  addCounts(a.negative, b.negative);
  if (b.min < a.min) a.min = b.min;
  if (b.max > a.max) a.max = b.max;
  return a;
}

/** The representative value of the item of 0-based ascending rank `rank`. */
function valueAtRank(sketch: QuantileSketch, rank: number): number {
  let seen = 0;
  for (const k of [...sketch.negative.keys()].sort((x, y) => y - x)) {
    seen += sketch.negative.get(k)!;
    if (seen > rank) return -bucketValue(k);
  }
  seen += sketch.zeroCount;
  if (seen > rank) return 0;
  for (const k of [...sketch.positive.keys()].sort((x, y) => x - y)) {
    seen += sketch.positive.get(k)!;
    if (seen > rank) return bucketValue(k);
  }
  return sketch.max;
}

/**
 * Returns the value of rank ⌊q·(n − 1)⌋ (0-based, ascending) within 1 % relative error, clamped to
 * the exact min and max; null when the sketch is empty. `q` must be in [0, 1].
 */
export function quantileOf(sketch: QuantileSketch, q: number): number | null {
  if (sketch.count === 0) return null;
  const answer = valueAtRank(sketch, Math.floor(q * (sketch.count - 1)));
  return Math.min(sketch.max, Math.max(sketch.min, answer));
}

/** Builds `percentile(x, p)`: the p-quantile of numeric values (0 < p < 1) within 1 % relative error. */
export function percentile(p: number): AggregateFunction<QuantileSketch> {
  return {
    name: 'percentile',
    create: quantileCreate,
    add(acc, value) {
      if (value !== null && value !== undefined) quantileAdd(acc, numericValue(value));
      return acc;
    },
    merge: quantileMerge,
    result: (acc) => quantileOf(acc, p),
  };
}
