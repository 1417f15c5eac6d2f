/**
 * The window-aggregate operator: groups records by key and window and emits one result per
 * (key, window) when the window closes.
 */

import type { AggregateFunction } from '../aggregate/aggregate-function.ts';
import { type Logger, silentLogger } from '../connector.ts';
import { SluiceError, toSluiceError } from '../errors.ts';
import type { Operator, OperatorContext, Output } from '../operator.ts';
import type { Batch, Row } from '../record.ts';
import { keyedBackend, type MemoryStateBackend, type StateBackend } from '../state.ts';
import { type Clock, systemClock } from '../time.ts';
import { AlignedWindowStore } from './aligned-windows.ts';
import { fieldGroupKey, type GroupKey } from './group-key.ts';
import { derivedFieldWarner, ResultEmitter, type ResultLayout } from './result-emitter.ts';
import { SessionWindowStore } from './session-windows.ts';
import { createWindowAssigner } from './window-assigner.ts';
import type { WindowSpec } from './window-spec.ts';
import type { WindowStore } from './window-store.ts';

/** One aggregate: a function over a value read from each record. */
export interface AggregateField {
  /** Output field name; for an aggregate of a {@link DerivedField}, the name its expression reads. */
  name: string;
  fn: AggregateFunction;
  /** Reads the aggregated value from a record; absent for `count(*)`. */
  arg?: (record: Row) => unknown;
}

/**
 * An output field computed from aggregate results, e.g. `round(sum(x), 2)`.
 *
 * `evaluate` is called once per result with a context holding the key fields, `window_start`,
 * `window_end` and the result of each of `aggregates` under its name. If it throws, the field is
 * NULL and the operator logs a warning, once per field for the life of the operator.
 */
export interface DerivedField {
  /** Output field name. */
  name: string;
  /** The aggregates the expression reads; an equal name in two derived fields means one shared aggregate. */
  aggregates: readonly AggregateField[];
  evaluate: (context: Row) => unknown;
}

/** An output field: one aggregate's result, or an expression over aggregate results. */
export type OutputField = AggregateField | DerivedField;

/** Whether an output field is an expression over aggregate results. */
export function isDerived(field: OutputField): field is DerivedField {
  return 'evaluate' in field;
}

/** Validated configuration of one window-aggregate step. */
export interface WindowAggregateConfig {
  /** The step id; names the state in checkpoints and appears in errors. */
  stepId: string;
  window: WindowSpec;
  /** `event`: windows by record time, fired by the watermark. `processing`: by the clock at arrival. */
  time: 'event' | 'processing';
  /**
   * Output fields holding the key, with their values from the first record of the (key, window).
   * Without batch keys or `keyFn`, records are grouped by these fields' values.
   */
  keyFields?: readonly string[];
  /** Groups by this function's result instead (TS API); the result goes in a `key` field. */
  keyFn?: (record: Row) => string;
  /** Output fields, in the order of the result record. */
  fields: readonly OutputField[];
  /** Milliseconds a fired event-time window keeps accepting late records and re-firing; ≥ 0. */
  allowedLateness: number;
}

/**
 * Checkpoint format of the operator; bump the version when the layout changes. v3: the windows'
 * state is keyed state (`OperatorContext.state`), snapshotted by key group — the view `windows`,
 * one entry per group key holding its windows (aligned) or sessions, each with its accumulators
 * and the result it emitted — and `store` keeps only what is not per key. v2 held the whole store
 * in `store`; it added the results emitted by fired windows (kept with allowed lateness, to
 * retract them on a late firing).
 */
const SNAPSHOT_FORMAT = 'sluice.window_aggregate.v3';
const SNAPSHOT_FORMAT_V2 = 'sluice.window_aggregate.v2';
/** The format before v2: the same layout without emitted results, so readable without lateness. */
const SNAPSHOT_FORMAT_V1 = 'sluice.window_aggregate.v1';

/** The name of the keyed view of the windows' state (part of the checkpoint format). */
const WINDOWS_STATE = 'windows';

interface WindowAggregateSnapshot {
  format: typeof SNAPSHOT_FORMAT | typeof SNAPSHOT_FORMAT_V2 | typeof SNAPSHOT_FORMAT_V1;
  /** What the state was built for: a restore refuses state of a different step. */
  shape: string;
  /** Event time: the last watermark; processing time: the last `now − 1`. */
  progress: number;
  /** Whether input batches carried `key_by` keys (results then carry them too). */
  keyedInput: boolean;
  /** v3: what the store keeps that is not per key; v1, v2: the whole store. */
  store: unknown;
  /** v3: the keyed state, when no runtime holds it (an operator opened without `OperatorContext.state`). */
  keyed?: unknown;
}

