/**
 * The aggregate function contract shared by window aggregates, keyed aggregates and SQL.
 */

/**
 * Folds values into an accumulator and reads a result from it.
 *
 * Accumulators are structured-cloneable plain data (numbers, strings, arrays, plain objects, Maps,
 * Sets, typed arrays; never class instances) because they go into checkpoints through
 * `v8.serialize`. NULL and undefined values leave the accumulator unchanged, except for `count(*)`.
 */
export interface AggregateFunction<A = unknown> {
  readonly name: string;
  /** Returns a fresh, empty accumulator. */
  create(): A;
  /** Adds one value and returns the accumulator to keep, which may be `acc` itself, modified. */
  add(acc: A, value: unknown): A;
  /**
   * Combines two accumulators (session merging, partial aggregation) and returns the result.
   * It may modify and return either argument: callers keep only the returned value. For
   * order-sensitive functions (`first`, `last`), `a` holds the earlier values.
   */
  merge(a: A, b: A): A;
  /** Reads the current result; the accumulator stays usable. Empty input gives null (count: 0). */
  result(acc: A): unknown;
}

/** How an aggregate call is written: `count(*)`, `count(DISTINCT x)`, `percentile(x, 0.99)`. */
export interface AggregateOptions {
  /** `f(DISTINCT x)`: each distinct non-null value counts once. */
  distinct?: boolean;
  /** `count(*)`: counts records, not values. Only `count` accepts it. */
  star?: boolean;
  /** Constant arguments after the value, e.g. the fraction of `percentile(x, p)`. */
  params?: readonly unknown[];
}

/**
 * Reads a value as a number for the numeric aggregates, or NaN when it is not numeric.
 *
 * Numbers are taken as they are, bigints and numeric strings are converted; NULL, booleans,
 * objects and non-numeric strings give NaN, which the aggregates ignore like NULL.
 */
export function numericValue(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') return value.trim() === '' ? Number.NaN : Number(value);
  if (typeof value === 'bigint') return Number(value);
  return Number.NaN;
}

/**
 * Turns a value into something a Set compares by value: primitives stay as they are, objects
 * and arrays become their JSON text behind a NUL tag.
 */
export function distinctValue(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  return `\u0000${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))}`;
}
