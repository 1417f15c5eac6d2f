/**
 * The one partition of a `pubsub` source: unary `Pull` requests on a subscription, the messages
 * pulled that the pipeline has not read yet, and the messages read but not acknowledged.
 *
 * Leases. Each pulled message is leased to this reader for `ack_deadline`: set as it arrives and
 * renewed every third of that time (`ModifyAckDeadline`) while it waits in the buffer or for the
 * checkpoint, so a checkpoint interval longer than the deadline causes no redelivery.
 *
 * Acknowledgements. Only in `commit`, once a checkpoint covering the message is durable, and only
 * the messages that checkpoint's position lists.
 *
 * Position. The ids of the messages read and not acknowledged, with those a restored checkpoint
 * covered that the service has not delivered again yet. After a restart the service delivers
 * again whatever was not acknowledged; a message whose id the restored position lists was covered
 * by a durable checkpoint, so it is acknowledged at once and not read again. A message delivered
 * again while still held (its lease ran out) is not read a second time either; its newest ack id
 * replaces the old one. Each such skipped delivery counts in `duplicates`.
 */

import type { protos, v1 } from '@google-cloud/pubsub';
import {
  backoffDelay,
  type DecodeFailure,
  decodeMessageBody,
  type Logger,
  type MessageBodyOptions,
  type Offset,
  ReadWait,
  type Row,
  SluiceError,
  type SourceBatch,
  type SourceContext,
  type SourceReader,
} from '@sluice/core';
import { describeError, grpcCode, Status } from './connection.ts';

/** A read with nothing buffered returns an empty batch after this long. */
const IDLE_MS = 200;
/** The most ack ids one Acknowledge or ModifyAckDeadline request carries. */
const ACK_CHUNK = 1000;

/** The field that carries a record's Pub/Sub metadata when `metadata` is on. */
export const METADATA_FIELD = '_pubsub';

/** What `position()` returns: the ids of the messages not acknowledged. */
export interface PubsubPosition {
  unacked: string[];
}

/** Whether `value` is a position this reader wrote. */
export function isPubsubPosition(value: unknown): value is PubsubPosition {
  if (typeof value !== 'object' || value === null) return false;
  const unacked = (value as { unacked?: unknown }).unacked;
  return Array.isArray(unacked) && unacked.every((id) => typeof id === 'string');
}

/** A pulled message: its current ack id and the message. */
interface Held {
  ackId: string;
  message: protos.google.pubsub.v1.IPubsubMessage;
  deliveryAttempt: number;
}

export interface ReaderSettings {
  readonly partition: string;
  /** The subscription's full resource name. */
  readonly subscription: string;
  readonly payload: MessageBodyOptions;
  readonly metadata: boolean;
  /** Lease kept on held messages, seconds. */
  readonly ackDeadline: number;
  readonly window: number;
  readonly pullBatch: number;
}

/** Epoch ms of a protobuf timestamp (0 when absent). */
function millisOf(ts: protos.google.protobuf.ITimestamp | null | undefined): number {
  if (ts === null || ts === undefined) return 0;
  return Number(ts.seconds ?? 0) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
}

export class PubsubReader implements SourceReader {
  readonly partition: string;
  readonly #settings: ReaderSettings;
  readonly #client: v1.SubscriberClient;
  readonly #ctx: SourceContext;
  readonly #log: Logger;
  /** Messages pulled and not read yet, in delivery order. */
  #buffer: string[] = [];
  #bufferHead = 0;
  /** Messages pulled and not read yet, by message id. */
  readonly #queued = new Map<string, Held>();
  /** Messages read and not acknowledged, by message id, in read order. */
  readonly #unacked = new Map<string, Held>();
  /** Ids a restored, durable checkpoint covers, not delivered again yet. */
  readonly #covered = new Set<string>();
  #duplicates = 0;
  #duplicatesLogged = 0;
  readonly #waiting = new ReadWait(IDLE_MS);
  #room: (() => void) | undefined;
  #closed = false;
  #failure: Error | undefined;
  #pumping: Promise<void> = Promise.resolve();
  #lease: ReturnType<typeof setInterval> | undefined;

  constructor(settings: ReaderSettings, client: v1.SubscriberClient, ctx: SourceContext, restored: unknown) {
    this.partition = settings.partition;
    this.#settings = settings;
    this.#client = client;
    this.#ctx = ctx;
    this.#log = ctx.log;
    if (isPubsubPosition(restored)) for (const id of restored.unacked) this.#covered.add(id);
  }

  /** Deliveries skipped because a checkpoint, or a read not acknowledged yet, has them already. */
  get duplicates(): number {
    return this.#duplicates;
  }

  /** Messages read and not acknowledged yet. */
  get unacknowledged(): number {
    return this.#unacked.size;
  }

  /** Messages pulled and not read yet. */
  get buffered(): number {
    return this.#buffer.length - this.#bufferHead;
  }

