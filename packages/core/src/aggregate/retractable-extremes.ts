/**
 * `min` and `max` that can take a value back, for aggregates over updating inputs (a GROUP BY of
 * a GROUP BY, an aggregate over a regular join's changelog).
 *
 * The append-only `min`/`max` keep one value, which cannot be undone: once the smallest value is
 * taken back, the next smallest is gone. These keep every distinct value with the number of times
 * it was added and not taken back, plus the current extreme. Adding is a map update and one
 * comparison; taking a value back is a map update, and when the last copy of the current extreme
 * leaves, one scan of the distinct values for the next one. The accumulator is plain data (a
 * plain object holding a Map) so it checkpoints as it is; its size is bounded by the number of
 * distinct values of the group, not by the number of rows.
 *
 * The registry gives these forms only where the input retracts (`AggregateOptions.retract`): an
 * append-only aggregate keeps the one-value accumulator.
 */

import type { AggregateFunction } from './aggregate-function.ts';
import { checkKind, type Ordered, orderedValue } from './basic-aggregates.ts';

/** Every value a group holds, with its count, and the current extreme (null when none). */
export interface ExtremeCounts {
  /** The smallest (min) or largest (max) key of `counts`; null exactly when `counts` is empty. */
  best: Ordered | null;
  /** Each distinct value held, of one kind (numbers or strings), with how many times it is held (> 0). */
  counts: Map<Ordered, number>;
}

/** The extreme of `counts`' keys by `better`, or null when it is empty. */
function extremeOf(
  counts: Map<Ordered, number>,
  better: (a: Ordered, b: Ordered) => boolean,
): Ordered | null {
  let best: Ordered | null = null;
  for (const value of counts.keys()) if (best === null || better(value, best)) best = value;
  return best;
}

function retractableExtreme(name: 'min' | 'max'): AggregateFunction<ExtremeCounts> {
  const better = name === 'min' ? (a: Ordered, b: Ordered) => a < b : (a: Ordered, b: Ordered) => a > b;
  return {
    // Another name than the one-value form's: the accumulators differ in layout.
    name: `${name}_retract`,
    input: 'ordered',
    create: () => ({ best: null, counts: new Map() }),
    add(acc, value) {
      const x = orderedValue(value);
      if (x === null || (acc.best !== null && typeof acc.best !== typeof x)) return acc;
      acc.counts.set(x, (acc.counts.get(x) ?? 0) + 1);
      if (acc.best === null || better(x, acc.best)) acc.best = x;
      return acc;
    },
    retract(acc, value) {
      const x = orderedValue(value);
      if (x === null) return acc;
      const held = acc.counts.get(x);
      // A value the group does not hold (never added, or of another kind) leaves it unchanged.
      if (held === undefined) return acc;
      if (held > 1) {
        acc.counts.set(x, held - 1);
        return acc;
      }
      acc.counts.delete(x);
      if (acc.best === x) acc.best = extremeOf(acc.counts, better);
      return acc;
    },
    merge(a, b) {
      if (b.best === null) return a;
      if (a.best === null) return b;
      if (typeof a.best !== typeof b.best) return a;
      for (const [value, n] of b.counts) a.counts.set(value, (a.counts.get(value) ?? 0) + n);
      if (better(b.best, a.best)) a.best = b.best;
      return a;
    },
    result: (acc) => acc.best,
    check: (acc, value) => checkKind(name, acc.best, value),
    checkMerge: (a, b) => checkKind(name, a.best, b.best),
    checkRetract: (acc, value) => checkKind(name, acc.best, value),
  };
}

/** `min(x)` over an updating input: as `min`, and each value can be taken back. */
export const minRetract: AggregateFunction<ExtremeCounts> = retractableExtreme('min');

/** `max(x)` over an updating input: as `max`, and each value can be taken back. */
export const maxRetract: AggregateFunction<ExtremeCounts> = retractableExtreme('max');
