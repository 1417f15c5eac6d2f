/**
 * Exact DISTINCT aggregation: `count(DISTINCT x)` and the DISTINCT form of other aggregates.
 */

import { type AggregateFunction, distinctValue } from './aggregate-function.ts';

/** Adds the smaller set into the larger one and returns the larger. */
function union(a: Set<unknown>, b: Set<unknown>): Set<unknown> {
  const [big, small] = a.size >= b.size ? [a, b] : [b, a];
  for (const v of small) big.add(v);
  return big;
}

/**
 * `count(DISTINCT x)`: counts distinct non-null values exactly, keeping them in a Set.
 * `1` and `'1'` are different values; objects compare by their JSON text.
 */
export const countDistinct: AggregateFunction<Set<unknown>> = {
  name: 'count',
  create: () => new Set(),
  add(acc, value) {
    if (value !== null && value !== undefined) acc.add(distinctValue(value));
    return acc;
  },
  merge: union,
  result: (acc) => acc.size,
};

/**
 * Wraps an aggregate so it sees each distinct non-null value once (`sum(DISTINCT x)`).
 * The distinct values are kept in a Set and folded through `inner` when the result is read.
 */
export function distinctOf(inner: AggregateFunction): AggregateFunction<Set<unknown>> {
  return {
    name: inner.name,
    create: () => new Set(),
    add(acc, value) {
      if (value !== null && value !== undefined) acc.add(distinctValue(value));
      return acc;
    },
    merge: union,
    result(acc) {
      let folded = inner.create();
      for (const v of acc) folded = inner.add(folded, v);
      return inner.result(folded);
    },
  };
}
