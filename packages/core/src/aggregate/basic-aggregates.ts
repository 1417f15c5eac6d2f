/**
 * The exact aggregates: count, sum, avg, min, max, first and last.
 *
 * Accumulators are numbers or small arrays so a group costs little memory and `add` allocates
 * nothing. count, sum and avg can take a value back (`retract`), for aggregates over updating
 * inputs. Sums stay finite: `check` refuses a value that would take one beyond the range of a
 * double, and min/max refuse a value of another kind than the group's.
 */

import { SluiceError } from '../errors.ts';
import { type AggregateFunction, DOUBLE_RANGE, numericValue } from './aggregate-function.ts';

/** `count(*)`: counts records, NULL or not. */
export const countStar: AggregateFunction<number> = {
  name: 'count',
  input: 'any',
  create: () => 0,
  add: (acc) => acc + 1,
  retract: (acc) => acc - 1,
  merge: (a, b) => a + b,
  result: (acc) => acc,
};

/** `count(x)`: counts non-null values. */
export const countValues: AggregateFunction<number> = {
  name: 'count',
  input: 'any',
  create: () => 0,
  add: (acc, value) => (value === null || value === undefined ? acc : acc + 1),
  retract: (acc, value) => (value === null || value === undefined ? acc : acc - 1),
  merge: (a, b) => a + b,
  result: (acc) => acc,
};

/** Throws NUMBER_OUT_OF_RANGE unless `sum + x` is finite. */
function checkSum(sum: number, x: number, what: string): void {
  const total = sum + x;
  if (total - total === 0) return;
  throw new SluiceError(
    'NUMBER_OUT_OF_RANGE',
    `adding ${x} to the ${what} so far (${sum}) would overflow ${DOUBLE_RANGE}; the result keeps its value without this record`,
  );
}

/** `sum(x)`: adds finite numbers; null when there were none. */
export const sum: AggregateFunction<number | null> = {
  name: 'sum',
  input: 'number',
  create: () => null,
  add(acc, value) {
    const x = numericValue(value);
    if (Number.isNaN(x)) return acc;
    return acc === null ? x : acc + x;
  },
  retract(acc, value) {
    const x = numericValue(value);
    if (Number.isNaN(x)) return acc;
    return acc === null ? -x : acc - x;
  },
  merge: (a, b) => (a === null ? b : b === null ? a : a + b),
  result: (acc) => acc,
  check(acc, value) {
    if (acc !== null) checkSum(acc, numericValue(value), 'sum');
  },
  checkMerge(a, b) {
    if (a !== null && b !== null) checkSum(a, b, 'sum');
  },
};

/** `avg(x)`: arithmetic mean of finite numbers, as `[sum, count]`; null when there were none. */
export const avg: AggregateFunction<[number, number]> = {
  name: 'avg',
  input: 'number',
  create: () => [0, 0],
  add(acc, value) {
    const x = numericValue(value);
    if (Number.isNaN(x)) return acc;
    acc[0] += x;
    acc[1] += 1;
    return acc;
  },
  retract(acc, value) {
    const x = numericValue(value);
    if (Number.isNaN(x)) return acc;
    acc[0] -= x;
    acc[1] -= 1;
    return acc;
  },
  merge(a, b) {
    a[0] += b[0];
    a[1] += b[1];
    return a;
  },
  result: (acc) => (acc[1] === 0 ? null : acc[0] / acc[1]),
  check: (acc, value) => checkSum(acc[0], numericValue(value), 'sum of the average'),
  checkMerge: (a, b) => checkSum(a[0], b[0], 'sum of the average'),
};

/** What min and max take: a finite number or a string. */
export type Ordered = number | string;

/** A value min/max can order: a finite number or a string; null for anything else. */
export function orderedValue(value: unknown): Ordered | null {
  if (typeof value === 'string') return value;
  return typeof value === 'number' && value - value === 0 ? value : null;
}

/** Throws EXPR_EVAL unless `x` is of the same kind as the group's `acc`. */
export function checkKind(fn: string, acc: Ordered | null, x: unknown): void {
  if (acc === null || typeof acc === typeof x) return;
  const held = typeof acc === 'number' ? 'numbers' : 'strings';
  const text = String(x);
  const shown = text.length > 40 ? `${text.slice(0, 39)}…` : text;
  const got = typeof x === 'string' ? `the string '${shown}'` : `the ${typeof x} ${shown}`;
  throw new SluiceError(
    'EXPR_EVAL',
    `${fn} of this group holds ${held}, and ${got} cannot be compared with them; give every value one kind, e.g. with CAST(x AS DOUBLE) or CAST(x AS VARCHAR)`,
  );
}

/**
 * `min` or `max` over one kind of value per group: numbers order numerically, strings by UTF-16
 * code units.
 */
function extreme(name: 'min' | 'max'): AggregateFunction<Ordered | null> {
  const better = name === 'min' ? (a: Ordered, b: Ordered) => a < b : (a: Ordered, b: Ordered) => a > b;
  return {
    name,
    input: 'ordered',
    create: () => null,
    add(acc, value) {
      const x = orderedValue(value);
      if (x === null || (acc !== null && typeof acc !== typeof x)) return acc;
      return acc === null || better(x, acc) ? x : acc;
    },
    merge: (a, b) => (a === null ? b : b === null || typeof a !== typeof b ? a : better(b, a) ? b : a),
    result: (acc) => acc,
    check: (acc, value) => checkKind(name, acc, value),
    checkMerge: (a, b) => checkKind(name, a, b),
  };
}

/** `min(x)`: the smallest number, or the smallest string; null when none. */
export const min: AggregateFunction<Ordered | null> = extreme('min');

/** `max(x)`: the largest number, or the largest string; null when none. */
export const max: AggregateFunction<Ordered | null> = extreme('max');

/** `first(x)`: the first non-null value in arrival order. */
export const first: AggregateFunction<unknown> = {
  name: 'first',
  input: 'any',
  create: () => null,
  add: (acc, value) => (acc !== null || value === undefined ? acc : value),
  merge: (a, b) => (a !== null ? a : b),
  result: (acc) => acc,
};

/** `last(x)`: the last non-null value in arrival order. */
export const last: AggregateFunction<unknown> = {
  name: 'last',
  input: 'any',
  create: () => null,
  add: (acc, value) => (value === null || value === undefined ? acc : value),
  merge: (a, b) => (b !== null ? b : a),
  result: (acc) => acc,
};
