/**
 * The updating aggregate: an `aggregate` without a window. It keeps one result per key and emits
 * the changes of that result as a retract changelog.
 */

import type { AggregateFunction } from '../aggregate/aggregate-function.ts';
import { type Logger, silentLogger } from '../connector.ts';
import { SluiceError, toSluiceError } from '../errors.ts';
import type { Operator, OperatorContext, Output } from '../operator.ts';
import { type Batch, INSERT, type Row, type RowKind, UPDATE_AFTER, UPDATE_BEFORE } from '../record.ts';
import { fieldGroupKey, type GroupKey } from '../window/group-key.ts';
import { RESULT_BATCH_SIZE, sameResult } from '../window/result-emitter.ts';
import { isDerived, type OutputField, planFields } from '../window/window-aggregate.ts';
import { checkAdd, checkedFunctions, createAccumulators } from '../window/window-store.ts';
import { decodeKey } from './key.ts';

/** Validated configuration of one updating-aggregate step. */
export interface UpdatingAggregateConfig {
  /** The step id; names the state in checkpoints and appears in errors. */
  stepId: string;
  /**
   * Output fields holding the key, with their values from the first record of the key. Without
   * batch keys or `keyFn`, records are grouped by these fields' values.
   */
  keyFields?: readonly string[];
  /** Groups by this function's result instead (TS API); the result goes in a `key` field. */
  keyFn?: (record: Row) => string;
  /** Output fields, in the order of the result record. */
  fields: readonly OutputField[];
}

/** The state of one key: plain data, checkpointed as it is. */
interface KeyState {
  /** Values of the key fields, from the key's first record; null without key fields. */
  keyValues: unknown[] | null;
  /** One accumulator per aggregate, in the order of `planFields`. */
  accumulators: unknown[];
  /** The result last emitted for the key: what the next UPDATE_BEFORE retracts. */
  result: Row;
}

/** Checkpoint format of the operator; bump the version when the layout changes. */
const SNAPSHOT_FORMAT = 'sluice.updating_aggregate.v1';

interface UpdatingAggregateSnapshot {
  format: typeof SNAPSHOT_FORMAT;
  /** What the state was built for: a restore refuses state of a different step. */
  shape: string;
  /** Whether input batches carried `key_by` keys (results then carry them too). */
  keyedInput: boolean;
  keys: Map<GroupKey, KeyState>;
}

/**
 * Builds the updating-aggregate operator.
 *
 * Grouping key, by priority: `keyFn`, the batch's `key_by` keys, `keyFields`, else one global
 * group. Each result is `{ ...keyFields, key?, ...fields }` (`key` as in the window aggregate).
 * For every record, in input order, the operator adds the record to its key's accumulators and
 * computes the key's result: the first result of a key is emitted as an INSERT; a result that
 * differs from the one emitted before is emitted as an UPDATE_BEFORE of the old result followed
 * at once by an UPDATE_AFTER of the new one (the pair is never split between two batches); an
 * unchanged result emits nothing. Emitted records take the time (and `Batch.watermarks` entry) of
 * the record that changed the result, and its batch key when the input is keyed. So the output is
 * a function of the input alone, whatever its batching.
 *
 * No record is late: the step keeps every key's state for the life of the job (it has no
 * time-to-live yet). A record without one of `keyFields`, whose key or argument function throws,
 * or that an aggregate function's `check` refuses goes to the dead-letter output and changes
 * nothing. A derived field whose expression throws is NULL in that result, with one warning per
 * field through `ctx.log`.
 *
 * `snapshot()` returns live references to the state: the runtime must serialize it before the
 * next call. `open` throws CHECKPOINT_INCOMPATIBLE for state of a differently configured step.
 */
export function createUpdatingAggregate(config: UpdatingAggregateConfig): Operator {
  return new UpdatingAggregate(config);
}

