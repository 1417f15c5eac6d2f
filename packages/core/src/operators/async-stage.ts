/**
 * The asynchronous boundary: an operator whose work on a batch finishes later (a lookup over the
 * network, model scoring on worker threads). Batches go in as they come; results come out in
 * input order (`ordered`) or as they finish; at most `capacity` batches are in flight, and while
 * that many are, the sources wait (backpressure). The runtime drains the stage before each
 * checkpoint and at the end of input, so a checkpoint never covers a record still in flight, and
 * holds back the watermark of every step after it until the records it met are out, so none of
 * them becomes late for being slow.
 *
 * Ordered results are a function of the input, as a synchronous step's; unordered results let a
 * fast batch overtake a slow one, so their order — and what windows after the stage decide about
 * them — depends on timing, as Flink's unordered AsyncWaitOperator's does.
 */

import { SluiceError, toSluiceError } from '../errors.ts';
import type { AsyncBoundary, Operator, OperatorContext, Output } from '../operator.ts';
import type { Batch } from '../record.ts';

/** What the work on one batch gives: the records to emit, and the input records that failed or were dropped. */
export interface AsyncOutcome {
  /** Emitted downstream as it is (its records, times, kinds, keys, watermarks). */
  readonly batch: Batch;
  /** Input records that failed, by index into the input batch: dead letters. */
  readonly failed?: readonly { readonly index: number; readonly error: SluiceError }[];
  /** How many input records were dropped on purpose (counted as filtered). */
  readonly filtered?: number;
}

/**
 * The work on one batch. It resolves with the outcome; it rejects only when the job must fail
 * (a record that fails belongs in `failed`). `signal` aborts when the job stops or fails.
 */
export type AsyncWork = (batch: Batch, signal: AbortSignal) => Promise<AsyncOutcome>;

export interface AsyncStageOptions {
  readonly stepId: string;
  /** Most batches in flight; the sources wait while this many are. */
  readonly capacity: number;
  /** Emit results in input order (default) or as they finish. */
  readonly ordered: boolean;
  readonly work: AsyncWork;
  /**
   * Opens what the work needs, when the job opens (see `AsyncBoundary.acquire`); `signal` aborts
   * when the job stops or fails. Called after `open`, so `ctx` is the operator's context.
   */
  readonly acquire?: (ctx: OperatorContext, signal: AbortSignal) => Promise<void>;
  /** Closes it when the job ends; called at most once, and only after `acquire` was. */
  readonly release?: () => Promise<void>;
}

interface InFlight {
  readonly batch: Batch;
  /** The step's watermark when the batch arrived: the steps after it stay at or below it until it is out. */
  readonly watermark: number;
  outcome: AsyncOutcome | undefined;
}

export class AsyncStage implements Operator, AsyncBoundary {
  readonly async = this;
  readonly #options: AsyncStageOptions;
  /** In arrival order; finished ones wait here for those before them when ordered. */
  #inFlight: InFlight[] = [];
  readonly #abort = new AbortController();
  #ctx: OperatorContext | undefined;
  #out: Output | undefined;
  #waiters: (() => void)[] = [];
  #closed = false;
  /** Whether `acquire` ran (then `release` is due), and whether `release` did. */
  #acquired = false;
  #released = false;

  constructor(options: AsyncStageOptions) {
    if (!Number.isSafeInteger(options.capacity) || options.capacity < 1) {
      throw new SluiceError(
        'CONFIG_INVALID',
        `capacity must be a whole number of batches ≥ 1, got ${options.capacity}`,
        {
          step: options.stepId,
          path: 'capacity',
        },
      );
    }
    this.#options = options;
  }

  open(ctx: OperatorContext): void {
    this.#ctx = ctx;
  }

  processBatch(batch: Batch, out: Output): void {
    this.#out = out;
    const entry: InFlight = {
      batch,
      watermark: this.#ctx?.watermark() ?? Number.NEGATIVE_INFINITY,
      outcome: undefined,
    };
    this.#inFlight.push(entry);
    let work: Promise<AsyncOutcome>;
    try {
      work = this.#options.work(batch, this.#abort.signal);
    } catch (err) {
      work = Promise.reject(err);
    }
    work.then(
      (outcome) => {
        entry.outcome = outcome;
        this.#release();
      },
      (err: unknown) => {
        if (this.#closed) return;
        this.#ctx?.fail?.(toSluiceError(err, 'INTERNAL', { step: this.#options.stepId }));
      },
    );
  }

  /** Emits what may go out now: the finished batches at the head (ordered), or every finished one. */
  #release(): void {
    if (this.#closed) return;
    try {
      this.#emitFinished();
    } catch (err) {
      // A step after this one threw while taking the results: the job fails, as it would have
      // had the results come synchronously.
      this.#ctx?.fail?.(toSluiceError(err, 'INTERNAL', { step: this.#options.stepId }));
    }
  }

  #emitFinished(): void {
    const out = this.#out!;
    const ordered = this.#options.ordered;
    let emitted = false;
    const waiting: InFlight[] = [];
    for (const entry of this.#inFlight) {
      const outcome = entry.outcome;
      if (outcome === undefined || (ordered && waiting.length > 0)) {
        waiting.push(entry);
        continue;
      }
      emitted = true;
      for (const f of outcome.failed ?? []) out.deadLetter(entry.batch, f.index, f.error);
      if (outcome.filtered) out.filtered(outcome.filtered);
      // Overtaking results carry no per-record watermarks: they meet the steps after the stage
      // at the watermark held back for the batches still in flight.
      let batch = outcome.batch;
      if (!ordered && batch.watermarks !== undefined) {
        const { watermarks: _, ...rest } = batch;
        batch = rest;
      }
      out.emit(batch);
    }
    this.#inFlight = waiting;
    if (!emitted) return;
    for (const wake of this.#waiters.splice(0)) wake();
    this.#ctx?.asyncEmitted?.();
  }

  get full(): boolean {
    return this.#inFlight.length >= this.#options.capacity;
  }

  belowCapacity(): Promise<void> {
    return this.#until(() => !this.full);
  }

  drain(): Promise<void> {
    return this.#until(() => this.#inFlight.length === 0);
  }

  #until(done: () => boolean): Promise<void> {
    if (done() || this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (done() || this.#closed) resolve();
        else this.#waiters.push(check);
      };
      this.#waiters.push(check);
    });
  }

  get heldWatermark(): number {
    return this.#inFlight.length === 0 ? Number.POSITIVE_INFINITY : this.#inFlight[0].watermark;
  }

  /** Batches still in flight. */
  get inFlight(): number {
    return this.#inFlight.length;
  }

  async acquire(): Promise<void> {
    const acquire = this.#options.acquire;
    if (acquire === undefined || this.#acquired) return;
    if (this.#ctx === undefined) {
      throw new SluiceError('INTERNAL', 'an asynchronous step was acquired before it was opened', {
        step: this.#options.stepId,
      });
    }
    this.#acquired = true;
    await acquire(this.#ctx, this.#abort.signal);
  }

  async release(): Promise<void> {
    if (!this.#acquired || this.#released) return;
    this.#released = true;
    await this.#options.release?.();
  }

  cancel(): void {
    this.#closed = true;
    this.#inFlight = [];
    this.#abort.abort();
    for (const wake of this.#waiters.splice(0)) wake();
  }

  close(): void {
    this.cancel();
  }
}
