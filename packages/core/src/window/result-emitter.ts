/**
 * Builds the result records of the window aggregate and sends them downstream in batches.
 */

import type { AggregateFunction } from '../aggregate/aggregate-function.ts';
import type { Output } from '../operator.ts';
import { decodeKey } from '../operators/key.ts';
import type { Batch, Row } from '../record.ts';
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

/**
 * Collects `{ ...key fields, [key], window_start, window_end, ...results }` records with event time
 * `window_end − 1` and emits them in batches of at most {@link RESULT_BATCH_SIZE}.
 */
export class ResultEmitter {
  readonly #layout: ResultLayout;
  /** Reused for every derived result: key fields, window bounds and the aggregate results read. */
  readonly #context: Row = {};
  #out: Output | undefined;
  #batch: Batch | undefined;
  /** Whether results carry the group key in a `key` field. */
  keyField = false;
  /** Whether result batches carry `keys` (the input was keyed). */
  keyed = false;
  /**
   * The watermark that stands before the results added from now on (`Batch.watermarks`): the
   * operator's watermark before the advance that fires them, or the one a record that updated a
   * fired window met. Undefined: the results carry none (processing time).
   */
  watermark: number | undefined;

  constructor(layout: ResultLayout) {
    this.#layout = layout;
  }

  /** Directs the following results to `out`; returns the emitter. */
  to(out: Output): this {
    this.#out = out;
    return this;
  }

  /** Adds the result of one key in one window. */
  add(
    key: GroupKey,
    keyValues: readonly unknown[] | null,
    start: number,
    end: number,
    accumulators: unknown[],
  ) {
    const { keyFields, names, functions } = this.#layout;
    const record: Row = {};
    if (keyValues !== null) for (let j = 0; j < keyFields.length; j++) record[keyFields[j]] = keyValues[j];
    if (this.keyField) record.key = typeof key === 'string' ? decodeKey(key) : key;
    record.window_start = start;
    record.window_end = end;
    if (this.#layout.derived === undefined) {
      for (let j = 0; j < names.length; j++) record[names[j]] = functions[j].result(accumulators[j]);
    } else {
      this.#derive(record, keyValues, start, end, accumulators);
    }
    let batch = this.#batch;
    if (batch === undefined) {
      batch = { records: [], times: [] };
      if (this.keyed) batch.keys = [];
      if (this.watermark !== undefined) batch.watermarks = [];
      this.#batch = batch;
    }
    batch.records.push(record);
    batch.times.push(end - 1);
    if (batch.keys) batch.keys.push(String(key));
    if (batch.watermarks) batch.watermarks.push(this.watermark!);
    if (batch.records.length >= RESULT_BATCH_SIZE) this.flush();
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
    context.window_start = start;
    context.window_end = end;
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

  /** Emits the records collected so far. */
  flush(): void {
    const batch = this.#batch;
    if (batch === undefined) return;
    this.#batch = undefined;
    this.#out!.emit(batch);
  }
}
