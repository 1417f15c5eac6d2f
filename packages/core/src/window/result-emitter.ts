/**
 * Builds the result records of the window aggregate and sends them downstream in batches.
 */

import type { AggregateFunction } from '../aggregate/aggregate-function.ts';
import type { Logger } from '../connector.ts';
import type { Output } from '../operator.ts';
import { decodeKey } from '../operators/key.ts';
import {
  type Batch,
  DELETE,
  INSERT,
  type Row,
  type RowKind,
  UPDATE_AFTER,
  UPDATE_BEFORE,
} from '../record.ts';
import type { GroupKey } from './group-key.ts';

/** Most result records in one emitted batch. */
export const RESULT_BATCH_SIZE = 1024;

/** How result records are laid out. */
export interface ResultLayout {
  /** Output fields holding the key-field values. */
  readonly keyFields: readonly string[];
  /** Names of the result fields after the window bounds, in order. */
  readonly names: readonly string[];
  /** The aggregate functions, one per accumulator. Without `derived`, result field j is function j's result. */
  readonly functions: readonly AggregateFunction[];
  /** Whether results hold `window_start` and `window_end` (false for an aggregate without a window). */
  readonly windowed: boolean;
  /** Present when some result field is an expression over aggregate results. */
  readonly derived?: {
    /** Per result field: the index of its accumulator, or the expression computing it from the context. */
    readonly outputs: readonly (number | ((context: Row) => unknown))[];
    /** The context entries the expressions read: name and accumulator index. */
    readonly inputs: readonly (readonly [string, number])[];
    /** Called when an expression throws; the field is then NULL. */
    readonly onError: (field: string, error: unknown) => void;
  };
}

/** JSON text that also spells bigints, for comparing object values. */
function jsonText(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
}

/** The `window_end` of a result record emitted earlier. */
function endOf(row: Row): number {
  return row.window_end as number;
}

/**
 * Whether two result records of one layout hold the same values (objects, e.g. from `first`,
 * compared as JSON text).
 */
export function sameResult(a: Row, b: Row): boolean {
  for (const name in a) {
    const x = a[name];
    const y = b[name];
    if (Object.is(x, y)) continue;
    if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false;
    if (jsonText(x) !== jsonText(y)) return false;
  }
  return true;
}

/**
 * Builds result records `{ ...key fields, [key], [window_start, window_end], ...results }` from a
 * group's accumulators: the shared part of the window aggregate and the aggregate without a window.
 */
export class ResultBuilder {
  readonly #layout: ResultLayout;
  /** Reused for every derived result: key fields, window bounds and the aggregate results read. */
  readonly #context: Row = {};
  /** Whether results carry the group key in a `key` field. */
  keyField = false;

  constructor(layout: ResultLayout) {
    this.#layout = layout;
  }

  /**
   * Builds the result record of one key (in one window, when the layout is windowed; `start` and
   * `end` are ignored otherwise).
   */
  result(
    key: GroupKey,
    keyValues: readonly unknown[] | null,
    start: number,
    end: number,
    accumulators: unknown[],
  ): Row {
    const { keyFields, names, functions } = this.#layout;
    const record: Row = {};
    if (keyValues !== null) for (let j = 0; j < keyFields.length; j++) record[keyFields[j]] = keyValues[j];
    if (this.keyField) record.key = typeof key === 'string' ? decodeKey(key) : key;
    if (this.#layout.windowed) {
      record.window_start = start;
      record.window_end = end;
    }
    if (this.#layout.derived === undefined) {
      for (let j = 0; j < names.length; j++) record[names[j]] = functions[j].result(accumulators[j]);
    } else {
      this.#derive(record, keyValues, start, end, accumulators);
    }
    return record;
  }

  #derive(
    record: Row,
    keyValues: readonly unknown[] | null,
    start: number,
    end: number,
    accumulators: unknown[],
  ): void {
    const { keyFields, names, functions, derived } = this.#layout;
    const { outputs, inputs, onError } = derived!;
    const context = this.#context;
    if (keyValues !== null) for (let j = 0; j < keyFields.length; j++) context[keyFields[j]] = keyValues[j];
    if (this.#layout.windowed) {
      context.window_start = start;
      context.window_end = end;
    }
    for (const [name, i] of inputs) context[name] = functions[i].result(accumulators[i]);
    for (let j = 0; j < names.length; j++) {
      const output = outputs[j];
      if (typeof output === 'number') {
        record[names[j]] = functions[output].result(accumulators[output]);
        continue;
      }
      try {
        record[names[j]] = output(context);
      } catch (err) {
        record[names[j]] = null;
        onError(names[j], err);
      }
    }
  }
}

/**
 * Warns once per field, through `log()`, that a derived field's expression failed and the field is
 * NULL in a result.
 */
