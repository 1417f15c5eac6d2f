/**
 * The one partition (`http`) of an `http_server` source: the queue between the ingest endpoint
 * and the pipeline, and how requests are acknowledged (`ack`).
 *
 * - `wal`: each request's body is appended to a write-ahead log and answered once the fsync
 *   covering it is done; its records are handed to the pipeline only then. The position is the
 *   log frame being read and how many of its records were handed, so a restore replays the log
 *   from the checkpoint. `commit` trims segments every kept checkpoint has passed.
 * - `checkpoint`: a request is answered once a completed checkpoint covers all its records; the
 *   source asks the job for a checkpoint as soon as such records are handed.
 * - `memory`: answered once queued.
 *
 * In every mode a graceful stop (`drain`) refuses new requests and hands everything accepted
 * to the pipeline before the final checkpoint.
 */

import type { Logger, SourceBatch, SourceContext, SourceReader } from '../connector.ts';
import { SluiceError } from '../errors.ts';
import type { Clock } from '../time.ts';
import {
  type BatchParts,
  batchOf,
  type Chunk,
  chunkOfFrame,
  frameHeader,
  type HttpWalPosition,
  isWalPosition,
  newParts,
  positionText,
} from './http-server-chunks.ts';
import type { HttpServerSettings } from './http-server-config.ts';
import {
  IngestEndpoint,
  type IngestQueue,
  IngestRefusal,
  type IngestRequest,
} from './http-server-endpoint.ts';
import { ReadWait } from './read-wait.ts';
import { comparePositions, type WalFrame, type WriteAheadLog } from './write-ahead-log.ts';

/** A read with nothing queued returns an empty batch after this long. */
const IDLE_MS = 200;

export class HttpServerReader implements SourceReader, IngestQueue {
  readonly partition = 'http';
  readonly #settings: HttpServerSettings;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #ctx: SourceContext;
  readonly #wal: WriteAheadLog | undefined;
  #endpoint: IngestEndpoint | undefined;
  readonly #chunks: Chunk[] = [];
  /** Records (and failures) of queued chunks not yet handed. */
  #queued = 0;
  /** Bytes reserved: bodies being received and queued chunks. */
  #queuedBytes = 0;
  /** `wal`: frames to replay after a restart, and the one being handed. */
  #replay: AsyncGenerator<WalFrame> | undefined;
  #replayChunk: Chunk | undefined;
  /** `wal`: the position; records of the restored frame already handed before the restart. */
  #position: HttpWalPosition;
  #skip: number;
  /** `wal`: positions of the last checkpoints committed, oldest first. */
  readonly #committed: HttpWalPosition[] = [];
  /** `checkpoint` and `memory`: records (and failures) handed so far, the position. */
  #handed: number;
  /** `checkpoint`: requests waiting for a checkpoint, by the position that covers them. */
  #waiting: { end: number; delivered: NonNullable<Chunk['delivered']> }[] = [];
  #draining = false;
  #closed = false;
  #failure: SluiceError | undefined;
  readonly #readWait = new ReadWait(IDLE_MS);

