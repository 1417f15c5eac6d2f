/**
 * `dedupe`: keeps the first record per key within a time horizon and drops later duplicates.
 *
 * Built on the keyed-state and timer-wheel primitives rather than on `process`: it passes input
 * records through untouched (keeping their offsets, and the input batch itself when nothing is
 * dropped), costs one map lookup per record, and expires entries in coarse time buckets instead of
 * one exact timer per key. An entry counts as expired as soon as the watermark reaches its horizon,
 * whether or not its bucket has been swept, so the sweep granularity never changes results.
 */

import { SluiceError } from '../errors.ts';
import type { Operator, OperatorContext, Output } from '../operator.ts';
import { type Batch, pushFrom, type Row, sliceBatch } from '../record.ts';
import { type KeyedMap, MemoryStateBackend, restoreMaps, type StateBackend } from '../state.ts';
import { type Clock, systemClock } from '../time.ts';
import { TimerWheel } from './timer-wheel.ts';

export interface DedupeOptions {
  /** The step id; names the state in checkpoints. */
  stepId: string;
  /** Computes each record's key. Without it the batch's keys (from an upstream `key_by`) are used. */
  keyFn?: (record: Row) => string;
  /** Horizon in ms: a kept record at time t blocks records of its key with a time before t + within. */
  within: number;
  /** `event`: record event times, entries expire with the watermark; `processing`: the clock. */
  time: 'event' | 'processing';
}

/** Checkpointed form: the `first-seen` map (key → time of the record that was kept) and the watermark. */
interface DedupeSnapshot {
  /**
   * 2: the `first-seen` map is the runtime's keyed state (`OperatorContext.state`), so `state`
   * is present only outside a job; 1 (older checkpoints): the map is in `state`.
   */
  version: 1 | 2;
  watermark: number;
  state?: unknown;
}

/** Expiry buckets per horizon: entries are swept at most `within / SWEEPS_PER_HORIZON` late. */
const SWEEPS_PER_HORIZON = 16;

/**
 * Builds a dedupe operator.
 *
 * A record is kept when its key has no entry or its time is ≥ the entry's time + `within`; it then
 * becomes the key's entry. Other records are duplicates: dropped and counted with
 * `out.filtered(n)`. With `time: 'event'` the time is the record's event time, so a record earlier
 * than the kept one (out of order) is a duplicate too, and an entry is forgotten once the watermark
 * reaches its time + `within` — after that no record that is not late can be its duplicate. A late
 * record (event time ≤ the watermark it met, see `Batch.watermarks`) goes to `out.late`: the entry
 * that would make it a duplicate may have been forgotten, so keeping or dropping it would depend
 * on timing. With `time: 'processing'` the time is the clock at the batch and entries are
 * forgotten once the clock reaches their time + `within`. Kept records leave unchanged, in input
 * order. Throws CONFIG_INVALID for a bad option or a batch with no key; a throwing `keyFn`
 * dead-letters the record as USER_FUNCTION_FAILED.
 */
export function createDedupeOperator(options: DedupeOptions): Operator {
  return new DedupeOperator(options);
}

class DedupeOperator implements Operator {
  readonly #stepId: string;
  readonly #keyFn: ((record: Row) => string) | undefined;
  readonly #within: number;
  readonly #processingTime: boolean;
  #clock: Clock = systemClock;
  #backend: StateBackend = new MemoryStateBackend();
  /** Whether the state lives here (no runtime holds it): then it goes into `snapshot`. */
  #ownState = true;
  #seen: KeyedMap<number> = this.#backend.map<number>('first-seen');
  readonly #expiry: TimerWheel;
  #watermark = Number.NEGATIVE_INFINITY;

  constructor(options: DedupeOptions) {
    const { stepId, within, time } = options;
    if (typeof within !== 'number' || !(within > 0) || !Number.isFinite(within)) {
      throw new SluiceError('CONFIG_INVALID', `dedupe 'within' must be a positive duration, got ${within}`, {
        step: stepId,
        path: 'within',
      });
    }
    if (time !== 'event' && time !== 'processing') {
      throw new SluiceError(
        'CONFIG_INVALID',
        `dedupe 'time' must be 'event' or 'processing', got '${time}'`,
        { step: stepId, path: 'time' },
      );
    }
    this.#stepId = stepId;
    this.#keyFn = options.keyFn;
    this.#within = within;
    this.#processingTime = time === 'processing';
    this.#expiry = new TimerWheel(Math.max(1, Math.ceil(within / SWEEPS_PER_HORIZON)));
  }

