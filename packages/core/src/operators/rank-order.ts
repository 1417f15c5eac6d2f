/**
 * The order of `top_n` and `window_top_n`: records ranked by their `order_by` terms, each
 * ascending or descending, NULL last either way, ties kept in arrival order.
 */

import { SluiceError } from '../errors.ts';
import type { Row } from '../record.ts';

/** One `order_by` term. */
export interface OrderTerm {
  /** The expression as written, for messages. */
  readonly text: string;
  readonly value: (record: Row) => unknown;
  readonly descending: boolean;
}

/** A record's `order_by` values (null for NULL). */
export type SortValues = (number | string | boolean | null)[];

/** A record in a ranked list, with its `order_by` values. */
export interface Ranked {
  row: Row;
  sort: SortValues;
}

/** The record's `order_by` values; throws EXPR_EVAL for a value that cannot be ordered. */
export function sortValues(terms: readonly OrderTerm[], record: Row): SortValues {
  const sort: SortValues = new Array(terms.length);
  for (let t = 0; t < terms.length; t++) {
    const v = terms[t].value(record);
    if (v === null || v === undefined) sort[t] = null;
    else if (typeof v === 'string' || typeof v === 'boolean') sort[t] = v;
    else if (typeof v === 'number' && !Number.isNaN(v)) sort[t] = v;
    else {
      throw new SluiceError(
        'EXPR_EVAL',
        `order_by '${terms[t].text}' is ${typeof v === 'number' ? 'NaN' : `a ${typeof v}`}; it must give a number, text or a boolean`,
        { path: 'order_by' },
      );
    }
  }
  return sort;
}

/**
 * < 0 when `a` ranks before `b`, > 0 after, 0 when equal on every term. Throws EXPR_EVAL when a
 * term gives two kinds of value (text against a number).
 */
export function compareSort(terms: readonly OrderTerm[], a: SortValues, b: SortValues): number {
  for (let t = 0; t < terms.length; t++) {
    const x = a[t];
    const y = b[t];
    if (x === y) continue;
    if (x === null) return 1;
    if (y === null) return -1;
    if (typeof x !== typeof y) {
      throw new SluiceError(
        'EXPR_EVAL',
        `order_by '${terms[t].text}' gives ${typeof x === 'string' ? 'text' : `a ${typeof x}`} here and ${typeof y === 'string' ? 'text' : `a ${typeof y}`} in a kept row of the same key; one term must give one kind of value (CAST it)`,
        { path: 'order_by' },
      );
    }
    const c = x < y ? -1 : x > y ? 1 : 0;
    if (c !== 0) return terms[t].descending ? -c : c;
  }
  return 0;
}

/**
 * Where a row with `sort` goes in `list` (sorted): after every row ranking before it or equal to
 * it, so of two equal rows the earlier keeps the better rank — or, with `laterFirst`, before the
 * rows equal to it, so the later arrival does.
 */
export function rankPosition(
  terms: readonly OrderTerm[],
  list: readonly Ranked[],
  sort: SortValues,
  laterFirst = false,
): number {
  let lo = 0;
  let hi = list.length;
  const bound = laterFirst ? 1 : 0;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareSort(terms, sort, list[mid].sort) < bound) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
