/**
 * The one partition of a `rabbitmq` source: a consumer on a queue, the messages the broker
 * delivered but the pipeline has not read yet, and the messages read but not acknowledged.
 *
 * Acknowledgements (classic and quorum queues). A message is acknowledged only in `commit`, once
 * a checkpoint covering it is durable. Until then the broker counts it against the prefetch and
 * returns it to the queue when the channel closes (a crash, a stop, a dropped connection); it then
 * comes again with `redelivered` set.
 *
 * Position. Delivery tags name a message on one channel only, so the position lists the messages
 * read and not acknowledged by a digest of their body. `commit`
 * acknowledges, for each digest it lists, the oldest read message with that digest. A redelivered
 * message whose digest a restored position lists was covered by a durable checkpoint: it is
 * acknowledged at once and not read again. When the channel drops, its delivery tags are void: the
 * messages read on it and not acknowledged are kept as digests and not read again when they come
 * back; their new deliveries are acknowledged by the commit that covers them. RabbitMQ redelivers
 * returned messages before new ones, so the first delivery without `redelivered` ends the wait:
 * what did not come back went to another consumer of the queue (which reads it again: at least
 * once) and is forgotten.
 *
 * Streams. A stream keeps its messages; the reader acknowledges each as it reads it (only to
 * renew the prefetch credit) and its position is the offset of the last message read. A restored
 * or reconnected consumer starts just after it (`x-stream-offset`).
 */

import { hash, randomUUID } from 'node:crypto';
import {
  backoffDelay,
  type DecodeFailure,
  decodeMessageBody,
  type Logger,
  type MessageBodyOptions,
  ReadWait,
  type Row,
  SluiceError,
  type SourceBatch,
  type SourceContext,
  type SourceReader,
} from '@sluice/core';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { describeError, RECONNECT_FIRST, RECONNECT_MAX } from './connection.ts';
import { METADATA_FIELD, metadataOf } from './payload.ts';

/** A read with nothing buffered returns an empty batch after this long. */
const IDLE_MS = 200;

/**
 * What `position()` returns for a queue: digests of the messages read and not acknowledged, and
 * (for `commit`) which reader took it and how many messages it had read then.
 */
export interface QueuePosition {
  unacked: string[];
  run?: string;
  read?: number;
}

/** What `position()` returns for a stream: the offset of the last message read (-1: none yet). */
export interface StreamPosition {
  offset: number;
}

export function isQueuePosition(value: unknown): value is QueuePosition {
  if (typeof value !== 'object' || value === null) return false;
  const unacked = (value as { unacked?: unknown }).unacked;
  return Array.isArray(unacked) && unacked.every((d) => typeof d === 'string');
}

export function isStreamPosition(value: unknown): value is StreamPosition {
  return (
    typeof value === 'object' &&
    value !== null &&
    Number.isSafeInteger((value as { offset?: unknown }).offset)
  );
}

/** Where a stream consumer starts: `x-stream-offset`. */
export type StreamStart = 'first' | 'last' | 'next' | number;

export interface ReaderSettings {
  readonly partition: string;
  readonly queue: string;
  readonly payload: MessageBodyOptions;
  readonly metadata: boolean;
  readonly prefetch: number;
  /** For a stream: where to start without a restored position. Absent: a classic or quorum queue. */
  readonly stream?: { readonly start: StreamStart };
  /** Opens a connection (failing with a SluiceError). */
  readonly connect: () => Promise<ChannelModel>;
  /** Declares the queue and its bindings on a new channel, when the source was asked to. */
  readonly declare?: (channel: Channel) => Promise<void>;
}

/**
 * Digest of a message's body: tells a redelivery from another message. Two messages with the same
 * body are interchangeable here (either may stand for the other). One-shot SHA-1: a quarter of
 * the cost of an incremental hash over routing key, id and body.
 */
function digestOf(msg: ConsumeMessage): string {
  return hash('sha1', msg.content, 'base64url').slice(0, 20);
}