  open(ctx: OperatorContext): void {
    this.#clock = ctx.clock;
    this.#watermark = ctx.watermark();
    this.#backend = ctx.state ?? new MemoryStateBackend();
    this.#ownState = ctx.state === undefined;
    this.#seen = this.#backend.map<number>('first-seen');
    if (ctx.restored === undefined) return;
    const snapshot = ctx.restored as Partial<DedupeSnapshot> | null;
    if (
      typeof snapshot !== 'object' ||
      snapshot === null ||
      (snapshot.version !== 1 && snapshot.version !== 2) ||
      typeof snapshot.watermark !== 'number' ||
      (snapshot.state === undefined ? snapshot.version !== 2 : !restoreMaps(snapshot.state, this.#backend))
    ) {
      throw new SluiceError(
        'CHECKPOINT_INCOMPATIBLE',
        `the checkpoint's state for step '${this.#stepId}' is not a dedupe step's state; ` +
          'the step changed since the checkpoint was taken: restart with --from-scratch',
        { step: this.#stepId },
      );
    }
    if (snapshot.watermark > this.#watermark) this.#watermark = snapshot.watermark;
    this.#expiry.clear();
    for (const [key, first] of this.#seen.entries()) this.#expiry.add(first + this.#within, key);
  }

  processBatch(batch: Batch, out: Output): void {
    const n = batch.records.length;
    if (n === 0) return;
    const keyFn = this.#keyFn;
    const keys = batch.keys;
    if (!keyFn && !keys) {
      throw new SluiceError('CONFIG_INVALID', 'dedupe needs a key: put key_by before it or set a key', {
        step: this.#stepId,
      });
    }
    const processing = this.#processingTime;
    const now = processing ? this.#clock.now() : 0;
    if (processing) this.#expire(now);
    const records = batch.records;
    const times = batch.times;
    const seen = this.#seen;
    const expiry = this.#expiry;
    const within = this.#within;
    const watermarks = processing ? undefined : batch.watermarks;
    let watermark = processing ? Number.NEGATIVE_INFINITY : this.#watermark;
    let kept: Batch | null = null;
    let dropped = 0;
    for (let i = 0; i < n; i++) {
      const record = records[i];
      if (watermarks !== undefined && watermarks[i] > watermark) {
        watermark = watermarks[i];
        this.#watermark = watermark;
      }
      let key: string;
      if (keyFn) {
        try {
          key = keyFn(record);
        } catch (err) {
          kept ??= sliceBatch(batch, 0, i);
          out.deadLetter(batch, i, this.#keyFailure(err));
          continue;
        }
      } else {
        key = keys![i];
      }
      const time = processing ? now : times[i];
      if (time <= watermark) {
        // Its duplicates may have been forgotten already: a decision now would depend on when.
        kept ??= sliceBatch(batch, 0, i);
        out.late(batch, i, this.#lateReason(time, watermark));
        continue;
      }
      const first = seen.get(key);
      // An entry the watermark has expired cannot matter here: time > watermark ≥ first + within.
      if (first === undefined || time >= first + within) {
        seen.set(key, time);
        expiry.add(time + within, key);
        if (kept) pushFrom(kept, batch, i, record);
      } else {
        kept ??= sliceBatch(batch, 0, i);
        dropped++;
      }
    }
    if (!kept) out.emit(batch);
    else if (kept.records.length > 0) out.emit(kept);
    if (dropped > 0) out.filtered(dropped);
  }

  onWatermark(watermark: number): void {
    if (this.#processingTime) return;
    // processBatch may have moved the watermark already (per record) without sweeping.
    if (watermark > this.#watermark) this.#watermark = watermark;
    this.#expire(this.#watermark);
  }

  onProcessingTime(now: number): void {
    if (this.#processingTime) this.#expire(now);
  }

  snapshot(): DedupeSnapshot {
    const snapshot: DedupeSnapshot = { version: 2, watermark: this.#watermark };
    if (this.#ownState) snapshot.state = this.#backend.snapshot();
    return snapshot;
  }

  /** Removes the entries in due buckets whose horizon ends at or before `bound`. */
  #expire(bound: number): void {
    const seen = this.#seen;
    const within = this.#within;
    for (let keys = this.#expiry.takeDue(bound); keys; keys = this.#expiry.takeDue(bound)) {
      for (let i = 0; i < keys.length; i++) {
        const first = seen.get(keys[i]);
        if (first !== undefined && first + within <= bound) seen.delete(keys[i]);
      }
    }
  }

  #lateReason(time: number, watermark: number): string {
    return `record time ${time} is not after the watermark ${watermark}: records of its key that it duplicates may already be forgotten`;
  }

  #keyFailure(err: unknown): SluiceError {
    // An expression key fails with its own code (a missing field, a bad cast): keep it.
    if (err instanceof SluiceError) {
      return err.step !== undefined
        ? err
        : new SluiceError(err.code, err.message, { step: this.#stepId, path: err.path, cause: err });
    }
    const message = err instanceof Error ? err.message : String(err);
    return new SluiceError('USER_FUNCTION_FAILED', `the dedupe key function threw: ${message}`, {
      step: this.#stepId,
      cause: err,
    });
  }
}