const RESERVED = new Set(['window_start', 'window_end']);

function validate(config: WindowAggregateConfig): void {
  const step = config.stepId;
  const fail = (path: string, message: string): never => {
    throw new SluiceError('CONFIG_INVALID', `${path}: ${message}`, { step, path });
  };
  if (config.time !== 'event' && config.time !== 'processing') {
    fail('time', `must be 'event' or 'processing', got '${String(config.time)}'`);
  }
  if (!(Number.isFinite(config.allowedLateness) && config.allowedLateness >= 0)) {
    fail('allowed_lateness', `must be a duration of 0 or more, got ${String(config.allowedLateness)}`);
  }
  checkOutputFields(config, RESERVED);
}

/**
 * Throws CONFIG_INVALID when an output field is empty, named twice (key fields, `key`, fields) or
 * takes a `reserved` name (the window bounds), or a derived field's aggregate is named like a key
 * field or a reserved name. Shared by the aggregates with and without a window.
 */
export function checkOutputFields(
  config: {
    readonly stepId: string;
    readonly keyFields?: readonly string[];
    readonly keyFn?: unknown;
    readonly fields: readonly OutputField[];
  },
  reserved: ReadonlySet<string>,
): void {
  const fail = (path: string, message: string): never => {
    throw new SluiceError('CONFIG_INVALID', `${path}: ${message}`, { step: config.stepId, path });
  };
  const used = new Map<string, string>();
  const claim = (name: string, path: string) => {
    if (typeof name !== 'string' || name === '') fail(path, 'a field name must be a non-empty string');
    if (reserved.has(name)) fail(path, `'${name}' is reserved for the window bounds; choose another name`);
    const other = used.get(name);
    if (other !== undefined) fail(path, `output field '${name}' is also produced by ${other}; rename one`);
    used.set(name, path);
  };
  const keyFields = config.keyFields ?? [];
  for (let i = 0; i < keyFields.length; i++) claim(keyFields[i], `key_fields[${i}]`);
  if (config.keyFn) claim('key', 'key');
  for (let i = 0; i < config.fields.length; i++) claim(config.fields[i].name, `fields[${i}].name`);
  const context = new Set([...keyFields, ...reserved]);
  for (let i = 0; i < config.fields.length; i++) {
    const field = config.fields[i];
    if (!isDerived(field)) continue;
    for (let j = 0; j < field.aggregates.length; j++) {
      const name = field.aggregates[j].name;
      if (context.has(name)) {
        fail(
          `fields[${i}].aggregates[${j}].name`,
          reserved.size > 0
            ? `'${name}' is a key field or window bound; choose another name`
            : `'${name}' is a key field; choose another name`,
        );
      }
    }
  }
}

/** The values of `keyFields` in a record (NULL for a missing one), or null without key fields. */
export function keyValuesOf(keyFields: readonly string[]): (record: Row) => unknown[] | null {
  if (keyFields.length === 0) return () => null;
  return (record) => {
    const values = new Array<unknown>(keyFields.length);
    for (let j = 0; j < keyFields.length; j++) values[j] = record[keyFields[j]] ?? null;
    return values;
  };
}

/** How the results of `fields` planned as `plan` are laid out; `onError` hears of failing derived fields. */
export function resultLayout(
  keyFields: readonly string[],
  fields: readonly OutputField[],
  plan: FieldPlan,
  windowed: boolean,
  onError: (field: string, error: unknown) => void,
): ResultLayout {
  return {
    keyFields,
    names: fields.map((f) => f.name),
    functions: plan.aggregates.map((f) => f.fn),
    windowed,
    ...(plan.derived
      ? {
          derived: {
            outputs: plan.derived.outputs.map((o) => (typeof o === 'number' ? o : o.evaluate)),
            inputs: plan.derived.inputs,
            onError,
          },
        }
      : {}),
  };
}

/** Where each output comes from: the aggregates to keep, and per output an index into them or an expression. */
export interface FieldPlan {
  aggregates: AggregateField[];
  /** Present when some output is derived. */
  derived?: { outputs: (number | DerivedField)[]; inputs: [string, number][] };
}

/**
 * The accumulators to keep for `fields` (each aggregate once, shared between derived fields that
 * read the same name) and where each output comes from.
 */