/** A message read and not acknowledged. */
interface Pending {
  msg: ConsumeMessage;
  digest: string;
  /** Its number in the reader's reads: a commit acknowledges only what its position had read. */
  seq: number;
  /** Delivered after the pipeline read it on a channel that dropped: not read again. */
  rematched: boolean;
  acked: boolean;
}

/** One channel's life: its deliveries and acknowledgements belong to it. */
interface Session {
  readonly connection: ChannelModel;
  readonly channel: Channel;
  live: boolean;
}

function addTo(counts: Map<string, number>, digest: string, n = 1): void {
  counts.set(digest, (counts.get(digest) ?? 0) + n);
}

/** Takes one from `counts[digest]`; whether there was one. */
function takeFrom(counts: Map<string, number>, digest: string): boolean {
  const n = counts.get(digest);
  if (n === undefined) return false;
  if (n <= 1) counts.delete(digest);
  else counts.set(digest, n - 1);
  return true;
}

function expand(counts: Map<string, number>, into: string[]): void {
  for (const [digest, n] of counts) for (let i = 0; i < n; i++) into.push(digest);
}

export class RabbitmqReader implements SourceReader {
  readonly partition: string;
  readonly #settings: ReaderSettings;
  readonly #ctx: SourceContext;
  readonly #log: Logger;
  #session: Session | undefined;
  /** Messages delivered on the current channel, not read yet (in delivery order). */
  #buffer: ConsumeMessage[] = [];
  #bufferHead = 0;
  /** Messages read and not acknowledged, in the order read, from `#pendingHead` on. */
  #pending: Pending[] = [];
  #pendingHead = 0;
  /**
   * Read on a dropped channel and not committed, by digest (their read numbers, oldest first):
   * not read again when redelivered.
   */
  readonly #awaitRead = new Map<string, number[]>();
  /** Covered by a durable checkpoint, not acknowledged: acknowledged when redelivered, not read. */
  readonly #awaitAck = new Map<string, number>();
  /** This reader's id in its positions, and how many messages it has read. */
  readonly #run = randomUUID();
  #seq = 0;
  /** Streams: offset of the last message read, and the first offset wanted from the broker. */
  #offset = -1;
  /** Messages read with the `redelivered` flag: duplicates of a read before a crash or an outage. */
  #redelivered = 0;
  #reconnects = 0;
  /** An early checkpoint was asked for and no commit came since. */
  #requested = false;
  readonly #waiting = new ReadWait(IDLE_MS);
  #closed = false;
  #failure: Error | undefined;
  #reconnecting: Promise<void> | undefined;

