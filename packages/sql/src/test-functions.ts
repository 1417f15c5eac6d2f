/**
 * User-defined functions the SQL tests and golden files call: the aggregates `geo_mean(x)`
 * (whose `add` throws on a value that is not positive) and `longest(s)`, and the table function
 * `split_words(s)` (each word with its position; it throws on text holding '!').
 */

import {
  defineAggregateFunction,
  defineTableFunction,
  type UserAggregate,
  type UserTableFunction,
} from '@sluice/core';

/** The geometric mean of positive numbers: its accumulator the sum of logarithms and the count. */
const geoMean: UserAggregate<{ logs: number; n: number }> = {
  name: 'geo_mean',
  input: 'number',
  returns: 'number',
  create: () => ({ logs: 0, n: 0 }),
  add(acc, value) {
    if (typeof value !== 'number' || value <= 0)
      throw new Error(`takes positive numbers, got ${String(value)}`);
    return { logs: acc.logs + Math.log(value), n: acc.n + 1 };
  },
  retract: (acc, value) => ({ logs: acc.logs - Math.log(value as number), n: acc.n - 1 }),
  merge: (a, b) => ({ logs: a.logs + b.logs, n: a.n + b.n }),
  result: (acc) => (acc.n === 0 ? null : Math.round(Math.exp(acc.logs / acc.n) * 1e6) / 1e6),
};

/** The longest text (the earlier of equal lengths). */
const longest: UserAggregate<{ s: string | null }> = {
  name: 'longest',
  returns: 'string',
  create: () => ({ s: null }),
  add: (acc, value) => {
    const s = String(value);
    return acc.s === null || s.length > acc.s.length ? { s } : acc;
  },
  merge: (a, b) => (b.s !== null && (a.s === null || b.s.length > a.s.length) ? b : a),
  result: (acc) => acc.s,
};

/** Each word of a text (split on spaces) with its position from 1; no row for NULL or blank text. */
const splitWords: UserTableFunction = {
  name: 'split_words',
  columns: ['word', 'position'],
  params: 1,
  impl: (text) => {
    if (typeof text !== 'string') return null;
    if (text.includes('!')) throw new Error(`will not split '${text}'`);
    return text
      .split(' ')
      .filter((w) => w !== '')
      .map((w, i) => [w, i + 1]);
  },
};

/** Defines `geo_mean`, `longest` and `split_words` (again: a no-op). */
export function defineTestAggregates(): void {
  defineAggregateFunction(geoMean);
  defineAggregateFunction(longest);
  defineTableFunction(splitWords);
}