export function planFields(fields: readonly OutputField[]): FieldPlan {
  const aggregates: AggregateField[] = [];
  const inputs = new Map<string, number>();
  let derived = false;
  const outputs = fields.map((field) => {
    if (!isDerived(field)) return aggregates.push(field) - 1;
    derived = true;
    for (const a of field.aggregates) {
      if (!inputs.has(a.name)) inputs.set(a.name, aggregates.push(a) - 1);
    }
    return field;
  });
  return derived ? { aggregates, derived: { outputs, inputs: [...inputs] } } : { aggregates };
}

/**
 * Builds the window-aggregate operator.
 *
 * Grouping key, by priority: `keyFn`, `keyFields` (which regroup a keyed input), the batch's
 * `key_by` keys, else one global group. Each result record is `{ ...keyFields, key?,
 * window_start, window_end, ...results }` with event time `window_end − 1`; `key` holds the
 * grouping key when it comes from `keyFn`, or from batch keys without `keyFields`. Results
 * grouped by batch keys carry the group key in `batch.keys`.
 *
 * Event time: a record with time t goes to every window containing t. A window [start, end)
 * fires when the watermark reaches end − 1, once per (key, window), in end order. Its state is
 * kept until the watermark reaches end − 1 + allowedLateness. A record none of whose windows is
 * within that bound goes to `out.late`; a record some of whose windows are too old goes to the
 * others only. Sessions merge first and are then judged by the merged session.
 * `onWatermark(Infinity)` fires every open window exactly once.
 *
 * Without allowed lateness the output is append-only. With it (event time, allowedLateness > 0)
 * the output is a retract changelog (`Batch.kinds`): a first firing is an INSERT, and a late
 * record that changes a fired result emits, right after that record, an UPDATE_BEFORE of the
 * result emitted before and at once an UPDATE_AFTER of the new one (in one batch); a late record
 * that leaves the result unchanged emits nothing. Sessions: a late record that merges sessions
 * moves the emitted results of the sessions that disappear into the merge (all but the earliest)
 * to the merged one, which deletes them (DELETE) when it fires, then emits its own result as an
 * INSERT, or as an update of its own earlier result when it had fired; a session that a late
 * record made end beyond the watermark fires that change when the watermark passes its new end.
 * Folding the changelog by (key, window_start, window_end) gives exactly the final windows. To
 * retract, the operator keeps each fired group's emitted result until its allowed lateness ends
 * (one result record per fired (key, window): memory and checkpoint size grow with the number of
 * windows fired within the allowed lateness).
 * When the batch carries `watermarks`, the operator advances to `watermarks[i]` (firing what
 * became due) before it takes record i, so lateness, firing and merging are what they would be
 * with one record per batch: results do not depend on how the input was batched. Results carry
 * the watermark that stood before they fired.
 *
 * Processing time: records take `ctx.clock.now()` at arrival (one reading per batch); windows
 * fire in `onProcessingTime(now)` once now ≥ end, and every open window fires at `close`. No
 * record is late and `allowedLateness` is ignored. In event time `close` emits nothing: open
 * windows stay in the last checkpoint.
 *
 * A derived field (an expression over aggregate results) whose expression throws for a result is
 * NULL in it; the first such failure of each field is logged as a warning through `ctx.log`.
 *
 * The windows' state is keyed state by group key (`OperatorContext.state`; without one, the
 * operator keeps it in its own snapshot). `snapshot()` and the keyed state's entries are live
 * references to the state: the runtime must serialize them before the next call.
 *
 * A record without a finite event time, without one of `keyFields` (whatever it is grouped by),
 * whose key or argument function throws, or that an aggregate function's `check` refuses (a sum
 * it would overflow) goes to the dead-letter output and into no window. Throws CONFIG_INVALID for
 * an invalid window spec, lateness or duplicate output fields; `open` throws
 * CHECKPOINT_INCOMPATIBLE for state of a differently configured step.
 */
export function createWindowAggregate(config: WindowAggregateConfig): Operator {
  validate(config);
  return new WindowAggregate(config);
}

class WindowAggregate implements Operator {
  readonly absorbs = true;
  readonly #config: WindowAggregateConfig;
  readonly #shape: string;
  readonly #store: WindowStore;
  readonly #emitter: ResultEmitter;
  readonly #args: ((record: Row) => unknown)[];
  readonly #values: unknown[];
  readonly #keyFn: ((record: Row) => GroupKey) | undefined;
  readonly #fieldKey: (record: Row) => GroupKey;
  /** Whether the step has `key` fields, which group it whatever keys the input carries. */
  readonly #byFields: boolean;
  readonly #processing: boolean;
  #clock: Clock = systemClock;
  #progress = Number.NEGATIVE_INFINITY;
  #keyedInput = false;
  #log: Logger = silentLogger;
  /** The keyed state when no runtime holds it; it then goes into `snapshot`. */
  #own: MemoryStateBackend | undefined;