export function derivedFieldWarner(stepId: string, log: () => Logger): (field: string, err: unknown) => void {
  const warned = new Set<string>();
  return (field, err) => {
    if (warned.has(field)) return;
    warned.add(field);
    const reason = err instanceof Error ? err.message : String(err);
    log().warn(
      `step '${stepId}': field '${field}' is NULL in a result because its expression failed: ${reason} (later failures of this field are not logged)`,
      { step: stepId, field, reason },
    );
  };
}

/**
 * Collects `{ ...key fields, [key], window_start, window_end, ...results }` records with event time
 * `window_end − 1` and emits them in batches of at most {@link RESULT_BATCH_SIZE}.
 *
 * Append mode (the default): every result is a plain record and batches carry no `kinds`. Changelog
 * mode (`changelog = true`, for windows with allowed lateness): batches carry `kinds`; a first
 * result is an INSERT and {@link ResultEmitter.change} emits a later one as an UPDATE_BEFORE of the
 * result emitted before and an UPDATE_AFTER of the new one, never split between two batches.
 */
export class ResultEmitter extends ResultBuilder {
  #out: Output | undefined;
  #batch: Batch | undefined;
  /** Whether result batches carry `keys` (the input was keyed). */
  keyed = false;
  /**
   * The watermark that stands before the results added from now on (`Batch.watermarks`): the
   * operator's watermark before the advance that fires them, or the one a record that updated a
   * fired window met. Undefined: the results carry none (processing time).
   */
  watermark: number | undefined;
  /** Whether batches carry `kinds` (the step emits a retract changelog). */
  changelog = false;

  /** Directs the following results to `out`; returns the emitter. */
  to(out: Output): this {
    this.#out = out;
    return this;
  }

  /** Adds the result of one key in one window (an INSERT in changelog mode); returns the record. */
  add(
    key: GroupKey,
    keyValues: readonly unknown[] | null,
    start: number,
    end: number,
    accumulators: unknown[],
  ): Row {
    const record = this.result(key, keyValues, start, end, accumulators);
    this.#push(record, INSERT, key, end - 1);
    if (this.#batch!.records.length >= RESULT_BATCH_SIZE) this.flush();
    return record;
  }

  /**
   * Emits the result of one key in one window that replaces earlier results (changelog mode):
   * first a DELETE of each of `retracted` (results of sessions merged into this one), then an
   * INSERT of the new result when `previous` is undefined, nothing when it equals `previous`, and
   * otherwise an UPDATE_BEFORE of `previous` followed by an UPDATE_AFTER of the new result in the
   * same batch. Each record takes its own `window_end − 1` as event time. Returns the new result:
   * what the next change retracts. In append mode it emits the new result alone.
   */
  change(
    key: GroupKey,
    keyValues: readonly unknown[] | null,
    start: number,
    end: number,
    accumulators: unknown[],
    previous: Row | undefined,
    retracted?: readonly Row[],
  ): Row {
    // Append mode (state restored into a step whose allowed lateness became 0): the new result only.
    if (!this.changelog) return this.add(key, keyValues, start, end, accumulators);
    if (retracted !== undefined) {
      for (const row of retracted) {
        this.#push(row, DELETE, key, endOf(row) - 1);
        if (this.#batch!.records.length >= RESULT_BATCH_SIZE) this.flush();
      }
    }
    const record = this.result(key, keyValues, start, end, accumulators);
    if (previous === undefined) {
      this.#push(record, INSERT, key, end - 1);
    } else if (sameResult(previous, record)) {
      return previous;
    } else {
      if (this.#batch !== undefined && this.#batch.records.length + 2 > RESULT_BATCH_SIZE) this.flush();
      this.#push(previous, UPDATE_BEFORE, key, endOf(previous) - 1);
      this.#push(record, UPDATE_AFTER, key, end - 1);
    }
    if (this.#batch!.records.length >= RESULT_BATCH_SIZE) this.flush();
    return record;
  }

  #push(record: Row, kind: RowKind, key: GroupKey, time: number): void {
    let batch = this.#batch;
    if (batch === undefined) {
      batch = { records: [], times: [] };
      if (this.keyed) batch.keys = [];
      if (this.watermark !== undefined) batch.watermarks = [];
      if (this.changelog) batch.kinds = [];
      this.#batch = batch;
    }
    batch.records.push(record);
    batch.times.push(time);
    if (batch.keys) batch.keys.push(String(key));
    if (batch.watermarks) batch.watermarks.push(this.watermark!);
    if (batch.kinds) batch.kinds.push(kind);
  }

  /** Emits the records collected so far. */
  flush(): void {
    const batch = this.#batch;
    if (batch === undefined) return;
    this.#batch = undefined;
    this.#out!.emit(batch);
  }
}
