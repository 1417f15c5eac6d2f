/**
 * Running accumulators of the aggregates in a pattern's conditions (`avg(A.price)`, `sum(price)`,
 * `min`, `max`, `count` of an expression), so that a test reads an aggregate in O(1) instead of
 * rereading every record of its stage (Flink CEP keeps running accumulators the same way).
 *
 * Each aggregate of the conditions is a slot; a match holds, in `MatchData.acc`, three values per
 * slot — the count of non-NULL values, their sum, the best value so far (min / max) — folded in
 * as each record is taken (`fold`, called by the matcher's `take`). A match is immutable and
 * shared by the threads that branch from it, and a stage never loses a record (a branch is a new
 * match extending its parent), so each match copies its parent's array and adds one record:
 * min and max over a growing run stay O(1).
 *
 * Failures keep their old meaning: a value that cannot be aggregated (a string in `sum`, an
 * expression that throws) marks the slot with count −1, and a read of a marked slot rereads the
 * stage's records as before — which throws the same error for the same record.
 *
 * `acc` is part of checkpoints (plain numbers and values); a match without it, or with an array
 * of another length (written before this existed), has it rebuilt from `MatchData.trail` on first
 * use, which the conditions that aggregate always keep.
 */

import { SluiceError } from '../errors.ts';
import type { Row } from '../record.ts';
import type { MatchData } from './pattern-compile.ts';

/** The reserved field an aggregate's argument reads each record through. */
export const ROW = '$row';

/** One aggregate of a condition: its function, the stage it reads (−1: every record), its argument. */
export interface AggregateSlot {
  readonly fn: string;
  readonly stage: number;
  readonly value: (row: Row) => unknown;
}

/** Count −1: a value could not be aggregated; reads reread the records. */
const POISONED = -1;

/** The aggregates of a pattern's conditions and their fold. */
export class Accumulators {
  readonly slots: AggregateSlot[] = [];

  /** Registers an aggregate; returns its slot. */
  add(slot: AggregateSlot): number {
    this.slots.push(slot);
    return this.slots.length - 1;
  }

  /** The accumulators of `prev` (or none) with `record` taken into `stage`: a new array. */
  fold(prev: MatchData | null, stage: number, record: Row): unknown[] {
    const acc = prev === null ? this.#empty() : this.of(prev).slice();
    this.#add(acc, stage, record);
    return acc;
  }

  /** `match`'s accumulators, rebuilt from its records (and kept on it) when it has none. */
  of(match: MatchData): unknown[] {
    const acc = match.acc;
    if (acc !== undefined && acc.length === 3 * this.slots.length) return acc;
    const fresh = this.#empty();
    const trail = match.trail;
    if (trail !== undefined) {
      const of = match.trailStages!;
      const size = match.size ?? trail.length;
      for (let i = 0; i < size; i++) this.#add(fresh, of[i], trail[i]);
    }
    match.acc = fresh;
    return fresh;
  }

  #empty(): unknown[] {
    const acc: unknown[] = [];
    for (let i = 0; i < this.slots.length; i++) acc.push(0, 0, null);
    return acc;
  }

  #add(acc: unknown[], stage: number, record: Row): void {
    const slots = this.slots;
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i];
      if (slot.stage >= 0 && slot.stage !== stage) continue;
      const at = 3 * i;
      if (acc[at] === POISONED) continue;
      try {
        const v = slot.value({ [ROW]: record });
        if (v === null || v === undefined) continue;
        acc[at] = (acc[at] as number) + 1;
        const fn = slot.fn;
        if (fn === 'sum' || fn === 'avg') acc[at + 1] = (acc[at + 1] as number) + numeric(fn, v);
        else if (fn === 'min' || fn === 'max') acc[at + 2] = better(fn, acc[at + 2], v);
      } catch {
        acc[at] = POISONED;
      }
    }
  }
}

/** Whether slot `slot` of `acc` could not be kept (read it by rereading the records). */
export function poisoned(acc: readonly unknown[], slot: number): boolean {
  return acc[3 * slot] === POISONED;
}

/** `v` as a number for `sum` / `avg`; throws EXPR_EVAL for anything else. */
export function numeric(fn: string, v: unknown): number {
  if (typeof v !== 'number')
    throw new SluiceError('EXPR_EVAL', `${fn}() takes numbers, got ${typeof v} ${JSON.stringify(v)}`);
  return v;
}

/** The better of the best value so far (null: none) and `v`, for `min` / `max`. */
export function better(fn: string, best: unknown, v: unknown): unknown {
  if (best === null || (fn === 'min' ? (v as number) < (best as number) : (v as number) > (best as number)))
    return v;
  return best;
}

/** The SQL result of an aggregate from its count, sum and best: NULL over no value (count: 0). */
export function finish(fn: string, count: number, sum: number, best: unknown): unknown {
  switch (fn) {
    case 'count':
      return count;
    case 'sum':
      return count === 0 ? null : sum;
    case 'avg':
      return count === 0 ? null : sum / count;
    default:
      return best;
  }
}