  constructor(
    settings: HttpServerSettings,
    ctx: SourceContext,
    wal: WriteAheadLog | undefined,
    start: HttpWalPosition | number,
  ) {
    this.#settings = settings;
    this.#clock = ctx.clock;
    this.#log = ctx.log;
    this.#ctx = ctx;
    this.#wal = wal;
    this.#position = typeof start === 'number' ? { segment: 0, offset: 0, record: 0 } : start;
    this.#skip = typeof start === 'number' ? 0 : start.record;
    this.#handed = typeof start === 'number' ? start : 0;
    // The restored position is that of a checkpoint the job keeps.
    if (typeof start !== 'number' && ctx.restored.http !== undefined) this.#committed.push(start);
    if (wal !== undefined && comparePositions(this.#position, wal.end) < 0) {
      this.#replay = wal.read(this.#position, wal.end, (kept) => {
        ctx.log.warn('http_server: the checkpoint points into a write-ahead log segment already removed', {
          source: ctx.id,
          from: this.#position,
          replaying_from: kept,
        });
        this.#position = { ...kept, record: 0 };
        this.#skip = 0;
      });
    }
  }

  /** Starts the endpoint; rejects with SOURCE_UNAVAILABLE when the address cannot be bound. */
  async listen(): Promise<void> {
    this.#endpoint = await IngestEndpoint.listen(this.#settings, this, this.#ctx);
    this.#log.info('http_server listening', { url: this.url });
  }

  /** The ingest URL, with the port actually bound (useful with `port: 0`). */
  get url(): string {
    return this.#endpoint?.url ?? '';
  }

  /** The TCP port actually bound. */
  get port(): number {
    return this.#endpoint?.port ?? 0;
  }

  get closed(): boolean {
    return this.#draining || this.#closed || this.#failure !== undefined;
  }

  reserveBytes(bytes: number): boolean {
    if (this.#queuedBytes + bytes > this.#settings.queueBytes) return false;
    this.#queuedBytes += bytes;
    return true;
  }

  releaseBytes(bytes: number): void {
    this.#queuedBytes -= bytes;
  }

  hasRoomFor(records: number): boolean {
    return this.#queued + records <= this.#settings.config.queue_records;
  }

  stats(): { [name: string]: unknown } {
    const out: { [name: string]: unknown } = {
      ack: this.#settings.config.ack,
      queued_records: this.#queued,
      queued_bytes: this.#queuedBytes,
    };
    if (this.#settings.config.ack === 'checkpoint') out.waiting_for_checkpoint = this.#waiting.length;
    if (this.#replay !== undefined) out.replaying = true;
    return out;
  }

  async accept(request: IngestRequest): Promise<void> {
    const { decoded, body, format } = request;
    const receivedAt = this.#clock.now();
    const chunk: Chunk = {
      records: decoded.records,
      texts: decoded.texts,
      failures: decoded.failures,
      receivedAt,
      queued: true,
      bytes: body.length,
      next: 0,
      ready: this.#wal === undefined,
    };
    this.#chunks.push(chunk);
    this.#queued += request.count;
    const { ack } = this.#settings.config;
    if (ack === 'wal') {
      const appended = this.#wal!.append([frameHeader(format, receivedAt), body]);
      chunk.frame = { position: appended.position, next: appended.next };
      try {
        await appended.durable;
      } catch (err) {
        this.#failure ??= err instanceof SluiceError ? err : new SluiceError('WAL_FAILED', String(err));
        this.#readWait.wake();
        throw new IngestRefusal(503, 'the write-ahead log failed; the records were not taken');
      }
      chunk.ready = true;
      this.#readWait.wake();
      return;
    }
    const delivered =
      ack === 'checkpoint'
        ? new Promise<void>((resolve, reject) => {
            chunk.delivered = { resolve, reject };
          })
        : undefined;
    this.#readWait.wake();
    return delivered;
  }

  async read(max: number, signal: AbortSignal): Promise<SourceBatch | null> {
    if (this.#failure) throw this.#failure;
    if (this.#replay !== undefined) return this.#readReplay(max);
    if (!this.#chunks[0]?.ready) {
      if (this.#draining) {
        if (this.#chunks.length === 0) return null;
        await this.#readWait.until(undefined);
      } else if (!signal.aborted && !this.#closed) {
        await this.#readWait.until(signal);
      }
      if (this.#failure) throw this.#failure;
    }
    const parts = newParts();
    while (parts.records.length < max && this.#chunks[0]?.ready) {
      const chunk = this.#chunks[0];
      if (this.#takeFrom(chunk, parts, max)) {
        this.#chunks.shift();
        this.#queuedBytes -= chunk.bytes;
      }
    }
    return batchOf(parts);
  }

  /** Hands records of the frames logged before the restart, reading the log as needed. */
  async #readReplay(max: number): Promise<SourceBatch> {
    const parts = newParts();
    while (parts.records.length < max) {
      if (this.#replayChunk === undefined) {
        const { value: frame, done } = await this.#replay!.next();
        if (done) {
          this.#replay = undefined;
          this.#log.info('http_server: replayed the write-ahead log', { source: this.#ctx.id });
          break;
        }
        this.#replayChunk = this.#chunkOfFrame(frame);
      }
      if (this.#takeFrom(this.#replayChunk, parts, max)) this.#replayChunk = undefined;
    }
    return batchOf(parts);
  }

  #chunkOfFrame(frame: WalFrame): Chunk {
    const chunk = chunkOfFrame(frame, this.#ctx.id, this.#settings.limits);
    // The frame the checkpoint stopped inside: its failures and first records were handed before.
    if (this.#skip > 0 && comparePositions(frame.position, this.#position) === 0) {
      chunk.failures = [];
      chunk.next = Math.min(this.#skip, chunk.records.length);
    }
    this.#skip = 0;
    return chunk;
  }

  /** Moves records of `chunk` into `parts` up to `max`; true when the chunk is all handed. */
  #takeFrom(chunk: Chunk, parts: BatchParts, max: number): boolean {
    const frame = chunk.frame;
    const at = frame ? positionText(frame.position) : '';
    for (const failure of chunk.failures) {
      failure.offset = frame ? at : this.#handed++;
      parts.failures.push(failure);
    }
    const handedFailures = chunk.failures.length;
    chunk.failures = [];
    const from = chunk.next;
    const end = Math.min(chunk.records.length, from + max - parts.records.length);
    if (chunk.texts !== undefined && parts.texts === undefined) parts.texts = new Array(parts.records.length);
    for (let i = from; i < end; i++) {
      parts.records.push(chunk.records[i]);
      parts.offsets.push(frame ? `${at}#${i}` : this.#handed++);
      parts.times.push(chunk.receivedAt);
      parts.texts?.push(chunk.texts?.[i]);
    }
    chunk.next = end;
    const done = end === chunk.records.length;
    if (chunk.queued) this.#queued -= handedFailures + end - from;
    if (frame) {
      this.#position = done ? { ...frame.next, record: 0 } : { ...frame.position, record: end };
    }
    if (done && chunk.delivered) {
      this.#waiting.push({ end: this.#handed, delivered: chunk.delivered });
      this.#ctx.requestCheckpoint?.();
    }
    return done;
  }

  position(): HttpWalPosition | number {
    return this.#wal ? this.#position : this.#handed;
  }

  /**
   * A checkpoint with this position is durable. `wal`: removes the log segments that every
   * checkpoint the job keeps has passed. `checkpoint`: answers the requests it covers.
   */
  async commit(position: unknown): Promise<void> {
    if (this.#wal && isWalPosition(position)) {
      // A restore may fall back to the oldest checkpoint kept: trim to its position, once known.
      this.#committed.push(position);
      const keep = Math.max(1, this.#ctx.keepCheckpoints ?? 1);
      while (this.#committed.length > keep) this.#committed.shift();
      if (this.#committed.length === keep) await this.#wal.trim(this.#committed[0]);
      return;
    }
    if (typeof position !== 'number') return;
    let n = 0;
    while (n < this.#waiting.length && this.#waiting[n].end <= position)
      this.#waiting[n++].delivered.resolve();
    this.#waiting.splice(0, n);
    // Records handed while this checkpoint ran need the next one.
    if (this.#waiting.length > 0) this.#ctx.requestCheckpoint?.();
  }

  /** The job stops: refuse new requests; reads hand what was accepted, then end. */
  drain(): void {
    this.#draining = true;
    this.#readWait.wake();
  }

  /**
   * Stops the server. `memory`: records still queued are lost (and logged); `wal`: they stay in
   * the log for the next run; `checkpoint`: requests still waiting are answered 503.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#readWait.wake();
    const refusal = new IngestRefusal(
      503,
      'the pipeline stopped before a checkpoint covered the records; send them again',
    );
    for (const { delivered } of this.#waiting) delivered.reject(refusal);
    for (const chunk of this.#chunks) chunk.delivered?.reject(refusal);
    this.#waiting = [];
    const unread = this.#queued;
    if (unread > 0 && this.#wal === undefined) {
      this.#log.warn('http_server closed with records not yet read; they are lost', { records: unread });
    } else if (unread > 0 || this.#replay !== undefined) {
      this.#log.info('http_server closed with records not yet read; they stay in the write-ahead log', {
        records: unread,
      });
    }
    await this.#endpoint?.close();
    await this.#replay?.return(undefined);
    await this.#wal?.close();
  }
}
