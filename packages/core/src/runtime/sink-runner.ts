/**
 * Runs one sink: a bounded queue in front of its asynchronous `write`.
 *
 * Operators hand records over synchronously with `enqueue`; one write loop sends them to the
 * sink in order, coalescing queued chunks into larger writes. The queue is bounded in records and
 * in bytes (`batchBytes`); the bound is what makes a slow sink slow the sources: the job awaits
 * `belowCapacity()` before reading more.
 */

import type { Sink, SinkBatch, SinkRejection } from '../connector.ts';
import { toSluiceError } from '../errors.ts';
import { INSERT, type Row, type RowKind } from '../record.ts';
import { batchBytes } from '../record-size.ts';

/** Called with a batch the sink wrote and the records of it that the sink rejected for good. */
export type RejectionHandler = (batch: SinkBatch, rejections: SinkRejection[]) => void;

/**
 * Told how long one call of a sink took: a `write` (with how many records it carried) or a
 * `commit` (records 0). Called after the call settles, in seconds, also when it threw.
 */
export type SinkTimingListener = (
  sink: string,
  op: 'write' | 'commit',
  seconds: number,
  records: number,
) => void;

/** How much a sink queue may hold before the sources wait. */
export interface QueueCapacity {
  readonly records: number;
  readonly bytes: number;
}

/** One enqueued batch and its estimated bytes. */
interface Chunk {
  readonly batch: SinkBatch;
  readonly bytes: number;
  /** For a sink that takes watermarks: the input's watermark noted after this chunk's records. */
  watermark?: number;
  /** With `watermark`: whether the input was idle then. */
  idle?: boolean;
}

/** When the consumed front of the queue is this long (and half of it), it is cut off. */
const COMPACT_AT = 1024;

export class SinkRunner {
  readonly id: string;
  readonly sink: Sink;
  readonly #capacity: number;
  readonly #capacityBytes: number;
  readonly #maxWrite: number;
  readonly #onReject: RejectionHandler;
  readonly #onTiming: SinkTimingListener | undefined;
  /** Queued chunks from `#head` on (the ones before it are written). */
  #chunks: Chunk[] = [];
  #head = 0;
  #queued = 0;
  #queuedBytes = 0;
  #loop: Promise<void> | undefined;
  /** The sink's `write` in progress, if any. */
  #writing: Promise<unknown> | undefined;
  /** Writes held for a checkpoint's `commit` (`holdWrites`): the next write waits for it. */
  #committing: Promise<void> | undefined;
  #release: (() => void) | undefined;
  #failure: unknown;
  #waiters: (() => void)[] = [];
  /** The latest watermark noted (`noteWatermark`), and whether the input was idle. */
  #watermark = Number.NEGATIVE_INFINITY;
  #idle = false;
  /** Records the sink has accepted (written without rejection). */
  written = 0;
  rejected = 0;

  constructor(
    id: string,
    sink: Sink,
    capacity: QueueCapacity,
    onReject: RejectionHandler,
    onTiming?: SinkTimingListener,
  ) {
    this.id = id;
    this.#onTiming = onTiming;
    this.sink = sink;
    this.#capacity = capacity.records;
    this.#capacityBytes = capacity.bytes;
    this.#maxWrite = Math.max(1024, capacity.records >> 2);
    this.#onReject = onReject;
  }

