/**
 * What the window aggregate's two state stores (aligned windows, sessions) have in common.
 */

import type { AggregateFunction } from '../aggregate/aggregate-function.ts';
import { SluiceError } from '../errors.ts';
import type { Row } from '../record.ts';
import type { GroupKey } from './group-key.ts';
import type { ResultEmitter } from './result-emitter.ts';

/** The accumulators of one key in one window. Plain data: it goes into checkpoints as it is. */
export interface Group {
  /**
   * Creation order among the store's groups: a restore, which gets keys back in no order, puts
   * each window's groups back in this order, so that they fire in the order they would have.
   */
  seq: number;
  /** Values of the step's key fields, from the group's first record; null without key fields. */
  keyValues: readonly unknown[] | null;
  /** One accumulator per aggregate field, in field order. */
  accumulators: unknown[];
  /**
   * The result last emitted for the group, kept from its first firing until its allowed lateness
   * ends when that is more than 0 (what a late firing retracts); absent otherwise.
   */
  emitted?: Row;
}

/** What a store needs to know of the step. */
export interface StoreSettings {
  readonly functions: readonly AggregateFunction[];
  /**
   * Milliseconds a fired window keeps its state and accepts late records. When more than 0 the
   * store keeps each fired group's emitted result and emits late firings as changes of it
   * ({@link ResultEmitter.change}).
   */
  readonly allowedLateness: number;
  /** The key-field values of a group's first record. */
  keyValuesOf(record: Row): readonly unknown[] | null;
}

/**
 * Window state of one window-aggregate step.
 *
 * Progress is a watermark: a window [start, end) is due when progress ≥ end − 1, and its state
 * is dropped when progress ≥ end − 1 + allowedLateness. Processing time passes `now − 1`.
 */
export interface WindowStore {
  /**
   * Adds a record (its argument `values`, one per field) to every window containing `time` that
   * still has state or may get it; returns false when all of them are past allowed lateness
   * (the record is late). A window already due that takes the record is re-emitted by the next
   * `flushUpdates`. Throws, having changed nothing, when an aggregate function's `check` (or
   * `checkMerge`, for sessions the record would merge) refuses the record for one of them.
   */
  add(key: GroupKey, record: Row, time: number, values: readonly unknown[], progress: number): boolean;
  /**
   * Emits every window that became due, in end order, once (a session that grew after it fired
   * fires again as a change); drops state past allowed lateness.
   */
  advance(progress: number, emitter: ResultEmitter): void;
  /**
   * A progress below which `advance` has nothing to do (no window to fire or drop): the caller
   * may move its progress up to just below it without calling `advance`. May be lower than the
   * exact bound, never higher.
   */
  readonly nextDue: number;
  /** Whether fired windows took records since the last `flushUpdates`. */
  readonly hasUpdates: boolean;
  /**
   * Emits the updated results of due windows that took records since the last flush, each as a
   * change of the result emitted before ({@link ResultEmitter.change}): nothing when unchanged.
   */
  flushUpdates(emitter: ResultEmitter): void;
  /**
   * Each group key's state — its windows, or its sessions — as plain data for the keyed state
   * (live references: serialize before the next call).
   */
  entries(): Iterable<readonly [GroupKey, unknown]>;
  /** Takes back one key's state as `entries` gave it, in no order among keys; then {@link rebuild}. */
  restoreKey(key: GroupKey, entry: unknown): void;
  /** Rebuilds the indexes (window order, due-queue) once every restored key is back. */
  rebuild(): void;
  /** What is not per key (the sequence that orders windows' groups and sessions), as plain data. */
  snapshot(): unknown;
  /** Loads what `snapshot` returned. */
  restore(state: unknown): void;
  /**
   * Loads the whole state as snapshotted before it was keyed state (window-aggregate snapshot
   * format v1 and v2), instead of `restoreKey`, `rebuild` and `restore`.
   */
  restoreLegacy(state: unknown): void;
}

/** Throws CHECKPOINT_INCOMPATIBLE, saying what the checkpoint did not hold. */
export function notWindowState(what: string): never {
  throw new SluiceError('CHECKPOINT_INCOMPATIBLE', `window state is not the state of ${what}`);
}

/** What {@link WindowStore.snapshot} returns: the next sequence number. */
export function readNextSeq(state: unknown, what: string): number {
  const nextSeq = (state as { nextSeq?: unknown } | null)?.nextSeq;
  return typeof nextSeq === 'number' ? nextSeq : notWindowState(what);
}

/** Indexes of the functions that can refuse a value (they have `check`), for {@link checkAdd}. */
export function checkedFunctions(functions: readonly AggregateFunction[]): number[] {
  const checked: number[] = [];
  for (let j = 0; j < functions.length; j++) if (functions[j].check !== undefined) checked.push(j);
  return checked;
}

/**
 * Throws the error of the first of the `checked` functions that refuses to add its value to its
 * accumulator in `accumulators`; changes nothing. A store calls it for every group a record goes
 * to before adding the record to any, so a refused record (a dead letter) counts nowhere. Fresh
 * accumulators take every value, so groups a record would create need no check.
 */
export function checkAdd(
  functions: readonly AggregateFunction[],
  checked: readonly number[],
  accumulators: readonly unknown[],
  values: readonly unknown[],
): void {
  for (let c = 0; c < checked.length; c++) {
    const j = checked[c];
    const value = values[j];
    if (value !== null && value !== undefined) functions[j].check!(accumulators[j], value);
  }
}

/** Fresh accumulators for every field. */
export function createAccumulators(functions: readonly AggregateFunction[]): unknown[] {
  const accumulators = new Array<unknown>(functions.length);
  for (let j = 0; j < functions.length; j++) accumulators[j] = functions[j].create();
  return accumulators;
}
