/**
 * Keyed `process`: the lowest-level operator of the TypeScript API (Flink's
 * KeyedProcessFunction). A user function sees one record at a time with its key's state and can
 * emit records and set event-time and processing-time timers for the key.
 */

import { SluiceError } from '../errors.ts';
import type { Operator, OperatorContext, Output } from '../operator.ts';
import type { Batch } from '../record.ts';
import { MemoryStateBackend, restoreMaps, type StateBackend } from '../state.ts';
import { type Clock, systemClock } from '../time.ts';
import { MutableProcessContext, type ProcessContext } from './process-context.ts';
import { TimerService } from './timer-service.ts';

export type { ProcessContext } from './process-context.ts';

/** The user logic of a `process` step. */
export interface ProcessFunction<I, S, O> {
  /** Called once per record, with the record's key in `ctx.key`. */
  processRecord(record: I, ctx: ProcessContext<S, O>): void;
  /** Called once per fired timer, with its key in `ctx.key` and its time in `time` and `ctx.timestamp`. */
  onTimer?(time: number, domain: 'event' | 'processing', ctx: ProcessContext<S, O>): void;
}

export interface ProcessOperatorOptions<I, S, O> {
  /** The step id; names the state in checkpoints and the step in dead letters. */
  stepId: string;
  fn: ProcessFunction<I, S, O>;
  /** Computes each record's key. Without it the batch's keys (from an upstream `key_by`) are used. */
  keyFn?: (record: I) => string;
}

/** Checkpointed form of a process operator: its state maps (`value`, `event-timers`, `processing-timers`). */
/**
 * Checkpointed form. Version 2: the keyed state (values, timers) is the runtime's
 * (`OperatorContext.state`), so nothing else; `state` only outside a job, where there is no
 * runtime to hold it. Version 1 (older checkpoints) held the maps in `state`.
 */
interface ProcessSnapshot {
  version: 1 | 2;
  state?: unknown;
}

/**
 * Builds a keyed process operator.
 *
 * Each record's key comes from `keyFn` or else the batch's keys; a batch with neither throws
 * CONFIG_INVALID. When the function (or `keyFn`) throws on a record, the record goes to the
 * dead-letter output as USER_FUNCTION_FAILED, what that call emitted is discarded (state it set is
 * kept) and processing continues; a throwing `onTimer` dead-letters a `{ timer: { key, time,
 * domain } }` record. Records emitted during one `processBatch`, `onWatermark` or
 * `onProcessingTime` call leave as one batch keyed by the emitting key. Event-time timers fire in
 * (time, key) order on `onWatermark(w)` for every time ≤ w, including timers registered while
 * firing; processing-time timers likewise on `onProcessingTime(now)`. Pending processing-time timers
 * do not fire at end of input. State and timers are checkpointed; a restored operator behaves as
 * one that never stopped.
 */
export function createProcessOperator<I, S, O>(options: ProcessOperatorOptions<I, S, O>): Operator {
  return new ProcessOperator(options);
}

class ProcessOperator<I, S, O> implements Operator {
  readonly #stepId: string;
  readonly #fn: ProcessFunction<I, S, O>;
  readonly #keyFn: ((record: I) => string) | undefined;
  #backend: StateBackend = new MemoryStateBackend();
  /** Whether the state lives here (no runtime holds it): then it goes into `snapshot`. */
  #ownState = true;
  #timers = new TimerService(this.#backend);
  #ctx: MutableProcessContext<S, O>;

  constructor(options: ProcessOperatorOptions<I, S, O>) {
    this.#stepId = options.stepId;
    this.#fn = options.fn;
    this.#keyFn = options.keyFn;
    this.#ctx = this.#context(systemClock);
  }

  open(ctx: OperatorContext): void {
    this.#backend = ctx.state ?? new MemoryStateBackend();
    this.#ownState = ctx.state === undefined;
    if (ctx.restored !== undefined) this.#restore(ctx.restored);
    this.#timers = new TimerService(this.#backend);
    this.#ctx = this.#context(ctx.clock);
    this.#ctx.watermark = ctx.watermark();
    this.#ctx.emitWatermark = this.#ctx.watermark;
  }

