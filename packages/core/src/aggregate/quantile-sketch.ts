/**
 * A mergeable quantile sketch with 1 % relative accuracy, on the DDSketch idea.
 *
 * With γ = (1 + α) / (1 − α) and α = 0.01, a positive value x falls in bucket k = ⌈log_γ x⌉, which
 * covers (γ^(k−1), γ^k]; the bucket answers with 2γ^k / (γ + 1), which is within α of every value
 * in it. Negative values are counted in a mirror store by the bucket of −x, zero in its own
 * counter. Merging adds bucket counts, so a merged sketch is exactly the sketch of the union.
 * The number of buckets grows with the logarithm of the value range (about 1,400 span 10^−3 to
 * 10^9); it is not capped. The exact minimum and maximum are kept too: they answer the first and
 * last rank exactly and clamp every other answer. Only finite numbers are counted.
 *
 * Small groups are exact: up to {@link QUANTILE_EXACT_LIMIT} values the sketch keeps the values
 * themselves (no more memory than buckets for them would take) and answers exactly as PostgreSQL
 * does; the value that passes the limit moves them all into the buckets.
 *
 * Quantiles follow PostgreSQL's two definitions over the n values in ascending order (ranks
 * 0 … n − 1): `percentile_cont(q)` interpolates linearly between the values of rank ⌊q·(n − 1)⌋
 * and ⌈q·(n − 1)⌉; `percentile_disc(q)` is the value of rank ⌈q·n⌉ − 1 (rank 0 for q = 0), the first
 * value whose cumulative fraction reaches q.
 */

import { type AggregateFunction, numericValue } from './aggregate-function.ts';

/** Relative accuracy α of every quantile the sketch returns. */
export const QUANTILE_RELATIVE_ACCURACY = 0.01;
const GAMMA = (1 + QUANTILE_RELATIVE_ACCURACY) / (1 - QUANTILE_RELATIVE_ACCURACY);
const INVERSE_LOG_GAMMA = 1 / Math.log(GAMMA);
const LOG_GAMMA = Math.log(GAMMA);

/** Up to this many values a sketch keeps them exactly, and its quantiles are exact. */
export const QUANTILE_EXACT_LIMIT = 256;

/** The sketch: plain data, so it can go into a checkpoint. */
export interface QuantileSketch {
  /** Values counted, including zeros and negatives. */
  count: number;
  /**
   * The values themselves, in arrival order, while there are at most
   * {@link QUANTILE_EXACT_LIMIT}; then null, and the buckets count them. (Absent in sketches
   * checkpointed before it existed: they are in bucket mode.)
   */
  exact?: number[] | null;
  zeroCount: number;
  /** Bucket index → count, for positive values. */
  positive: Map<number, number>;
  /** Bucket index of −x → count, for negative values x. */
  negative: Map<number, number>;
  /** Exact extremes, to clamp answers; ±Infinity while empty. */
  min: number;
  max: number;
}

/**
 * Returns an empty sketch. It keeps its values exactly up to {@link QUANTILE_EXACT_LIMIT};
 * `{ exact: false }` starts it in bucket mode (for tests of the approximation).
 */