  constructor(settings: ReaderSettings, ctx: SourceContext, restored: unknown) {
    this.partition = settings.partition;
    this.#settings = settings;
    this.#ctx = ctx;
    this.#log = ctx.log;
    if (settings.stream) {
      if (isStreamPosition(restored)) this.#offset = restored.offset;
    } else if (isQueuePosition(restored)) {
      for (const digest of restored.unacked) addTo(this.#awaitAck, digest);
    }
  }

  /** Messages delivered and not read yet: what the source buffers. */
  get buffered(): number {
    return this.#buffer.length - this.#bufferHead;
  }

  /** Messages read and not acknowledged yet (queues). */
  get unacknowledged(): number {
    let n = 0;
    for (let i = this.#pendingHead; i < this.#pending.length; i++) if (!this.#pending[i]?.acked) n++;
    return n;
  }

  /** Messages read that the broker flagged `redelivered` (read before, by this or another consumer). */
  get redeliveries(): number {
    return this.#redelivered;
  }

  /** How many times the reader reconnected after losing its channel. */
  get reconnects(): number {
    return this.#reconnects;
  }

  /** Connects and starts consuming; fails with the first connection's error. */
  async start(): Promise<void> {
    await this.#open();
  }

  async #open(): Promise<void> {
    const connection = await this.#settings.connect();
    let channel: Channel;
    try {
      channel = await connection.createChannel();
      // A refusal closes the channel with an 'error' event: the awaited call below reports it.
      channel.on('error', () => {});
      await this.#settings.declare?.(channel);
      await channel.prefetch(this.#settings.prefetch);
    } catch (err) {
      await connection.close().catch(() => {});
      throw this.#channelError(err);
    }
    const session: Session = { connection, channel, live: true };
    const lost = (err?: Error) => this.#lost(session, err);
    connection.on('close', lost);
    connection.on('error', () => {});
    channel.on('close', lost);
    channel.on('error', (err: Error) =>
      this.#log.warn('rabbitmq: channel error', { source: this.#ctx.id, error: describeError(err) }),
    );
    this.#session = session;
    const stream = this.#settings.stream;
    const args: { [k: string]: unknown } = {};
    if (stream) args['x-stream-offset'] = this.#offset >= 0 ? this.#offset + 1 : stream.start;
    try {
      await channel.consume(
        this.#settings.queue,
        (msg) => {
          if (msg === null) {
            // The broker cancelled the consumer (the queue was deleted): open again, which fails
            // the source (CONFIG_INVALID) if the queue is gone for good.
            this.#lost(
              session,
              new Error(`the broker cancelled the consumer of queue '${this.#settings.queue}'`),
            );
            return;
          }
          if (session.live) this.#take(session, msg);
        },
        { noAck: false, arguments: args },
      );
    } catch (err) {
      session.live = false;
      await connection.close().catch(() => {});
      throw this.#channelError(err);
    }
  }

  /** A channel-level refusal (no such queue, arguments that differ) as a config error. */
  #channelError(err: unknown): Error {
    if (err instanceof SluiceError) return err;
    const code = (err as { code?: unknown }).code;
    const text = describeError(err);
    if (code === 404 || code === 406 || code === 403) {
      return new SluiceError('CONFIG_INVALID', `rabbitmq: queue '${this.#settings.queue}': ${text}`, {
        step: this.#ctx.id,
        path: 'queue',
        cause: err,
      });
    }
    return new SluiceError('SOURCE_UNAVAILABLE', `rabbitmq: ${text}`, { step: this.#ctx.id, cause: err });
  }

  /** The channel or connection closed under the reader: forget its deliveries, reconnect. */
  #lost(session: Session, err?: Error): void {
    if (!session.live) return;
    session.live = false;
    session.connection.close().catch(() => {});
    if (this.#closed) return;
    // Delivery tags of the old channel are void: its unread deliveries come again, and what was
    // read and not acknowledged is awaited as digests.
    this.#buffer = [];
    this.#bufferHead = 0;
    if (!this.#settings.stream) {
      for (let i = this.#pendingHead; i < this.#pending.length; i++) {
        const p = this.#pending[i] as Pending;
        if (p.acked) continue;
        const seqs = this.#awaitRead.get(p.digest);
        if (seqs) seqs.push(p.seq);
        else this.#awaitRead.set(p.digest, [p.seq]);
      }
    }
    this.#pending = [];
    this.#pendingHead = 0;
    this.#log.warn('rabbitmq: connection lost; reconnecting', {
      source: this.#ctx.id,
      ...(err ? { error: describeError(err) } : {}),
    });
    this.#reconnecting ??= this.#reconnect().finally(() => {
      this.#reconnecting = undefined;
    });
  }

  /** Reconnects with capped exponential backoff and jitter until it succeeds or the reader closes. */
  async #reconnect(): Promise<void> {
    for (let attempt = 1; !this.#closed; attempt++) {
      const delay = Math.max(RECONNECT_FIRST / 2, backoffDelay(attempt, RECONNECT_FIRST, RECONNECT_MAX));
      await new Promise((r) => setTimeout(r, delay));
      if (this.#closed) return;
      try {
        await this.#open();
        this.#reconnects++;
        this.#log.info('rabbitmq: reconnected', { source: this.#ctx.id, attempt });
        return;
      } catch (err) {
        if (err instanceof SluiceError && !err.retryable) {
          this.fail(err);
          return;
        }
        this.#log.warn('rabbitmq: cannot reconnect; retrying', {
          source: this.#ctx.id,
          attempt,
          error: describeError(err),
        });
      }
    }
  }

  /** Records a failure that the next `read` reports. */
  fail(err: Error): void {
    this.#failure = err;
    this.#waiting.wake();
  }

  #take(session: Session, msg: ConsumeMessage): void {
    if (this.#closed) return;
    if (this.#settings.stream) {
      const offset = msg.properties.headers?.['x-stream-offset'];
      // A stream delivers from the start of the chunk holding the offset asked for.
      if (typeof offset === 'number' && offset <= this.#offset) {
        session.channel.ack(msg);
        return;
      }
    } else if (msg.fields.redelivered) {
      if (this.#awaitAck.size > 0 || this.#awaitRead.size > 0) {
        const digest = digestOf(msg);
        if (takeFrom(this.#awaitAck, digest)) {
          session.channel.ack(msg);
          return;
        }
        const seqs = this.#awaitRead.get(digest);
        if (seqs !== undefined) {
          const seq = seqs.shift() as number;
          if (seqs.length === 0) this.#awaitRead.delete(digest);
          this.#pending.push({ msg, digest, seq, rematched: true, acked: false });
          return;
        }
      }
    } else if (this.#awaitAck.size > 0 || this.#awaitRead.size > 0) {
      // Returned messages come before new ones: those not back went to another consumer.
      this.#awaitAck.clear();
      this.#awaitRead.clear();
    }
    this.#buffer.push(msg);
    this.#waiting.wake();
  }

  async read(max: number, signal: AbortSignal): Promise<SourceBatch | null> {
    if (this.#closed) return null;
    if (this.#failure) throw this.#failure;
    if (this.#buffer.length === this.#bufferHead) {
      await this.#waiting.until(signal);
      if (this.#failure) throw this.#failure;
    }
    const records: Row[] = [];
    const times: number[] = [];
    const texts: (string | undefined)[] = [];
    const failures: DecodeFailure[] = [];
    const now = this.#ctx.clock.now();
    const { payload: options, metadata, stream } = this.#settings;
    const session = this.#session;
    let anyText = false;
    let last: ConsumeMessage | undefined;
    while (this.#bufferHead < this.#buffer.length && records.length + failures.length < max) {
      const msg = this.#buffer[this.#bufferHead++] as ConsumeMessage;
      last = msg;
      if (stream) {
        const offset = msg.properties.headers?.['x-stream-offset'];
        if (typeof offset === 'number') this.#offset = offset;
      } else {
        this.#pending.push({ msg, digest: digestOf(msg), seq: ++this.#seq, rematched: false, acked: false });
      }
      if (msg.fields.redelivered) this.#redelivered++;
      const decoded = decodeMessageBody(msg.content, options);
      if ('failure' in decoded) {
        decoded.failure.message = `message from exchange '${msg.fields.exchange}' with routing key '${msg.fields.routingKey}' ${decoded.failure.message}`;
        failures.push(decoded.failure);
        continue;
      }
      const row = decoded.row;
      if (metadata) {
        row[METADATA_FIELD] = metadataOf(msg);
        texts.push(undefined);
      } else {
        texts.push(decoded.text);
        if (decoded.text !== undefined) anyText = true;
      }
      records.push(row);
      times.push(now);
    }
    if (this.#bufferHead === this.#buffer.length) {
      this.#buffer = [];
      this.#bufferHead = 0;
    } else if (this.#bufferHead > 1024 && this.#bufferHead * 2 > this.#buffer.length) {
      this.#buffer = this.#buffer.slice(this.#bufferHead);
      this.#bufferHead = 0;
    }
    if (stream) {
      // A stream keeps its messages: the acknowledgement only renews the prefetch credit.
      if (last !== undefined && session?.live) session.channel.ack(last, true);
    } else if (
      !this.#requested &&
      (this.#pending.length - this.#pendingHead) * 2 >= this.#settings.prefetch
    ) {
      // Once per commit: reads go on while the checkpoint is written, and a request then would
      // make the job take another one straight after, covering only those few reads.
      this.#requested = true;
      this.#ctx.requestCheckpoint?.();
    }
    const batch: SourceBatch = { records, times };
    if (anyText) batch.texts = texts;
    if (failures.length > 0) batch.failures = failures;
    return batch;
  }

  /**
   * The position after the last read. For a queue its digest list is worked out when first read
   * (at the checkpoint that keeps it, or at its commit) rather than here: the runtime takes a
   * position after every read, and copying up to `prefetch` digests each time was most of the
   * source's garbage. It lists the messages read up to now and not acknowledged when it is
   * worked out; one acknowledged in between was covered by an earlier durable checkpoint.
   */
  position(): QueuePosition | StreamPosition {
    if (this.#settings.stream) return { offset: this.#offset };
    const pending = this.#pending;
    const start = this.#pendingHead;
    const end = pending.length;
    let waiting: string[] | undefined;
    if (this.#awaitAck.size > 0 || this.#awaitRead.size > 0) {
      waiting = [];
      expand(this.#awaitAck, waiting);
      for (const [digest, seqs] of this.#awaitRead)
        for (let i = 0; i < seqs.length; i++) waiting.push(digest);
    }
    let unacked: string[] | undefined;
    const position = { run: this.#run, read: this.#seq } as QueuePosition;
    Object.defineProperty(position, 'unacked', {
      enumerable: true,
      get(): string[] {
        if (unacked === undefined) {
          unacked = waiting ?? [];
          for (let i = start; i < end; i++) {
            const p = pending[i] as Pending;
            if (!p.acked) unacked.push(p.digest);
          }
        }
        return unacked;
      },
    });
    return position;
  }

  async commit(position: unknown): Promise<void> {
    this.#requested = false;
    if (this.#settings.stream || !isQueuePosition(position) || position.unacked.length === 0) return;
    const wanted = new Map<string, number>();
    for (const digest of position.unacked) addTo(wanted, digest);
    let left = position.unacked.length;
    // Messages read after the position are not acknowledged, even with a digest it lists (the
    // same body). A position of another reader (not one a job hands back) has no such bound.
    const bound = position.run === this.#run && typeof position.read === 'number' ? position.read : Infinity;
    const session = this.#session;
    const live = session?.live === true;
    // The longest run of read messages, from the oldest, acknowledged by one `multiple` ack: up to
    // the first message delivered out of read order (rematched) or kept.
    let prefix: ConsumeMessage | undefined;
    let inPrefix = true;
    for (let i = this.#pendingHead; i < this.#pending.length && left > 0; i++) {
      const p = this.#pending[i] as Pending;
      if (p.acked) continue;
      if (p.seq > bound || !live || !takeFrom(wanted, p.digest)) {
        inPrefix = false;
        continue;
      }
      left--;
      p.acked = true;
      if (inPrefix && !p.rematched) prefix = p.msg;
      else {
        inPrefix = false;
        session.channel.ack(p.msg);
      }
    }
    if (prefix !== undefined && session?.live) session.channel.ack(prefix, true);
    // Read on a dropped channel: acknowledged when it comes again.
    for (const [digest, n] of wanted) {
      const seqs = this.#awaitRead.get(digest);
      if (seqs === undefined) continue;
      let k = 0;
      while (k < n && seqs.length > 0 && (seqs[0] as number) <= bound) {
        seqs.shift();
        addTo(this.#awaitAck, digest);
        k++;
      }
      if (seqs.length === 0) this.#awaitRead.delete(digest);
    }
    while (this.#pendingHead < this.#pending.length && this.#pending[this.#pendingHead]?.acked)
      this.#pendingHead++;
    if (this.#pendingHead === this.#pending.length) {
      this.#pending = [];
      this.#pendingHead = 0;
    } else if (this.#pendingHead > 1024) {
      this.#pending = this.#pending.slice(this.#pendingHead);
      this.#pendingHead = 0;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#waiting.wake();
    if (this.#redelivered > 0 || this.#reconnects > 0)
      this.#log.info('rabbitmq: source closed', {
        source: this.#ctx.id,
        redelivered: this.#redelivered,
        reconnects: this.#reconnects,
      });
    const session = this.#session;
    this.#session = undefined;
    if (session === undefined || !session.live) return;
    session.live = false;
    // Nothing unacknowledged is acknowledged here: the broker returns it to the queue. The channel
    // is closed first: its close follows the acknowledgements sent on it, where a connection's
    // close may overtake them.
    await session.channel.close().catch(() => {});
    await session.connection.close().catch(() => {});
  }
}
