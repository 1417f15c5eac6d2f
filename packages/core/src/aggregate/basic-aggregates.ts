/**
 * The exact aggregates: count, sum, avg, min, max, first and last.
 *
 * Accumulators are numbers or small arrays so a group costs little memory and `add` allocates
 * nothing.
 */

import { type AggregateFunction, numericValue } from './aggregate-function.ts';

/** `count(*)`: counts records, NULL or not. */
export const countStar: AggregateFunction<number> = {
  name: 'count',
  create: () => 0,
  add: (acc) => acc + 1,
  merge: (a, b) => a + b,
  result: (acc) => acc,
};

/** `count(x)`: counts non-null values. */
export const countValues: AggregateFunction<number> = {
  name: 'count',
  create: () => 0,
  add: (acc, value) => (value === null || value === undefined ? acc : acc + 1),
  merge: (a, b) => a + b,
  result: (acc) => acc,
};

/** `sum(x)`: adds numeric values; null when no value was numeric. */
export const sum: AggregateFunction<number | null> = {
  name: 'sum',
  create: () => null,
  add(acc, value) {
    const x = numericValue(value);
    if (Number.isNaN(x)) return acc;
    return acc === null ? x : acc + x;
  },
  merge: (a, b) => (a === null ? b : b === null ? a : a + b),
  result: (acc) => acc,
};

/** `avg(x)`: arithmetic mean of numeric values, as `[sum, count]`; null when there were none. */
export const avg: AggregateFunction<[number, number]> = {
  name: 'avg',
  create: () => [0, 0],
  add(acc, value) {
    const x = numericValue(value);
    if (Number.isNaN(x)) return acc;
    acc[0] += x;
    acc[1] += 1;
    return acc;
  },
  merge(a, b) {
    a[0] += b[0];
    a[1] += b[1];
    return a;
  },
  result: (acc) => (acc[1] === 0 ? null : acc[0] / acc[1]),
};

type Ordered = number | string;

/** Reads a value min/max can order: a number (not NaN), a bigint as a number, or a string. */
function orderedValue(value: unknown): Ordered | null {
  switch (typeof value) {
    case 'number':
      return Number.isNaN(value) ? null : value;
    case 'string':
      return value;
    case 'bigint':
      return Number(value);
    default:
      return null;
  }
}

/** Numbers order numerically, strings by UTF-16 code units, and every number before any string. */
function less(a: Ordered, b: Ordered): boolean {
  if (typeof a === typeof b) return a < b;
  return typeof a === 'number';
}

/** `min(x)`: the smallest number or string (numbers sort before strings); null when none. */
export const min: AggregateFunction<Ordered | null> = {
  name: 'min',
  create: () => null,
  add(acc, value) {
    const x = orderedValue(value);
    if (x === null) return acc;
    return acc === null || less(x, acc) ? x : acc;
  },
  merge: (a, b) => (a === null ? b : b === null ? a : less(b, a) ? b : a),
  result: (acc) => acc,
};

/** `max(x)`: the largest number or string (strings sort after numbers); null when none. */
export const max: AggregateFunction<Ordered | null> = {
  name: 'max',
  create: () => null,
  add(acc, value) {
    const x = orderedValue(value);
    if (x === null) return acc;
    return acc === null || less(acc, x) ? x : acc;
  },
  merge: (a, b) => (a === null ? b : b === null ? a : less(a, b) ? b : a),
  result: (acc) => acc,
};

/** `first(x)`: the first non-null value in arrival order. */
export const first: AggregateFunction<unknown> = {
  name: 'first',
  create: () => null,
  add: (acc, value) => (acc !== null || value === undefined ? acc : value),
  merge: (a, b) => (a !== null ? a : b),
  result: (acc) => acc,
};

/** `last(x)`: the last non-null value in arrival order. */
export const last: AggregateFunction<unknown> = {
  name: 'last',
  create: () => null,
  add: (acc, value) => (value === null || value === undefined ? acc : value),
  merge: (a, b) => (b !== null ? b : a),
  result: (acc) => acc,
};