  /** Starts pulling in the background, and renewing the leases of held messages. */
  start(): void {
    this.#pumping = this.#pump();
    const every = Math.max(250, Math.floor((this.#settings.ackDeadline * 1000) / 3));
    this.#lease = setInterval(() => {
      void this.#renew();
    }, every);
    this.#lease.unref();
  }

  async #pump(): Promise<void> {
    let attempt = 0;
    const { subscription, pullBatch, window, ackDeadline } = this.#settings;
    while (!this.#closed) {
      const held = this.buffered + this.#unacked.size;
      if (held >= window) {
        this.#ctx.requestCheckpoint?.();
        await new Promise<void>((resolve) => {
          this.#room = resolve;
        });
        continue;
      }
      try {
        const [response] = await this.#client.pull({
          subscription,
          maxMessages: Math.min(pullBatch, window - held),
        });
        attempt = 0;
        const received = response.receivedMessages ?? [];
        if (received.length === 0) continue;
        const ackIds: string[] = [];
        for (const r of received) {
          if (typeof r.ackId === 'string' && r.ackId !== '') ackIds.push(r.ackId);
        }
        if (this.#closed) {
          // Pulled while closing: hand them back at once.
          await this.#modify(ackIds, 0);
          return;
        }
        // The subscription's own deadline may be shorter than ours: lease them at once.
        await this.#modify(ackIds, ackDeadline);
        for (const r of received) this.#take(r);
      } catch (err) {
        if (this.#closed) return;
        const code = grpcCode(err);
        if (
          code === Status.NOT_FOUND ||
          code === Status.PERMISSION_DENIED ||
          code === Status.INVALID_ARGUMENT
        ) {
          this.#fail(
            new SluiceError(
              code === Status.NOT_FOUND ? 'SOURCE_UNAVAILABLE' : 'CONFIG_INVALID',
              `pubsub: pulling from '${subscription}' failed: ${describeError(err)}`,
              { step: this.#ctx.id, path: 'subscription', cause: err },
            ),
          );
          return;
        }
        attempt++;
        const wait = Math.max(100, backoffDelay(attempt, 250, 30_000));
        this.#log.warn('pubsub: pull failed; pulling again', {
          source: this.#ctx.id,
          error: describeError(err),
          retry_in_ms: wait,
        });
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  /** Takes a message the service delivered. */
  #take(received: protos.google.pubsub.v1.IReceivedMessage): void {
    const message = received.message;
    const ackId = received.ackId;
    if (message === null || message === undefined || typeof ackId !== 'string') return;
    const id = message.messageId ?? '';
    const deliveryAttempt = received.deliveryAttempt ?? 0;
    if (this.#covered.has(id)) {
      // A durable checkpoint covered it before the restart: acknowledge, do not read again.
      this.#covered.delete(id);
      this.#duplicates++;
      void this.#acknowledge([ackId]);
      return;
    }
    const held = this.#unacked.get(id) ?? this.#queued.get(id);
    if (held !== undefined) {
      // Delivered again while held (its lease ran out): keep the newest ack id.
      held.ackId = ackId;
      this.#duplicates++;
      return;
    }
    this.#queued.set(id, { ackId, message, deliveryAttempt });
    this.#buffer.push(id);
    this.#waiting.wake();
  }

  #fail(err: Error): void {
    this.#failure = err;
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
    const offsets: Offset[] = [];
    const texts: (string | undefined)[] = [];
    const failures: DecodeFailure[] = [];
    const { payload: options, metadata } = this.#settings;
    let anyText = false;
    while (this.#bufferHead < this.#buffer.length && records.length + failures.length < max) {
      const id = this.#buffer[this.#bufferHead++] as string;
      const held = this.#queued.get(id);
      if (held === undefined) continue;
      this.#queued.delete(id);
      this.#unacked.set(id, held);
      const { message } = held;
      const data = message.data ?? Buffer.alloc(0);
      const decoded = decodeMessageBody(
        typeof data === 'string' ? Buffer.from(data, 'base64') : data,
        options,
      );
      if ('failure' in decoded) {
        decoded.failure.message = `message ${id} ${decoded.failure.message}`;
        decoded.failure.offset = id;
        failures.push(decoded.failure);
        continue;
      }
      const row = decoded.row;
      const publishTime = millisOf(message.publishTime);
      if (metadata) {
        row[METADATA_FIELD] = {
          message_id: id,
          publish_time: publishTime,
          ordering_key: message.orderingKey ? message.orderingKey : null,
          attributes: { ...(message.attributes ?? {}) },
          delivery_attempt: held.deliveryAttempt > 0 ? held.deliveryAttempt : null,
        };
        texts.push(undefined);
      } else {
        texts.push(decoded.text);
        if (decoded.text !== undefined) anyText = true;
      }
      records.push(row);
      times.push(publishTime);
      offsets.push(id);
    }
    this.#compact();
    if (this.#duplicates !== this.#duplicatesLogged) {
      this.#log.info('pubsub: messages delivered again skipped (read already)', {
        source: this.#ctx.id,
        duplicates: this.#duplicates - this.#duplicatesLogged,
        total: this.#duplicates,
      });
      this.#duplicatesLogged = this.#duplicates;
    }
    if (this.#unacked.size * 2 >= this.#settings.window) this.#ctx.requestCheckpoint?.();
    const batch: SourceBatch = { records, times, offsets };
    if (anyText) batch.texts = texts;
    if (failures.length > 0) batch.failures = failures;
    return batch;
  }

  position(): PubsubPosition {
    const unacked = [...this.#unacked.keys()];
    for (const id of this.#covered) unacked.push(id);
    return { unacked };
  }

  async commit(position: unknown): Promise<void> {
    if (!isPubsubPosition(position)) return;
    const ids: string[] = [];
    const ackIds: string[] = [];
    for (const id of position.unacked) {
      const held = this.#unacked.get(id);
      if (held === undefined) continue;
      ids.push(id);
      ackIds.push(held.ackId);
    }
    if (ackIds.length === 0) return;
    try {
      await this.#acknowledge(ackIds, true);
    } catch (err) {
      // Left held: the next checkpoint's position lists them again.
      this.#log.warn('pubsub: acknowledging failed; the next checkpoint acknowledges again', {
        source: this.#ctx.id,
        messages: ackIds.length,
        error: describeError(err),
      });
      return;
    }
    for (const id of ids) this.#unacked.delete(id);
    this.#wakePump();
  }

  /**
   * Stops pulling. Messages held and not acknowledged are handed back (their lease set to 0 s),
   * so the service delivers them again at once — to another worker, or to this source after a
   * restart, where those the last checkpoint covers are skipped.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#lease);
    this.#waiting.wake();
    this.#wakePump();
    // A pull in flight ends within the service's own wait; its messages are handed back then.
    await Promise.race([this.#pumping, new Promise((r) => setTimeout(r, 2000).unref())]);
    const ackIds: string[] = [];
    for (const h of this.#unacked.values()) ackIds.push(h.ackId);
    for (const h of this.#queued.values()) ackIds.push(h.ackId);
    try {
      await this.#modify(ackIds, 0);
    } catch (err) {
      this.#log.warn('pubsub: handing messages back failed; the service delivers them after their lease', {
        source: this.#ctx.id,
        error: describeError(err),
      });
    }
    this.#unacked.clear();
    this.#queued.clear();
    this.#buffer = [];
    this.#bufferHead = 0;
    await this.#client.close();
  }

  /** Renews the lease of every message held (buffered or waiting for the checkpoint). */
  async #renew(): Promise<void> {
    if (this.#closed) return;
    const ackIds: string[] = [];
    for (const h of this.#unacked.values()) ackIds.push(h.ackId);
    for (const h of this.#queued.values()) ackIds.push(h.ackId);
    try {
      await this.#modify(ackIds, this.#settings.ackDeadline);
    } catch (err) {
      this.#log.warn('pubsub: renewing leases failed; messages may be delivered again', {
        source: this.#ctx.id,
        error: describeError(err),
      });
    }
  }

  async #modify(ackIds: string[], seconds: number): Promise<void> {
    for (let i = 0; i < ackIds.length; i += ACK_CHUNK)
      await this.#client.modifyAckDeadline({
        subscription: this.#settings.subscription,
        ackIds: ackIds.slice(i, i + ACK_CHUNK),
        ackDeadlineSeconds: seconds,
      });
  }

  /** Acknowledges `ackIds`; failures are logged unless `raise` (then thrown). */
  async #acknowledge(ackIds: string[], raise = false): Promise<void> {
    try {
      for (let i = 0; i < ackIds.length; i += ACK_CHUNK)
        await this.#client.acknowledge({
          subscription: this.#settings.subscription,
          ackIds: ackIds.slice(i, i + ACK_CHUNK),
        });
    } catch (err) {
      if (raise) throw err;
      this.#log.warn('pubsub: acknowledging a message a checkpoint covered failed', {
        source: this.#ctx.id,
        error: describeError(err),
      });
    }
  }

  #wakePump(): void {
    const room = this.#room;
    this.#room = undefined;
    room?.();
  }

  /** Drops read entries from the front of the buffer; lets the pump go on. */
  #compact(): void {
    if (this.#bufferHead === this.#buffer.length) {
      this.#buffer = [];
      this.#bufferHead = 0;
    } else if (this.#bufferHead > 4096) {
      this.#buffer = this.#buffer.slice(this.#bufferHead);
      this.#bufferHead = 0;
    }
    this.#wakePump();
  }
}
