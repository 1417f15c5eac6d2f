/**
 * The context a keyed process function sees, and the one mutable object that implements it.
 */

import { SluiceError } from '../errors.ts';
import type { Batch, Offset } from '../record.ts';
import type { KeyedMap } from '../state.ts';
import type { Clock } from '../time.ts';
import type { TimerService } from './timer-service.ts';

/**
 * What a process function can see and do for the record or timer it is handling. Valid only during
 * the call it is passed to: the same object is reused for every record and timer.
 */
export interface ProcessContext<S, O> {
  /** Key of the current record or timer. */
  readonly key: string;
  /** Event time of the current record; in `onTimer`, the timer's time. */
  readonly timestamp: number;
  /** Current pipeline watermark; in `onTimer` for an event-time timer, the watermark that fired it. */
  readonly watermark: number;
  /** Current processing time from the job's clock, epoch ms. */
  processingTime(): number;
  /** This key's state, or undefined when none is set. */
  state(): S | undefined;
  /** Replaces this key's state. The value must be plain data, no class instances (it is checkpointed). */
  setState(value: S): void;
  clearState(): void;
  /** Emits a record keyed by the current key, at `time` (default: `timestamp`). */
  emit(record: O, time?: number): void;
  /**
   * Registers a timer for this key that fires once, in `onTimer`, when the watermark reaches
   * `time`; one timer per key and time. A time the watermark has already reached fires at the
   * next watermark (at the latest at end of input).
   */
  registerEventTimeTimer(time: number): void;
  /** Registers a timer for this key that fires once when processing time reaches `time`. */
  registerProcessingTimeTimer(time: number): void;
  deleteEventTimeTimer(time: number): void;
  deleteProcessingTimeTimer(time: number): void;
}

/** The reusable context object; the operator sets `key`, `timestamp` and `offset` before each call. */
export class MutableProcessContext<S, O> implements ProcessContext<S, O> {
  key = '';
  timestamp = 0;
  watermark = Number.NEGATIVE_INFINITY;
  /** Source offset of the current record, copied to what it emits when `offsets` is collected. */
  offset: Offset = 0;
  records: O[] = [];
  times: number[] = [];
  keys: string[] = [];
  /** The watermark before each emitted record (`Batch.watermarks`). */
  watermarks: number[] = [];
  /** The watermark what is emitted now carries: the one before the timers that are firing. */
  emitWatermark = Number.NEGATIVE_INFINITY;
  /** Collected only while processing a batch that carries offsets. */
  offsets: Offset[] | undefined;
  readonly #values: KeyedMap<S>;
  readonly #timers: TimerService;
  readonly #clock: Clock;

  constructor(values: KeyedMap<S>, timers: TimerService, clock: Clock) {
    this.#values = values;
    this.#timers = timers;
    this.#clock = clock;
  }

  processingTime(): number {
    return this.#clock.now();
  }

  state(): S | undefined {
    return this.#values.get(this.key);
  }

  setState(value: S): void {
    this.#values.set(this.key, value);
  }

  clearState(): void {
    this.#values.delete(this.key);
  }

  emit(record: O, time?: number): void {
    this.records.push(record);
    this.times.push(time === undefined ? this.timestamp : time);
    this.keys.push(this.key);
    this.watermarks.push(this.emitWatermark);
    if (this.offsets) this.offsets.push(this.offset);
  }

  registerEventTimeTimer(time: number): void {
    this.#timers.event.register(this.key, checkTime(time));
  }

  registerProcessingTimeTimer(time: number): void {
    this.#timers.processing.register(this.key, checkTime(time));
  }

  deleteEventTimeTimer(time: number): void {
    this.#timers.event.delete(this.key, time);
  }

  deleteProcessingTimeTimer(time: number): void {
    this.#timers.processing.delete(this.key, time);
  }

  /** Drops what was emitted after the first `length` records (the call that emitted it failed). */
  truncate(length: number): void {
    this.records.length = length;
    this.times.length = length;
    this.keys.length = length;
    this.watermarks.length = length;
    if (this.offsets) this.offsets.length = length;
  }

  /** Hands over what was emitted as a batch (or null when nothing was) and starts a new one. */
  take(): Batch<O> | null {
    if (this.records.length === 0) return null;
    const batch: Batch<O> = {
      records: this.records,
      times: this.times,
      keys: this.keys,
      watermarks: this.watermarks,
    };
    if (this.offsets) batch.offsets = this.offsets;
    this.records = [];
    this.times = [];
    this.keys = [];
    this.watermarks = [];
    this.offsets = undefined;
    return batch;
  }
}

function checkTime(time: number): number {
  if (typeof time !== 'number' || Number.isNaN(time)) {
    throw new SluiceError(
      'USER_FUNCTION_FAILED',
      `a timer time must be a number of epoch ms, got ${String(time)}`,
    );
  }
  return time;
}