  constructor(config: WindowAggregateConfig) {
    this.#config = config;
    let assigner: ReturnType<typeof createWindowAssigner>;
    try {
      assigner = createWindowAssigner(config.window);
    } catch (err) {
      const e = toSluiceError(err, 'CONFIG_INVALID');
      throw new SluiceError(e.code, e.message, { step: config.stepId, path: e.path, cause: err });
    }
    const keyFields = config.keyFields ?? [];
    const plan = planFields(config.fields);
    const functions = plan.aggregates.map((f) => f.fn);
    this.#shape = JSON.stringify({
      window: assigner.spec,
      time: config.time,
      keyFields,
      fields: plan.aggregates.map((f) => [f.name, f.fn.name]),
    });
    const settings = {
      functions,
      allowedLateness: config.time === 'event' ? config.allowedLateness : 0,
      keyValuesOf: keyValuesOf(keyFields),
    };
    this.#store =
      assigner.spec.type === 'session'
        ? new SessionWindowStore(assigner.spec.gap, settings)
        : new AlignedWindowStore(assigner, settings);
    this.#emitter = new ResultEmitter(
      resultLayout(
        keyFields,
        config.fields,
        plan,
        true,
        derivedFieldWarner(config.stepId, () => this.#log),
      ),
    );
    this.#args = plan.aggregates.map((f) => f.arg ?? (() => undefined));
    this.#values = new Array(plan.aggregates.length);
    this.#keyFn = config.keyFn;
    this.#fieldKey = fieldGroupKey(keyFields);
    this.#byFields = keyFields.length > 0;
    this.#processing = config.time === 'processing';
    this.#emitter.changelog = settings.allowedLateness > 0;
    if (!this.#processing) this.#emitter.watermark = this.#progress;
    this.#syncEmitter();
    this.#attach(undefined);
  }

  /** Hands the windows' state to `state`, or keeps it itself (restored from `own`) without one. */
  #attach(state: StateBackend | undefined, saved?: unknown): void {
    const { backend, own } = keyedBackend(state, saved);
    this.#own = own;
    const store = this.#store;
    backend.keyed<GroupKey, unknown>(WINDOWS_STATE, {
      entries: () => store.entries(),
      restore: (key, entry) => store.restoreKey(key, entry),
    });
  }

  #syncEmitter(): void {
    this.#emitter.keyField =
      this.#keyFn !== undefined || (this.#keyedInput && (this.#config.keyFields ?? []).length === 0);
    this.#emitter.keyed = this.#keyedInput;
  }

  open(ctx: OperatorContext): void {
    this.#clock = ctx.clock;
    this.#log = ctx.log ?? silentLogger;
    if (ctx.restored === undefined) {
      this.#attach(ctx.state);
      return;
    }
    const saved = ctx.restored as Partial<WindowAggregateSnapshot> | null;
    const step = this.#config.stepId;
    if (saved?.format === SNAPSHOT_FORMAT_V1 && this.#emitter.changelog) {
      throw new SluiceError(
        'CHECKPOINT_INCOMPATIBLE',
        `the checkpointed state of window step '${step}' was written by an older Sluice that did not keep the results of fired windows, which a late firing with allowed_lateness now retracts; restart with --from-scratch to drop it, or finish the job with the older version first`,
        { step },
      );
    }
    const legacy = saved?.format === SNAPSHOT_FORMAT_V2 || saved?.format === SNAPSHOT_FORMAT_V1;
    if ((saved?.format !== SNAPSHOT_FORMAT && !legacy) || saved.shape !== this.#shape) {
      throw new SluiceError(
        'CHECKPOINT_INCOMPATIBLE',
        `the checkpointed state of window step '${step}' was made by a different window, time mode, key or aggregate list; restart with --from-scratch to drop it`,
        { step },
      );
    }
    try {
      if (legacy) {
        // Before v3 the store held every key's windows: they move into the keyed state.
        this.#attach(ctx.state);
        this.#store.restoreLegacy(saved.store);
      } else {
        this.#store.restore(saved.store);
        this.#attach(ctx.state, saved.keyed);
        this.#store.rebuild();
      }
    } catch (err) {
      throw toSluiceError(err, 'CHECKPOINT_INCOMPATIBLE', { step });
    }
    this.#progress = saved.progress ?? Number.NEGATIVE_INFINITY;
    if (!this.#processing) this.#emitter.watermark = this.#progress;
    this.#keyedInput = saved.keyedInput === true;
    this.#syncEmitter();
  }

  processBatch(batch: Batch, out: Output): void {
    const records = batch.records;
    const n = records.length;
    if (n === 0) return;
    const times = batch.times;
    // `key` fields regroup the records: an upstream key_by's keys only group when there are none.
    const keys = this.#byFields ? undefined : batch.keys;
    if (keys !== undefined && !this.#keyedInput) {
      this.#keyedInput = true;
      this.#syncEmitter();
    }
    const processing = this.#processing;
    const now = processing ? this.#clock.now() : 0;
    const watermarks = processing ? undefined : batch.watermarks;
    const store = this.#store;
    const emitter = this.#emitter.to(out);
    const args = this.#args;
    const values = this.#values;
    const keyFn = this.#keyFn;
    const fieldKey = this.#fieldKey;
    for (let i = 0; i < n; i++) {
      // Fire what the watermark before this record made due, then decide the record against it.
      if (watermarks !== undefined && watermarks[i] > this.#progress) this.#advance(watermarks[i]);
      const record = records[i];
      const time = processing ? now : times[i];
      if (!Number.isFinite(time)) {
        out.deadLetter(batch, i, this.#invalidTime(time));
        continue;
      }
      let key: GroupKey;
      const progress = processing ? Number.NEGATIVE_INFINITY : this.#progress;
      try {
        key = fieldKey(record);
        if (keyFn !== undefined) key = keyFn(record);
        else if (keys !== undefined) key = keys[i];
        for (let j = 0; j < args.length; j++) values[j] = args[j](record);
        if (!store.add(key, record, time, values, progress)) {
          out.late(batch, i, this.#lateReason(time));
          continue;
        }
      } catch (err) {
        out.deadLetter(batch, i, toSluiceError(err, 'USER_FUNCTION_FAILED', { step: this.#config.stepId }));
        continue;
      }
      // A late record that changed a fired window updates its result at once.
      if (store.hasUpdates) {
        emitter.watermark = this.#progress;
        store.flushUpdates(emitter);
      }
    }
    emitter.flush();
  }

  #invalidTime(time: unknown): SluiceError {
    return new SluiceError(
      'EVENT_TIME_INVALID',
      `record has no valid event time (${String(time)}); windows need epoch milliseconds`,
      { step: this.#config.stepId },
    );
  }

  #lateReason(time: number): string {
    return `record time ${time} is too late: the watermark ${this.#progress} passed the end of its window(s) plus allowed lateness ${this.#config.allowedLateness} ms`;
  }

  onWatermark(watermark: number, out: Output): void {
    if (this.#processing || !(watermark > this.#progress)) return;
    this.#emitter.to(out);
    this.#advance(watermark);
    this.#emitter.flush();
  }

  /**
   * Moves event time to `watermark`, adding the windows it makes due to the emitter: they carry
   * the watermark before the advance, and what follows (updates of fired windows by the next
   * records) carries the new one.
   */
  #advance(watermark: number): void {
    if (watermark < this.#store.nextDue) {
      this.#progress = watermark;
      return;
    }
    this.#emitter.watermark = this.#progress;
    this.#progress = watermark;
    this.#store.advance(watermark, this.#emitter);
  }

  onProcessingTime(now: number, out: Output): void {
    if (!this.#processing || !(now - 1 > this.#progress)) return;
    this.#progress = now - 1;
    this.#store.advance(now - 1, this.#emitter.to(out));
    this.#emitter.flush();
  }

  snapshot(): WindowAggregateSnapshot {
    const snapshot: WindowAggregateSnapshot = {
      format: SNAPSHOT_FORMAT,
      shape: this.#shape,
      progress: this.#progress,
      keyedInput: this.#keyedInput,
      store: this.#store.snapshot(),
    };
    if (this.#own !== undefined) snapshot.keyed = this.#own.snapshot();
    return snapshot;
  }

  close(out: Output): void {
    if (!this.#processing) return;
    this.#progress = Number.POSITIVE_INFINITY;
    this.#store.advance(Number.POSITIVE_INFINITY, this.#emitter.to(out));
    this.#emitter.flush();
  }
}