  processBatch(batch: Batch, out: Output): void {
    const n = batch.records.length;
    if (n === 0) return;
    const keyFn = this.#keyFn;
    const keys = batch.keys;
    if (!keyFn && !keys) {
      throw new SluiceError('CONFIG_INVALID', 'process needs a key: put key_by before it', {
        step: this.#stepId,
      });
    }
    const records = batch.records as unknown as I[];
    const times = batch.times;
    const offsets = batch.offsets;
    const watermarks = batch.watermarks;
    const fn = this.#fn;
    const ctx = this.#ctx;
    if (offsets) ctx.offsets = [];
    for (let i = 0; i < n; i++) {
      // Timers the watermark before this record made due fire before the record is seen.
      if (watermarks !== undefined && watermarks[i] > ctx.watermark) this.#advance(watermarks[i], out);
      const record = records[i];
      const mark = ctx.records.length;
      try {
        ctx.key = keyFn ? keyFn(record) : keys![i];
        ctx.timestamp = times[i];
        if (offsets) ctx.offset = offsets[i];
        fn.processRecord(record, ctx);
      } catch (err) {
        ctx.truncate(mark);
        out.deadLetter(batch, i, this.#failure(err, 'on a record'));
      }
    }
    const emitted = ctx.take();
    if (emitted) {
      if (batch.source !== undefined) emitted.source = batch.source;
      if (batch.partition !== undefined) emitted.partition = batch.partition;
      out.emit(emitted as unknown as Batch);
    }
  }

  onWatermark(watermark: number, out: Output): void {
    this.#advance(Math.max(watermark, this.#ctx.watermark), out);
    const emitted = this.#ctx.take();
    if (emitted) out.emit(emitted as unknown as Batch);
  }

  /**
   * Moves event time to `watermark` and fires the event-time timers it made due; what they emit
   * carries the watermark before the advance, and what is emitted afterwards the new one.
   */
  #advance(watermark: number, out: Output): void {
    const ctx = this.#ctx;
    ctx.emitWatermark = ctx.watermark;
    ctx.watermark = watermark;
    this.#fire(this.#timers.event, 'event', watermark, out);
    ctx.emitWatermark = watermark;
  }

  onProcessingTime(now: number, out: Output): void {
    this.#fire(this.#timers.processing, 'processing', now, out);
    const emitted = this.#ctx.take();
    if (emitted) out.emit(emitted as unknown as Batch);
  }

  snapshot(): ProcessSnapshot {
    return this.#ownState ? { version: 2, state: this.#backend.snapshot() } : { version: 2 };
  }

  #fire(queue: TimerService['event'], domain: 'event' | 'processing', bound: number, out: Output): void {
    const onTimer = this.#fn.onTimer;
    const ctx = this.#ctx;
    while (queue.next(bound)) {
      if (!onTimer) continue;
      const mark = ctx.records.length;
      ctx.key = queue.key;
      ctx.timestamp = queue.time;
      try {
        onTimer.call(this.#fn, queue.time, domain, ctx);
      } catch (err) {
        ctx.truncate(mark);
        const timer = { key: queue.key, time: queue.time, domain };
        out.deadLetter(
          { records: [{ timer }], times: [queue.time], keys: [queue.key] },
          0,
          this.#failure(err, `in onTimer (${domain} time ${queue.time})`),
        );
      }
    }
  }

  #context(clock: Clock): MutableProcessContext<S, O> {
    return new MutableProcessContext(this.#backend.map<S>('value'), this.#timers, clock);
  }

  #failure(err: unknown, where: string): SluiceError {
    if (err instanceof SluiceError) {
      if (err.step !== undefined) return err;
      return new SluiceError(err.code, err.message, { step: this.#stepId, path: err.path, cause: err });
    }
    const message = err instanceof Error ? err.message : String(err);
    return new SluiceError('USER_FUNCTION_FAILED', `the process function threw ${where}: ${message}`, {
      step: this.#stepId,
      cause: err,
    });
  }

  /** Takes up a checkpointed snapshot: version 1's maps (or version 2's, outside a job) go into the state. */
  #restore(restored: unknown): void {
    const snapshot = restored as Partial<ProcessSnapshot> | null;
    const ok =
      typeof snapshot === 'object' &&
      snapshot !== null &&
      (snapshot.version === 1 || snapshot.version === 2) &&
      (snapshot.state === undefined ? snapshot.version === 2 : restoreMaps(snapshot.state, this.#backend));
    if (!ok) {
      throw new SluiceError(
        'CHECKPOINT_INCOMPATIBLE',
        `the checkpoint's state for step '${this.#stepId}' is not a process step's state; ` +
          'the step changed since the checkpoint was taken: restart with --from-scratch',
        { step: this.#stepId },
      );
    }
  }
}
