/**
 * The updating aggregate: an `aggregate` without a window. It keeps one result per key and emits
 * the changes of that result as a retract changelog.
 */

import type { AggregateFunction } from '../aggregate/aggregate-function.ts';
import { type Logger, silentLogger } from '../connector.ts';
import { SluiceError, toSluiceError } from '../errors.ts';
import type { Operator, OperatorContext, Output } from '../operator.ts';
import {
  type Batch,
  DELETE,
  emptyChangeBatch,
  INSERT,
  pushChange,
  type Row,
  UPDATE_AFTER,
  UPDATE_BEFORE,
} from '../record.ts';
import { keyedBackend, type MemoryStateBackend, type StateBackend } from '../state.ts';
import { type Clock, systemClock } from '../time.ts';
import { fieldGroupKey, type GroupKey } from '../window/group-key.ts';
import {
  derivedFieldWarner,
  RESULT_BATCH_SIZE,
  ResultBuilder,
  sameResult,
} from '../window/result-emitter.ts';
import {
  checkOutputFields,
  keyValuesOf,
  type OutputField,
  planFields,
  resultLayout,
} from '../window/window-aggregate.ts';
import { registerTtl, StateTtl } from './state-ttl.ts';

/** An aggregate without a window has no reserved output names (no window bounds). */
const NO_RESERVED_FIELDS: ReadonlySet<string> = new Set();

import { checkAdd, checkedFunctions, createAccumulators } from '../window/window-store.ts';

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
  /**
   * State time-to-live in ms of processing time: a key no record was added to for this long is
   * forgotten. Absent: keys are kept for the life of the job.
   */
  ttl?: number;
  /**
   * The input is a retract stream: an UPDATE_BEFORE or DELETE takes its row back out of its key's
   * accumulators (each function must have `retract`), and a key left with no row is deleted.
   */
  retract?: boolean;
}

/** The state of one key: plain data, checkpointed as it is. */
interface KeyState {
  /** Values of the key fields, from the key's first record; null without key fields. */
  keyValues: unknown[] | null;
  /** One accumulator per aggregate, in the order of `planFields`. */
  accumulators: unknown[];
  /** The result last emitted for the key: what the next UPDATE_BEFORE retracts. */
  result: Row;
  /** With `retract`: the rows the key holds (added minus taken back). */
  rows?: number;
  /** With `retract`: per aggregate, the non-null values it holds; at 0 it starts afresh. */
  held?: number[];
}

/**
 * Checkpoint format of the operator; bump the version when the layout changes. v3: each key's
 * state is keyed state (`OperatorContext.state`), snapshotted by key group — the view `keys`
 * (group key → {@link KeyState}; keys keep their type) and with a ttl the view `written`. v2 and
 * v1 held them in the operator's snapshot (v1 without `written`: its keys live `ttl` from the
 * restore); both are still read.
 */
const SNAPSHOT_FORMAT = 'sluice.updating_aggregate.v3';
const SNAPSHOT_FORMAT_V2 = 'sluice.updating_aggregate.v2';
const SNAPSHOT_FORMAT_V1 = 'sluice.updating_aggregate.v1';

/** The name of the keyed view of the keys' state (part of the checkpoint format). */
const KEYS_STATE = 'keys';

interface UpdatingAggregateSnapshot {
  format: typeof SNAPSHOT_FORMAT;
  /** What the state was built for: a restore refuses state of a different step. */
  shape: string;
  /** Whether input batches carried `key_by` keys (results then carry them too). */
  keyedInput: boolean;
  /** The keyed state, when no runtime holds it (an operator opened without `OperatorContext.state`). */
  keyed?: unknown;
}

/** The operator's snapshot before v3: all of its state. */
interface UpdatingAggregateSnapshotV2 {
  format: typeof SNAPSHOT_FORMAT_V2 | typeof SNAPSHOT_FORMAT_V1;
  shape: string;
  keyedInput: boolean;
  keys: Map<GroupKey, KeyState>;
  /** With a ttl: processing time each key was last written, oldest first (v2; null without a ttl). */
  written?: Map<GroupKey, number> | null;
}

