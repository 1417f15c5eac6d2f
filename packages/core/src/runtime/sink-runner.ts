/**
 * Runs one sink: a bounded queue in front of its asynchronous `write`.
 *
 * Operators hand records over synchronously with `enqueue`; one write loop sends them to the
 * sink in order, coalescing queued chunks into larger writes. The queue is bounded in records and
 * in bytes (`batchBytes`); the bound is what makes a slow sink slow the sources: the job awaits
 * `belowCapacity()` before reading more.
 */

import type { Sink, SinkRejection } from '../connector.ts';
import { toSluiceError } from '../errors.ts';
import { INSERT, type Row, type RowKind } from '../record.ts';
import { batchBytes } from '../record-size.ts';

/** Called with the records a sink rejected for good. */
export type RejectionHandler = (
  records: Row[],
  times: number[],
  rejections: SinkRejection[],
  kinds: readonly RowKind[] | undefined,
) => void;

/** How much a sink queue may hold before the sources wait. */
export interface QueueCapacity {
  readonly records: number;
  readonly bytes: number;
}

export class SinkRunner {
  readonly id: string;
  readonly sink: Sink;
  readonly #capacity: number;
  readonly #capacityBytes: number;
  readonly #maxWrite: number;
  readonly #onReject: RejectionHandler;
  #records: Row[][] = [];
  #times: number[][] = [];
  /** The texts of each queued chunk (see `Batch.texts`), undefined for a chunk without. */
  #texts: (readonly (string | undefined)[] | undefined)[] = [];
  /** The row kinds of each queued chunk (see `Batch.kinds`), undefined for an append-only chunk. */
  #kinds: (readonly RowKind[] | undefined)[] = [];
  /** The bytes of each queued chunk. */
  #bytes: number[] = [];
  #queued = 0;
  #queuedBytes = 0;
  #loop: Promise<void> | undefined;
  #failure: unknown;
  #waiters: (() => void)[] = [];
  /** Records the sink has accepted (written without rejection). */
  written = 0;
  rejected = 0;

  constructor(id: string, sink: Sink, capacity: QueueCapacity, onReject: RejectionHandler) {
    this.id = id;
    this.sink = sink;
    this.#capacity = capacity.records;
    this.#capacityBytes = capacity.bytes;
    this.#maxWrite = Math.max(1024, capacity.records >> 2);
    this.#onReject = onReject;
  }

  /**
   * Queues records (with their texts and row kinds, when the batch has them) for writing; never
   * blocks. Throws the sink's failure once it has failed. A chunk is never split between writes,
   * so an UPDATE_BEFORE and its UPDATE_AFTER enqueued together reach one `write`.
   */
  enqueue(
    records: Row[],
    times: number[],
    texts?: readonly (string | undefined)[],
    kinds?: readonly RowKind[],
  ): void {
    if (this.#failure !== undefined) throw this.#failure;
    if (records.length === 0) return;
    const bytes = batchBytes(records, texts);
    this.#records.push(records);
    this.#times.push(times);
    this.#texts.push(texts);
    this.#kinds.push(kinds);
    this.#bytes.push(bytes);
    this.#queued += records.length;
    this.#queuedBytes += bytes;
    this.#loop ??= this.#run();
  }

  get queued(): number {
    return this.#queued;
  }

  /** Why the sink failed (its write threw), or undefined while it works. */
  get failure(): unknown {
    return this.#failure;
  }

  /** Estimated bytes of the queued records (see `batchBytes`). */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  get full(): boolean {
    return this.#queued >= this.#capacity || this.#queuedBytes >= this.#capacityBytes;
  }

  /** Resolves once the queue is below capacity (immediately if it is). Rejects if the sink failed. */
  belowCapacity(): Promise<void> {
    return this.#wait(() => !this.full);
  }

  /** Resolves once everything queued has been written. Rejects if the sink failed. */
  drain(): Promise<void> {
    return this.#wait(() => this.#queued === 0 && this.#loop === undefined);
  }

  #wait(done: () => boolean): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (done()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (this.#failure !== undefined) reject(this.#failure);
        else if (done()) resolve();
        else this.#waiters.push(check);
      };
      this.#waiters.push(check);
    });
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  async #run(): Promise<void> {
    try {
      while (this.#queued > 0) {
        let records: Row[];
        let times: number[];
        let texts: readonly (string | undefined)[] | undefined;
        let kinds: readonly RowKind[] | undefined;
        let bytes = 0;
        if (this.#records.length === 1 || this.#records[0].length >= this.#maxWrite) {
          records = this.#records.shift()!;
          times = this.#times.shift()!;
          texts = this.#texts.shift();
          kinds = this.#kinds.shift();
          bytes = this.#bytes.shift()!;
        } else {
          // Join the chunks that fit in one write into arrays sized for them.
          let chunks = 0;
          let total = 0;
          let withTexts = false;
          let withKinds = false;
          while (chunks < this.#records.length && total < this.#maxWrite) {
            total += this.#records[chunks].length;
            withTexts ||= this.#texts[chunks] !== undefined;
            withKinds ||= this.#kinds[chunks] !== undefined;
            chunks++;
          }
          records = new Array(total);
          times = new Array(total);
          const joined: (string | undefined)[] | undefined = withTexts ? new Array(total) : undefined;
          const joinedKinds: RowKind[] | undefined = withKinds ? new Array(total) : undefined;
          let at = 0;
          for (let c = 0; c < chunks; c++) {
            const r = this.#records.shift()!;
            const t = this.#times.shift()!;
            const x = this.#texts.shift();
            const k = this.#kinds.shift();
            bytes += this.#bytes.shift()!;
            for (let i = 0; i < r.length; i++, at++) {
              records[at] = r[i];
              times[at] = t[i];
              if (joined) joined[at] = x?.[i];
              if (joinedKinds) joinedKinds[at] = k === undefined ? INSERT : k[i];
            }
          }
          texts = joined;
          kinds = joinedKinds;
        }
        const rejections = await this.sink.write(records, times, texts, kinds);
        this.#queued -= records.length;
        this.#queuedBytes -= bytes;
        if (rejections && rejections.length > 0) {
          this.rejected += rejections.length;
          this.written += records.length - rejections.length;
          this.#onReject(records, times, rejections, kinds);
        } else {
          this.written += records.length;
        }
        this.#wake();
      }
    } catch (err) {
      this.#failure = toSluiceError(err, 'SINK_UNAVAILABLE', { step: this.id });
    } finally {
      this.#loop = undefined;
      this.#wake();
    }
  }
}
