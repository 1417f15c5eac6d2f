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
  name: 'count_distinct',
  input: 'any',
  create: () => new Set(),
  add(acc, value) {
    if (value !== null && value !== undefined) acc.add(distinctValue(value));
    return acc;
  },
  merge: union,
  result: (acc) => acc.size,
};

/** The state of `f(DISTINCT x)`: the distinct values seen, and `f`'s accumulator over them. */
export interface DistinctState<A> {
  seen: Set<unknown>;
  folded: A;
}

/**
 * Wraps an aggregate of numbers so it sees each distinct non-null value once (`sum(DISTINCT x)`).
 * The distinct values are kept in a Set, and each new one is folded into `inner`'s accumulator as
 * it arrives, so `inner.check` sees the accumulator a new value would change. Merging folds the
 * smaller state's new values into the larger one, in the order of its Set.
 */
export function distinctOf<A>(inner: AggregateFunction<A>): AggregateFunction<DistinctState<A>> {
  const innerCheck = inner.check;
  /** Folds the values of `small` that `big` has not seen into `folded`, checking each first. */
  const foldNew = (big: Set<unknown>, small: Set<unknown>, folded: A, check: boolean): A => {
    let acc = folded;
    for (const v of small) {
      if (big.has(v)) continue;
      if (check) innerCheck?.(acc, v);
      acc = inner.add(acc, v);
    }
    return acc;
  };
  const ordered = (a: DistinctState<A>, b: DistinctState<A>) =>
    a.seen.size >= b.seen.size ? [a, b] : [b, a];
  return {
    name: `${inner.name}_distinct`,
    input: inner.input,
    create: () => ({ seen: new Set(), folded: inner.create() }),
    add(acc, value) {
      if (value === null || value === undefined) return acc;
      const v = distinctValue(value);
      if (acc.seen.has(v)) return acc;
      acc.seen.add(v);
      acc.folded = inner.add(acc.folded, v);
      return acc;
    },
    merge(a, b) {
      const [big, small] = ordered(a, b);
      big.folded = foldNew(big.seen, small.seen, big.folded, false);
      for (const v of small.seen) big.seen.add(v);
      return big;
    },
    result: (acc) => inner.result(acc.folded),
    ...(innerCheck
      ? {
          check(acc: DistinctState<A>, value: unknown) {
            if (!acc.seen.has(distinctValue(value))) innerCheck(acc.folded, value);
          },
          checkMerge(a: DistinctState<A>, b: DistinctState<A>) {
            const [big, small] = ordered(a, b);
            foldNew(big.seen, small.seen, structuredClone(big.folded), true);
          },
        }
      : {}),
  };
}