export function quantileCreate(options: { exact?: boolean } = {}): QuantileSketch {
  return {
    count: 0,
    exact: options.exact === false ? null : [],
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

function addToBuckets(sketch: QuantileSketch, x: number): void {
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

/** Moves the exactly kept values into the buckets. */
function toBuckets(sketch: QuantileSketch): void {
  if (!sketch.exact) return;
  for (const x of sketch.exact) addToBuckets(sketch, x);
  sketch.exact = null;
}

/** Counts one finite number into the sketch (other values are ignored). */
export function quantileAdd(sketch: QuantileSketch, x: number): void {
  if (!Number.isFinite(x)) return;
  sketch.count++;
  if (x < sketch.min) sketch.min = x;
  if (x > sketch.max) sketch.max = x;
  if (sketch.exact) {
    if (sketch.exact.length < QUANTILE_EXACT_LIMIT) {
      sketch.exact.push(x);
      return;
    }
    toBuckets(sketch);
  }
  addToBuckets(sketch, x);
}

function addCounts(into: Map<number, number>, from: Map<number, number>): void {
  for (const [k, n] of from) into.set(k, (into.get(k) ?? 0) + n);
}

/**
 * Adds `b` into `a` and returns `a` (`b` may be changed too). The result is the sketch of the
 * union: exact while the two together have at most {@link QUANTILE_EXACT_LIMIT} values.
 */
export function quantileMerge(a: QuantileSketch, b: QuantileSketch): QuantileSketch {
  if (a.exact && b.exact && a.exact.length + b.exact.length <= QUANTILE_EXACT_LIMIT) {
    for (const x of b.exact) a.exact.push(x);
  } else {
    toBuckets(a);
    toBuckets(b);
    a.zeroCount += b.zeroCount;
    addCounts(a.positive, b.positive);
    addCounts(a.negative, b.negative);
  }
  a.count += b.count;
  if (b.min < a.min) a.min = b.min;
  if (b.max > a.max) a.max = b.max;
  return a;
}

/**
 * The values of ascending 0-based ranks `lo` ≤ `hi`: exact while the sketch keeps its values,
 * otherwise each within α relative error, clamped to the exact extremes (rank 0 is the exact
 * minimum and rank count − 1 the exact maximum).
 */
function valuesAtRanks(sketch: QuantileSketch, lo: number, hi: number): [number, number] {
  if (sketch.exact) {
    const sorted = Float64Array.from(sketch.exact).sort();
    return [sorted[lo], sorted[hi]];
  }
  const found: number[] = [];
  const ranks = [lo, hi];
  let seen = 0;
  const visit = (n: number, value: number) => {
    seen += n;
    while (found.length < 2 && seen > ranks[found.length]) found.push(value);
  };
  for (const k of [...sketch.negative.keys()].sort((x, y) => y - x)) {
    visit(sketch.negative.get(k)!, -bucketValue(k));
  }
  visit(sketch.zeroCount, 0);
  for (const k of [...sketch.positive.keys()].sort((x, y) => x - y)) {
    visit(sketch.positive.get(k)!, bucketValue(k));
  }
  while (found.length < 2) found.push(sketch.max);
  const exact = (rank: number, value: number) =>
    rank <= 0
      ? sketch.min
      : rank >= sketch.count - 1
        ? sketch.max
        : Math.min(sketch.max, Math.max(sketch.min, value));
  return [exact(lo, found[0]), exact(hi, found[1])];
}

/**
 * PostgreSQL's `percentile_cont(q)`: linear interpolation between the values of ranks
 * ⌊q·(n − 1)⌋ and ⌈q·(n − 1)⌉ (`a + (b − a)·f`, as PostgreSQL computes it); null when the
 * sketch is empty. Exact while the sketch keeps its values; otherwise each of the two values is
 * within α relative error, so the answer is within α of the exact one when they have the same sign,
 * and within α of the larger of their magnitudes otherwise. `q` must be in [0, 1].
 */
export function quantileCont(sketch: QuantileSketch, q: number): number | null {
  if (sketch.count === 0) return null;
  const h = q * (sketch.count - 1);
  const lo = Math.floor(h);
  const f = h - lo;
  const [a, b] = valuesAtRanks(sketch, lo, f === 0 ? lo : lo + 1);
  if (f === 0 || a === b) return a;
  const step = b - a;
  return step - step === 0 ? a + step * f : a * (1 - f) + b * f;
}

/**
 * PostgreSQL's `percentile_disc(q)`: the value of rank ⌈q·n⌉ − 1 (rank 0 for q = 0), exact while
 * the sketch keeps its values and otherwise within α relative error; null when the sketch is
 * empty. `q` must be in [0, 1].
 */
export function quantileDisc(sketch: QuantileSketch, q: number): number | null {
  if (sketch.count === 0) return null;
  const rank = Math.max(0, Math.ceil(q * sketch.count) - 1);
  return valuesAtRanks(sketch, rank, rank)[0];
}

/**
 * Builds `percentile_cont(x, q)` (also `percentile(x, q)`) or `percentile_disc(x, q)` over finite
 * numbers, 0 ≤ q ≤ 1, within 1 % relative error. Every kind keeps the same sketch, so they share
 * the name `percentile`.
 */
export function percentile(q: number, kind: 'cont' | 'disc'): AggregateFunction<QuantileSketch> {
  const read = kind === 'cont' ? quantileCont : quantileDisc;
  return {
    name: 'percentile',
    input: 'number',
    create: quantileCreate,
    add(acc, value) {
      const x = numericValue(value);
      if (!Number.isNaN(x)) quantileAdd(acc, x);
      return acc;
    },
    merge: quantileMerge,
    result: (acc) => read(acc, q),
  };
}