/**
 * Builds the updating-aggregate operator.
 *
 * Grouping key, by priority: `keyFn`, `keyFields`, the batch's `key_by` keys, else one global
 * group. Each result is `{ ...keyFields, key?, ...fields }` (`key` as in the window aggregate).
 * For every record, in input order, the operator adds the record to its key's accumulators and
 * computes the key's result: the first result of a key is emitted as an INSERT; a result that
 * differs from the one emitted before is emitted as an UPDATE_BEFORE of the old result followed
 * at once by an UPDATE_AFTER of the new one (the pair is never split between two batches); an
 * unchanged result emits nothing. Emitted records take the time (and `Batch.watermarks` entry) of
 * the record that changed the result, and its batch key when the input is keyed. So the output is
 * a function of the input alone, whatever its batching.
 *
 * No record is late. Without `ttl` the step keeps every key's state for the life of the job; with
 * it, a key no record was added to for `ttl` ms of processing time (the job clock, checked at each
 * batch and each processing-time tick) is forgotten without emitting anything, and its next record
 * starts afresh: an INSERT of a result over that record alone, while the key's earlier result
 * stays downstream (as in Flink). A record without one of `keyFields`, whose key or argument function throws,
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
  /** Per aggregate, whether it takes no argument (count(*)): it counts every row, NULL or not. */
  readonly #star: boolean[];
  readonly #values: unknown[];
  readonly #results: ResultBuilder;
  readonly #keyValuesOf: (record: Row) => unknown[] | null;
  readonly #fieldKey: (record: Row) => GroupKey;
  /** Whether the step has `key` fields, which group it whatever keys the input carries. */
  readonly #byFields: boolean;
  readonly #keys = new Map<GroupKey, KeyState>();
  /** The keyed state when no runtime holds it; it then goes into `snapshot`. */
  #own: MemoryStateBackend | undefined;
  #keyedInput = false;
  #log: Logger = silentLogger;
  readonly #ttl: StateTtl<GroupKey> | undefined;
  #clock: Clock = systemClock;
  readonly #retract: boolean;
  /** Whether a retraction of a key the step does not hold was logged (once per job). */
  #warnedUnknown = false;

  constructor(config: UpdatingAggregateConfig) {
    checkOutputFields(config, NO_RESERVED_FIELDS);
    this.#config = config;
    const keyFields = config.keyFields ?? [];
    const plan = planFields(config.fields);
    this.#functions = plan.aggregates.map((f) => f.fn);
    this.#checked = checkedFunctions(this.#functions);
    this.#args = plan.aggregates.map((f) => f.arg ?? (() => undefined));
    this.#star = plan.aggregates.map((f) => f.arg === undefined);
    this.#values = new Array(plan.aggregates.length);
    this.#results = new ResultBuilder(
      resultLayout(
        keyFields,
        config.fields,
        plan,
        false,
        derivedFieldWarner(config.stepId, () => this.#log),
      ),
    );
    this.#results.keyField = config.keyFn !== undefined;
    this.#keyValuesOf = keyValuesOf(keyFields);
    this.#fieldKey = fieldGroupKey(keyFields);
    this.#byFields = keyFields.length > 0;
    this.#shape = JSON.stringify({
      keyFields,
      keyFn: config.keyFn !== undefined,
      fields: plan.aggregates.map((f) => [f.name, f.fn.name]),
      // Only with retract, so that the shape of the states checkpointed before it is unchanged.
      ...(config.retract ? { retract: true } : {}),
    });
    this.#retract = config.retract === true;
    if (this.#retract) {
      const fixed = plan.aggregates.find((f) => f.fn.retract === undefined);
      if (fixed !== undefined)
        throw new SluiceError(
          'CONFIG_INVALID',
          `aggregate step '${config.stepId}' reads an updating stream, so each of its aggregates must be able to take a value back; ${fixed.fn.name} (field '${fixed.name}') cannot: use count, sum, avg, min or max`,
          { step: config.stepId, path: 'fields' },
        );
    }
    if (config.ttl !== undefined) this.#ttl = new StateTtl(config.ttl);
    this.#attach(undefined);
  }

  /** Hands its keyed state to `state`, or keeps it itself (restored from `own`) without one. */
  #attach(state: StateBackend | undefined, saved?: unknown): void {
    const { backend, own } = keyedBackend(state, saved);
    this.#own = own;
    const keys = this.#keys;
    keys.clear();
    backend.keyed<GroupKey, KeyState>(KEYS_STATE, {
      entries: () => keys.entries(),
      restore: (key, entry) => keys.set(key, entry),
    });
    registerTtl(backend, this.#ttl);
  }

  open(ctx: OperatorContext): void {
    this.#log = ctx.log ?? silentLogger;
    this.#clock = ctx.clock;
    const saved = ctx.restored as
      | Partial<UpdatingAggregateSnapshot>
      | Partial<UpdatingAggregateSnapshotV2>
      | null
      | undefined;
    if (saved === undefined) {
      this.#attach(ctx.state);
      return;
    }
    const step = this.#config.stepId;
    const legacy = saved?.format === SNAPSHOT_FORMAT_V2 || saved?.format === SNAPSHOT_FORMAT_V1;
    if (
      (saved?.format !== SNAPSHOT_FORMAT && !legacy) ||
      saved.shape !== this.#shape ||
      (legacy && !(saved.keys instanceof Map))
    ) {
      throw new SluiceError(
        'CHECKPOINT_INCOMPATIBLE',
        `the checkpointed state of aggregate step '${step}' was made by a different key or aggregate list, or with a window; restart with --from-scratch to drop it`,
        { step },
      );
    }
    this.#attach(ctx.state, legacy ? undefined : (saved as Partial<UpdatingAggregateSnapshot>).keyed);
    let written: Map<GroupKey, number> | undefined;
    if (legacy) {
      // Before v3 the keys' state was the operator's: the view now hands it to the keyed state.
      const old = saved as UpdatingAggregateSnapshotV2;
      for (const [key, entry] of old.keys) this.#keys.set(key, entry);
      if (old.written instanceof Map) written = old.written;
    }
    if (saved.keyedInput === true) this.#keyInput();
    this.#ttl?.restore(written, this.#keys.keys(), this.#ttl.now(ctx.clock.now()));
  }

  processBatch(batch: Batch, out: Output): void {
    const records = batch.records;
    const n = records.length;
    if (n === 0) return;
    // `key` fields regroup the records: an upstream key_by's keys only group when there are none.
    const keys = this.#byFields ? undefined : batch.keys;
    if (keys !== undefined && !this.#keyedInput) this.#keyInput();
    const functions = this.#functions;
    const checked = this.#checked;
    const args = this.#args;
    const values = this.#values;
    const keyFn = this.#config.keyFn;
    const state = this.#keys;
    const ttl = this.#ttl;
    const now = ttl === undefined ? 0 : ttl.now(this.#clock.now());
    if (ttl !== undefined) this.#expire(now);
    let result = emptyChangeBatch(batch, this.#keyedInput);
    const kinds = this.#retract ? batch.kinds : undefined;
    for (let i = 0; i < n; i++) {
      const record = records[i];
      const takeBack = kinds !== undefined && (kinds[i] === UPDATE_BEFORE || kinds[i] === DELETE);
      let key: GroupKey;
      let entry: KeyState | undefined;
      try {
        key = this.#fieldKey(record);
        if (keyFn !== undefined) key = keyFn(record);
        else if (keys !== undefined) key = keys[i];
        for (let j = 0; j < args.length; j++) values[j] = args[j](record);
        entry = state.get(key);
        if (!takeBack && entry !== undefined && checked.length > 0)
          checkAdd(functions, checked, entry.accumulators, values);
        else if (takeBack && entry !== undefined) this.#checkRetract(entry.accumulators, values);
      } catch (err) {
        out.deadLetter(batch, i, toSluiceError(err, 'USER_FUNCTION_FAILED', { step: this.#config.stepId }));
        continue;
      }
      if (takeBack) {
        if (entry === undefined) {
          this.#unknownRetraction();
          continue;
        }
        if (this.#takeBack(entry, values)) {
          state.delete(key);
          this.#ttl?.remove(key);
          pushChange(result, batch, i, DELETE, entry.result, String(key));
        } else {
          const next = this.#results.result(key, entry.keyValues, 0, 0, entry.accumulators);
          if (!sameResult(entry.result, next)) {
            pushChange(result, batch, i, UPDATE_BEFORE, entry.result, String(key));
            pushChange(result, batch, i, UPDATE_AFTER, next, String(key));
            entry.result = next;
          }
          if (ttl !== undefined) ttl.touch(key, now);
        }
        if (result.records.length >= RESULT_BATCH_SIZE) {
          out.emit(result);
          result = emptyChangeBatch(batch, this.#keyedInput);
        }
        continue;
      }
      const accumulators = entry === undefined ? createAccumulators(functions) : entry.accumulators;
      for (let j = 0; j < functions.length; j++)
        accumulators[j] = functions[j].add(accumulators[j], values[j]);
      if (this.#retract) this.#count(entry, values);
      const keyValues = entry === undefined ? this.#keyValuesOf(record) : entry.keyValues;
      const next = this.#results.result(key, keyValues, 0, 0, accumulators);
      if (entry === undefined) {
        const created: KeyState = { keyValues, accumulators, result: next };
        if (this.#retract) this.#count(created, values, true);
        state.set(key, created);
        pushChange(result, batch, i, INSERT, next, String(key));
      } else if (!sameResult(entry.result, next)) {
        pushChange(result, batch, i, UPDATE_BEFORE, entry.result, String(key));
        pushChange(result, batch, i, UPDATE_AFTER, next, String(key));
        entry.result = next;
      }
      if (ttl !== undefined) ttl.touch(key, now);
      if (result.records.length >= RESULT_BATCH_SIZE) {
        out.emit(result);
        result = emptyChangeBatch(batch, this.#keyedInput);
      }
    }
    if (result.records.length > 0) out.emit(result);
  }

  /**
   * Counts one added row into `entry` (with `retract`): its rows, and per aggregate whether the
   * row gave it a value. `fresh`: the entry was just made from this row.
   */
  #count(entry: KeyState | undefined, values: readonly unknown[], fresh = false): void {
    if (entry === undefined) return;
    if (fresh || entry.held === undefined) {
      entry.rows = 0;
      entry.held = new Array(values.length).fill(0);
    }
    entry.rows = (entry.rows ?? 0) + 1;
    const held = entry.held!;
    for (let j = 0; j < values.length; j++) if (this.#holds(j, values[j])) held[j]++;
  }

  /**
   * Throws when a retraction carries a value an aggregate cannot have taken (`checkRetract`): the
   * row was a dead letter when it came, so its retraction is one too and changes nothing.
   */
  #checkRetract(accumulators: readonly unknown[], values: readonly unknown[]): void {
    const functions = this.#functions;
    for (let j = 0; j < functions.length; j++) {
      const value = values[j];
      if (value !== null && value !== undefined) functions[j].checkRetract?.(accumulators[j], value);
    }
  }

  /** Whether aggregate `j` takes `value` (count(*) takes every row; the others non-null values). */
  #holds(j: number, value: unknown): boolean {
    return (value !== null && value !== undefined) || this.#star[j];
  }

  /**
   * Takes one row back out of `entry`'s accumulators; an aggregate left with no value starts
   * afresh (so a sum of nothing is NULL again). Returns whether the key is left with no row.
   */
  #takeBack(entry: KeyState, values: readonly unknown[]): boolean {
    const functions = this.#functions;
    const held = entry.held ?? new Array(values.length).fill(0);
    entry.held = held;
    for (let j = 0; j < functions.length; j++) {
      if (!this.#holds(j, values[j])) continue;
      entry.accumulators[j] = functions[j].retract!(entry.accumulators[j], values[j]);
      held[j]--;
      if (held[j] <= 0) {
        held[j] = 0;
        entry.accumulators[j] = functions[j].create();
      }
    }
    entry.rows = (entry.rows ?? 1) - 1;
    return entry.rows <= 0;
  }

  /** A retraction of a key the step holds no row of: nothing to take back (as Flink, it is ignored). */
  #unknownRetraction(): void {
    if (this.#warnedUnknown) return;
    this.#warnedUnknown = true;
    this.#log.warn(
      `aggregate step '${this.#config.stepId}' got an update-before or delete of a key it holds no row of (its state expired by ttl, or its input began mid-stream); ignored, and not reported again`,
    );
  }

  /** The input is keyed by an upstream `key_by`: results carry its key (in `key` without key fields). */
  #keyInput(): void {
    this.#keyedInput = true;
    this.#results.keyField = this.#config.keyFn !== undefined || (this.#config.keyFields ?? []).length === 0;
  }

  onProcessingTime(now: number): void {
    if (this.#ttl !== undefined) this.#expire(this.#ttl.now(now));
  }

  /** Forgets the keys whose time-to-live is up at `now`. */
  #expire(now: number): void {
    const keys = this.#keys;
    this.#ttl!.expire(now, (key) => keys.delete(key));
  }

  snapshot(): UpdatingAggregateSnapshot {
    const snapshot: UpdatingAggregateSnapshot = {
      format: SNAPSHOT_FORMAT,
      shape: this.#shape,
      keyedInput: this.#keyedInput,
    };
    if (this.#own !== undefined) snapshot.keyed = this.#own.snapshot();
    return snapshot;
  }
}