class UpdatingAggregate implements Operator {
  readonly absorbs = true;
  readonly #config: UpdatingAggregateConfig;
  readonly #shape: string;
  readonly #functions: AggregateFunction[];
  readonly #checked: number[];
  readonly #args: ((record: Row) => unknown)[];
  readonly #values: unknown[];
  /** Per output field: the index of its accumulator, or the expression computing it. */
  readonly #outputs: (number | ((context: Row) => unknown))[];
  /** The accumulators derived expressions read, by name; empty without derived fields. */
  readonly #inputs: [string, number][];
  readonly #names: string[];
  readonly #keyFields: readonly string[];
  readonly #fieldKey: (record: Row) => GroupKey;
  #keys = new Map<GroupKey, KeyState>();
  #keyedInput = false;
  #log: Logger = silentLogger;
  readonly #warned = new Set<string>();
  /** Reused for every derived result: key fields and the aggregate results read. */
  readonly #context: Row = {};

  constructor(config: UpdatingAggregateConfig) {
    this.#config = config;
    const keyFields = config.keyFields ?? [];
    this.#keyFields = keyFields;
    const plan = planFields(config.fields);
    this.#functions = plan.aggregates.map((f) => f.fn);
    this.#checked = checkedFunctions(this.#functions);
    this.#args = plan.aggregates.map((f) => f.arg ?? (() => undefined));
    this.#values = new Array(plan.aggregates.length);
    this.#names = config.fields.map((f) => f.name);
    this.#outputs = plan.derived
      ? plan.derived.outputs.map((o) => (typeof o === 'number' ? o : o.evaluate))
      : config.fields.map((_, j) => j);
    this.#inputs = plan.derived ? plan.derived.inputs : [];
    this.#fieldKey = fieldGroupKey(keyFields);
    this.#shape = JSON.stringify({
      keyFields,
      keyFn: config.keyFn !== undefined,
      fields: plan.aggregates.map((f) => [f.name, f.fn.name]),
    });
    const used = new Set<string>();
    for (const name of [...keyFields, ...(config.keyFn ? ['key'] : []), ...this.#names]) {
      if (used.has(name)) {
        throw new SluiceError('CONFIG_INVALID', `output field '${name}' is produced twice; rename one`, {
          step: config.stepId,
          path: 'fields',
        });
      }
      used.add(name);
    }
    for (const field of config.fields) {
      if (!isDerived(field)) continue;
      for (const a of field.aggregates) {
        if (keyFields.includes(a.name)) {
          throw new SluiceError('CONFIG_INVALID', `'${a.name}' is a key field; choose another name`, {
            step: config.stepId,
            path: 'fields',
          });
        }
      }
    }
  }

  open(ctx: OperatorContext): void {
    this.#log = ctx.log ?? silentLogger;
    if (ctx.restored === undefined) return;
    const saved = ctx.restored as Partial<UpdatingAggregateSnapshot> | null;
    const step = this.#config.stepId;
    if (saved?.format !== SNAPSHOT_FORMAT || saved.shape !== this.#shape || !(saved.keys instanceof Map)) {
      throw new SluiceError(
        'CHECKPOINT_INCOMPATIBLE',
        `the checkpointed state of aggregate step '${step}' was made by a different key or aggregate list, or with a window; restart with --from-scratch to drop it`,
        { step },
      );
    }
    this.#keys = saved.keys;
    this.#keyedInput = saved.keyedInput === true;
  }

  processBatch(batch: Batch, out: Output): void {
    const records = batch.records;
    const n = records.length;
    if (n === 0) return;
    const keys = batch.keys;
    if (keys !== undefined) this.#keyedInput = true;
    const functions = this.#functions;
    const checked = this.#checked;
    const args = this.#args;
    const values = this.#values;
    const keyFn = this.#config.keyFn;
    const state = this.#keys;
    let result = this.#newBatch(batch);
    for (let i = 0; i < n; i++) {
      const record = records[i];
      let key: GroupKey;
      let entry: KeyState | undefined;
      try {
        key = this.#fieldKey(record);
        if (keyFn !== undefined) key = keyFn(record);
        else if (keys !== undefined) key = keys[i];
        for (let j = 0; j < args.length; j++) values[j] = args[j](record);
        entry = state.get(key);
        if (entry !== undefined && checked.length > 0)
          checkAdd(functions, checked, entry.accumulators, values);
      } catch (err) {
        out.deadLetter(batch, i, toSluiceError(err, 'USER_FUNCTION_FAILED', { step: this.#config.stepId }));
        continue;
      }
      const accumulators = entry === undefined ? createAccumulators(functions) : entry.accumulators;
      for (let j = 0; j < functions.length; j++)
        accumulators[j] = functions[j].add(accumulators[j], values[j]);
      const keyValues = entry === undefined ? this.#keyValuesOf(record) : entry.keyValues;
      const next = this.#result(key, keyValues, accumulators);
      if (entry === undefined) {
        state.set(key, { keyValues, accumulators, result: next });
        this.#push(result, batch, i, INSERT, next, key);
      } else if (!sameResult(entry.result, next)) {
        this.#push(result, batch, i, UPDATE_BEFORE, entry.result, key);
        this.#push(result, batch, i, UPDATE_AFTER, next, key);
        entry.result = next;
      }
      if (result.records.length >= RESULT_BATCH_SIZE) {
        out.emit(result);
        result = this.#newBatch(batch);
      }
    }
    if (result.records.length > 0) out.emit(result);
  }

  #newBatch(like: Batch): Batch & { kinds: RowKind[] } {
    const batch: Batch & { kinds: RowKind[] } = { records: [], times: [], kinds: [] };
    if (this.#keyedInput) batch.keys = [];
    if (like.watermarks) batch.watermarks = [];
    return batch;
  }

  #push(to: Batch & { kinds: RowKind[] }, from: Batch, i: number, kind: RowKind, record: Row, key: GroupKey) {
    to.records.push(record);
    to.times.push(from.times[i]);
    to.kinds.push(kind);
    if (to.keys) to.keys.push(String(key));
    if (to.watermarks) to.watermarks.push(from.watermarks![i]);
  }

  #keyValuesOf(record: Row): unknown[] | null {
    const keyFields = this.#keyFields;
    if (keyFields.length === 0) return null;
    const values = new Array<unknown>(keyFields.length);
    for (let j = 0; j < keyFields.length; j++) values[j] = record[keyFields[j]] ?? null;
    return values;
  }

  #result(key: GroupKey, keyValues: readonly unknown[] | null, accumulators: readonly unknown[]): Row {
    const keyFields = this.#keyFields;
    const names = this.#names;
    const outputs = this.#outputs;
    const functions = this.#functions;
    const record: Row = {};
    if (keyValues !== null) for (let j = 0; j < keyFields.length; j++) record[keyFields[j]] = keyValues[j];
    if (this.#config.keyFn !== undefined || (this.#keyedInput && keyFields.length === 0))
      record.key = typeof key === 'string' ? decodeKey(key) : key;
    const inputs = this.#inputs;
    if (inputs.length > 0) {
      const context = this.#context;
      if (keyValues !== null) for (let j = 0; j < keyFields.length; j++) context[keyFields[j]] = keyValues[j];
      for (const [name, a] of inputs) context[name] = functions[a].result(accumulators[a]);
    }
    for (let j = 0; j < names.length; j++) {
      const output = outputs[j];
      if (typeof output === 'number') {
        record[names[j]] = functions[output].result(accumulators[output]);
        continue;
      }
      try {
        record[names[j]] = output(this.#context);
      } catch (err) {
        record[names[j]] = null;
        this.#derivedFailed(names[j], err);
      }
    }
    return record;
  }

  #derivedFailed(field: string, err: unknown): void {
    if (this.#warned.has(field)) return;
    this.#warned.add(field);
    const step = this.#config.stepId;
    const reason = err instanceof Error ? err.message : String(err);
    this.#log.warn(
      `step '${step}': field '${field}' is NULL in a result because its expression failed: ${reason} (later failures of this field are not logged)`,
      { step, field, reason },
    );
  }

  snapshot(): UpdatingAggregateSnapshot {
    return { format: SNAPSHOT_FORMAT, shape: this.#shape, keyedInput: this.#keyedInput, keys: this.#keys };
  }
}