  /**
   * Queues a batch (its records with their times, and kinds, keys and texts when it has them)
   * for writing; never blocks, never copies: the batch's arrays must not change afterwards.
   * Throws the sink's failure once it has failed. A batch is never split between writes, so an
   * UPDATE_BEFORE and its UPDATE_AFTER enqueued together reach one `write`.
   */
  enqueue(batch: SinkBatch): void {
    if (this.#failure !== undefined) throw this.#failure;
    const n = batch.records.length;
    if (n === 0) return;
    const bytes = batchBytes(batch.records, batch.texts);
    this.#chunks.push({ batch, bytes });
    this.#queued += n;
    this.#queuedBytes += bytes;
    this.#loop ??= this.#run();
  }

  /**
   * For a sink that takes watermarks (`Sink.takesWatermarks`): the watermark of its input moved
   * to `watermark` (or the input went idle or active again) after the records enqueued so far.
   * The write that takes the last of them carries it (`SinkBatch.watermark`, `idle`), or a write
   * of no records when none is queued. Ignored by other sinks, and when nothing changed.
   */
  noteWatermark(watermark: number, idle = false): void {
    if (!this.sink.takesWatermarks || this.#failure !== undefined) return;
    if (!(watermark > this.#watermark) && idle === this.#idle) return;
    if (watermark > this.#watermark) this.#watermark = watermark;
    this.#idle = idle;
    const last = this.#chunks.length > this.#head ? this.#chunks[this.#chunks.length - 1] : undefined;
    if (last !== undefined) {
      last.watermark = this.#watermark;
      last.idle = idle;
      return;
    }
    this.#chunks.push({ batch: EMPTY.batch, bytes: 0, watermark: this.#watermark, idle });
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

  /** How full the queue is, from 0 to 1: the larger of its records' and its bytes' share of capacity. */
  get fill(): number {
    return Math.min(1, Math.max(this.#queued / this.#capacity, this.#queuedBytes / this.#capacityBytes));
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

  /**
   * At a checkpoint, once the sink is drained and prepared: holds its next write until `commit`
   * (or `releaseWrites`), so that the sink contract holds — `write` never runs beside `commit` —
   * while the sources go on filling the queue. A sink without `commit` is not held.
   */
  holdWrites(): void {
    if (this.sink.commit === undefined || this.#committing !== undefined) return;
    this.#committing = new Promise<void>((resolve) => {
      this.#release = resolve;
    });
  }

  /** Lets held writes go on (a checkpoint that ended before its commit). */
  releaseWrites(): void {
    const release = this.#release;
    this.#release = undefined;
    this.#committing = undefined;
    release?.();
  }

  /**
   * Runs the sink's `commit(checkpointId)` between two of its writes — after the write in
   * progress, if it was not held, and before the next — then lets writes go on.
   */
  async commit(checkpointId: number): Promise<void> {
    const commit = this.sink.commit;
    if (commit === undefined) return;
    if (this.#release === undefined) {
      while (this.#committing !== undefined) await this.#committing;
      this.holdWrites();
    }
    try {
      // A write that fails fails the job; the commit then does not matter.
      await this.#writing?.catch(() => {});
      const started = performance.now();
      try {
        await commit.call(this.sink, checkpointId);
      } finally {
        this.#onTiming?.(this.id, 'commit', (performance.now() - started) / 1000, 0);
      }
    } finally {
      this.releaseWrites();
    }
  }

  /**
   * At a checkpoint, once drained: the sink's `prepareCommit`, then the refusals it found in
   * records of earlier writes (`Sink.takeRejections`) sent to the dead letters; what it returned.
   */
  async prepareCommit(checkpointId: number): Promise<unknown> {
    const prepare = this.sink.prepareCommit;
    if (prepare === undefined) return undefined;
    const state = await prepare.call(this.sink, checkpointId);
    this.#takeRejections();
    return state;
  }

  /** The sink's `close` (once drained), then the refusals it found in records of earlier writes. */
  async close(): Promise<void> {
    await this.sink.close();
    this.#takeRejections();
  }

  /** Sends the refusals the sink found in records of earlier writes to the rejection handler. */
  #takeRejections(): void {
    const late = this.sink.takeRejections?.();
    if (late === undefined || late.length === 0) return;
    const n = late.length;
    const records: Row[] = new Array(n);
    const times: number[] = new Array(n);
    const rejections: SinkRejection[] = new Array(n);
    let kinds: RowKind[] | undefined;
    for (let i = 0; i < n; i++) {
      const r = late[i];
      records[i] = r.record;
      times[i] = r.time;
      rejections[i] = { index: i, message: r.message };
      if (r.kind !== undefined) {
        kinds ??= new Array<RowKind>(n).fill(INSERT);
        kinds[i] = r.kind;
      }
    }
    // Counted as written when their write resolved.
    this.written -= n;
    this.rejected += n;
    this.#onReject(kinds === undefined ? { records, times } : { records, times, kinds }, rejections);
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
      while (this.#head < this.#chunks.length) {
        while (this.#committing !== undefined) await this.#committing;
        const { batch, bytes } = this.#take();
        const n = batch.records.length;
        const started = performance.now();
        const writing = this.sink.write(batch);
        this.#writing = writing;
        let rejections: SinkRejection[] | undefined;
        try {
          rejections = await writing;
        } finally {
          this.#onTiming?.(this.id, 'write', (performance.now() - started) / 1000, n);
        }
        this.#writing = undefined;
        this.#queued -= n;
        this.#queuedBytes -= bytes;
        if (rejections && rejections.length > 0) {
          this.rejected += rejections.length;
          this.written += n - rejections.length;
          this.#onReject(batch, rejections);
        } else {
          this.written += n;
        }
        this.#takeRejections();
        this.#wake();
      }
    } catch (err) {
      this.#failure = toSluiceError(err, 'SINK_UNAVAILABLE', { step: this.id });
    } finally {
      this.#loop = undefined;
      this.#wake();
    }
  }

  /**
   * Takes the next write off the queue: the first chunk as it is when it is alone or large
   * enough, else the chunks that fit in one write joined into arrays sized for them.
   */
  #take(): Chunk {
    const chunks = this.#chunks;
    const first = chunks[this.#head];
    let end = this.#head + 1;
    if (first.batch.records.length < this.#maxWrite) {
      let total = first.batch.records.length;
      while (end < chunks.length && total < this.#maxWrite) total += chunks[end++].batch.records.length;
    }
    let taken = end === this.#head + 1 ? first : join(chunks, this.#head, end);
    // The latest note among the chunks taken: notes come in order, watermarks never move back.
    let noted: Chunk | undefined;
    for (let c = this.#head; c < end; c++) {
      if (chunks[c].watermark !== undefined) noted = chunks[c];
      chunks[c] = EMPTY;
    }
    if (noted !== undefined) {
      const { watermark, idle } = noted;
      taken = { batch: { ...taken.batch, watermark, idle: idle === true }, bytes: taken.bytes };
    }
    this.#head = end;
    if (end === chunks.length) {
      this.#chunks = [];
      this.#head = 0;
    } else if (end >= COMPACT_AT && end * 2 >= chunks.length) {
      this.#chunks = chunks.slice(end);
      this.#head = 0;
    }
    return taken;
  }
}

/** Stands in for a written chunk in the queue until the front is cut off. */
const EMPTY: Chunk = { batch: { records: [], times: [] }, bytes: 0 };

/** Chunks [from, to) as one write: their arrays joined, kinds and texts only when some have them. */
function join(chunks: readonly Chunk[], from: number, to: number): Chunk {
  let total = 0;
  let withTexts = false;
  let withKinds = false;
  let withKeys = true;
  for (let c = from; c < to; c++) {
    const b = chunks[c].batch;
    total += b.records.length;
    withTexts ||= b.texts !== undefined;
    withKinds ||= b.kinds !== undefined;
    withKeys &&= b.keys !== undefined;
  }
  const records: Row[] = new Array(total);
  const times: number[] = new Array(total);
  const texts: (string | undefined)[] | undefined = withTexts ? new Array(total) : undefined;
  const kinds: RowKind[] | undefined = withKinds ? new Array(total) : undefined;
  const keys: string[] | undefined = withKeys ? new Array(total) : undefined;
  let bytes = 0;
  let at = 0;
  for (let c = from; c < to; c++) {
    const { batch: b } = chunks[c];
    bytes += chunks[c].bytes;
    const r = b.records;
    const t = b.times;
    const x = b.texts;
    const k = b.kinds;
    const y = b.keys;
    for (let i = 0; i < r.length; i++, at++) {
      records[at] = r[i];
      times[at] = t[i];
      if (texts) texts[at] = x?.[i];
      if (kinds) kinds[at] = k === undefined ? INSERT : k[i];
      if (keys) keys[at] = y![i];
    }
  }
  const batch: { -readonly [K in keyof SinkBatch]: SinkBatch[K] } = { records, times };
  if (texts) batch.texts = texts;
  if (kinds) batch.kinds = kinds;
  if (keys) batch.keys = keys;
  return { batch, bytes };
}
