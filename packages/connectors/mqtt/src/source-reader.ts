/**
 * The one partition of an `mqtt` source: a client with a persistent session, the messages the
 * broker sent but the pipeline has not read yet, and the messages read but not acknowledged.
 *
 * Acknowledgements. A QoS 1/2 message is acknowledged (PUBACK / PUBREC) only in `commit`, once a
 * checkpoint covering it is durable (see `library-internals.ts` for how the acknowledgement is
 * held back). Until then the broker keeps it in the session, counts it against the receive
 * maximum the source announced, and redelivers it — with the same packet id and the DUP flag —
 * after a reconnect or a restart.
 *
 * Position. The messages read and not yet acknowledged, each as its packet id and a digest of its
 * topic and payload. `commit(position)` acknowledges exactly those. After a restart the broker
 * redelivers the unacknowledged messages; one that the restored position lists was covered by a
 * durable checkpoint, so it is acknowledged at once and not read again (a restored position whose
 * commit ran before the crash lists messages the broker no longer has: nothing is redelivered for
 * them, and a new message that reuses one of their packet ids has another digest unless it has the
 * same topic and payload). A redelivered message that was read but not acknowledged is not read a
 * second time either.
 */

import { hash } from 'node:crypto';
import {
  type DecodeFailure,
  decodeMessageBody,
  type Logger,
  type MessageBodyOptions,
  ReadWait,
  type Row,
  type SourceBatch,
  type SourceContext,
  type SourceReader,
} from '@sluice/core';
import type { IPublishPacket, MqttClient } from 'mqtt';
import { sendAck } from './library-internals.ts';
import { METADATA_FIELD, userProperties } from './payload.ts';

/** A read with nothing buffered returns an empty batch after this long. */
const IDLE_MS = 200;

/** What `position()` returns: the messages read and not acknowledged, as [packet id, digest]. */
export interface MqttPosition {
  unacked: [number, string][];
}

/** Whether `value` is a position this reader wrote. */
export function isMqttPosition(value: unknown): value is MqttPosition {
  if (typeof value !== 'object' || value === null) return false;
  const unacked = (value as { unacked?: unknown }).unacked;
  return (
    Array.isArray(unacked) &&
    unacked.every(
      (e) => Array.isArray(e) && e.length === 2 && typeof e[0] === 'number' && typeof e[1] === 'string',
    )
  );
}

/** A message the broker wants acknowledged: its packet, digest and, once read, its read number. */
interface Pending {
  packet: IPublishPacket;
  digest: string;
  seq: number;
  /** The connection it came on (see `connectionClosed`). */
  connection: number;
}

export interface ReaderSettings {
  readonly partition: string;
  readonly payload: MessageBodyOptions;
  readonly metadata: boolean;
  /** The receive maximum announced to the broker: the window of unacknowledged messages. */
  readonly window: number;
}

/** Topics as UTF-8 followed by a 0 byte, the prefix of what `digestOf` hashes, by topic. */
const topicPrefixes = new Map<string, Buffer>();
/** Beyond this many topics (wildcard subscriptions over many devices) the cache starts again. */
const MAX_TOPIC_PREFIXES = 4096;

/**
 * Digest of a message's topic and payload, to tell a redelivery from a new message reusing an id:
 * the first 16 characters of the base64url SHA-1 of `topic`, a 0 byte and the payload. One-shot
 * `hash` over one buffer — the incremental `createHash(...).update(...)` chain cost 2–3 times as
 * much per message (profile, 2026-12-07) for the same value, so checkpoints written before still
 * match.
 */
export function digestOf(packet: IPublishPacket): string {
  let prefix = topicPrefixes.get(packet.topic);
  if (prefix === undefined) {
    if (topicPrefixes.size >= MAX_TOPIC_PREFIXES) topicPrefixes.clear();
    prefix = Buffer.from(`${packet.topic}\0`, 'utf8');
    topicPrefixes.set(packet.topic, prefix);
  }
  const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload, 'utf8') : packet.payload;
  return hash('sha1', Buffer.concat([prefix, payload], prefix.length + payload.length), 'base64url').slice(
    0,
    16,
  );
}

export class MqttReader implements SourceReader {
  readonly partition: string;
  readonly #settings: ReaderSettings;
  readonly #ctx: SourceContext;
  readonly #log: Logger;
  #client: MqttClient | undefined;
  /** Messages received, not read yet. */
  #buffer: Pending[] = [];
  #bufferHead = 0;
  /** QoS 1/2 messages read and not acknowledged, by packet id, in the order read. */
  readonly #unacked = new Map<number, Pending>();
  /** Messages read so far (each pending entry keeps its number, for `position`). */
  #seq = 0;
  /** Packet ids of QoS 1/2 messages in the buffer (a redelivery of one is not buffered twice). */
  readonly #buffered = new Set<number>();
  /** Messages a restored, durable checkpoint covers: acknowledged when redelivered. */
  readonly #covered = new Map<number, string>();
  /**
   * The connection's packet handling held while the buffer is full: the `mqtt` package reads no
   * further packet until these are called, so the socket, and then the broker, wait (backpressure).
   */
  #held: (() => void)[] = [];
  /** Covered messages redelivered before `attach`: acknowledged once it is. */
  #lateAcks: IPublishPacket[] = [];
  /** Counts the connections that closed: a packet of an earlier one is acknowledged on its redelivery. */
  #connection = 0;
  readonly #waiting = new ReadWait(IDLE_MS);
  #closed = false;
  #failure: Error | undefined;
  readonly #subscribed = Promise.withResolvers<void>();

  constructor(settings: ReaderSettings, ctx: SourceContext, restored: unknown) {
    this.partition = settings.partition;
    this.#settings = settings;
    this.#ctx = ctx;
    this.#log = ctx.log;
    if (isMqttPosition(restored)) for (const [id, digest] of restored.unacked) this.#covered.set(id, digest);
  }

  /** Messages received and not read yet: what the source buffers. */
  get buffered(): number {
    return this.#buffer.length - this.#bufferHead;
  }

  /** Messages read and not acknowledged yet. */
  get unacknowledged(): number {
    return this.#unacked.size;
  }

  /** Attaches the connected client; messages arriving before this are taken through `take`. */
  attach(client: MqttClient): void {
    this.#client = client;
    for (const packet of this.#lateAcks) sendAck(client, packet);
    this.#lateAcks = [];
  }

  /**
   * Resolves once the broker answered the subscription (granted or refused: a refusal fails the
   * next read). `open` does not wait for it (see `source.ts`); tests that publish right after
   * opening a new session do.
   */
  get subscribed(): Promise<void> {
    return this.#subscribed.promise;
  }

  /** The broker answered the subscription. */
  subscriptionAnswered(): void {
    this.#subscribed.resolve();
  }

  /**
   * The connection closed. The broker redelivers what it did not see acknowledged once the
   * session resumes, and an acknowledgement sent on the new connection before that redelivery is
   * not taken (Mosquitto drops a PUBACK for a message it has still to resend): a commit acknowledges
   * a message of a closed connection when its redelivery arrives, as one a restored checkpoint covers.
   */
  connectionClosed(): void {
    this.#connection++;
  }

  /** Records a connection failure that `read` reports. */
  fail(err: Error): void {
    this.#failure = err;
    this.#waiting.wake();
  }

  /** Takes a message the broker sent (QoS 1/2 unacknowledged; QoS 0 needs none). */
  take(packet: IPublishPacket): void {
    if (this.#closed) return;
    const digest = packet.qos === 0 ? '' : digestOf(packet);
    const id = packet.messageId;
    if (packet.qos > 0 && id !== undefined) {
      if (packet.dup) {
        if (this.#covered.get(id) === digest) {
          // A durable checkpoint covered it before the restart: acknowledge, do not read again.
          this.#covered.delete(id);
          if (this.#client) sendAck(this.#client, packet);
          else this.#lateAcks.push(packet);
          return;
        }
        const read = this.#unacked.get(id);
        if (read !== undefined && read.digest === digest) {
          // Read already, acknowledged at the commit that covers it; keep the newest packet.
          read.packet = packet;
          read.connection = this.#connection;
          return;
        }
        if (this.#buffered.has(id)) return;
      }
      this.#covered.delete(id);
      this.#buffered.add(id);
    }
    this.#buffer.push({ packet, digest, seq: 0, connection: this.#connection });
    this.#waiting.wake();
  }

  /**
   * Calls `next` (which lets the connection handle its next packet) now, or once reads have
   * drained the buffer below half the window when it is full.
   */
  whenRoom(next: () => void): void {
    if (this.#closed || this.buffered < this.#settings.window) next();
    else this.#held.push(next);
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
    const { payload: options, metadata } = this.#settings;
    let anyText = false;
    while (this.#bufferHead < this.#buffer.length && records.length + failures.length < max) {
      const pending = this.#buffer[this.#bufferHead++] as Pending;
      const { packet } = pending;
      if (packet.qos > 0 && packet.messageId !== undefined) {
        this.#buffered.delete(packet.messageId);
        pending.seq = ++this.#seq;
        this.#unacked.set(packet.messageId, pending);
      }
      const decoded = decodeMessageBody(packet.payload, options);
      if ('failure' in decoded) {
        decoded.failure.message = `message on topic '${packet.topic}' ${decoded.failure.message}`;
        failures.push(decoded.failure);
        continue;
      }
      const row = decoded.row;
      if (metadata) {
        row[METADATA_FIELD] = {
          topic: packet.topic,
          qos: packet.qos,
          retain: packet.retain,
          user_properties: userProperties(packet.properties?.userProperties),
        };
        texts.push(undefined);
      } else {
        texts.push(decoded.text);
        if (decoded.text !== undefined) anyText = true;
      }
      records.push(row);
      times.push(now);
    }
    this.#compact();
    if (this.#unacked.size * 2 >= this.#settings.window) this.#ctx.requestCheckpoint?.();
    const batch: SourceBatch = { records, times };
    if (anyText) batch.texts = texts;
    if (failures.length > 0) batch.failures = failures;
    return batch;
  }

  /**
   * The position after the last read. Its list is worked out when first read (at the checkpoint
   * that keeps it, or at its commit) rather than here: the runtime takes a position after every
   * read, and copying the up to `receive_maximum` unacknowledged messages each time made about
   * three [id, digest] pairs of garbage per message. It lists the messages read up to now and not
   * acknowledged when it is worked out (a packet id reused since by a message read later is left
   * out by its read number); one acknowledged in between was covered by an earlier durable
   * checkpoint.
   */
  position(): MqttPosition {
    const upTo = this.#seq;
    const unackedNow = this.#unacked;
    let unacked: [number, string][] | undefined;
    const position = {} as MqttPosition;
    Object.defineProperty(position, 'unacked', {
      enumerable: true,
      get(): [number, string][] {
        if (unacked === undefined) {
          unacked = [];
          for (const [id, p] of unackedNow) if (p.seq <= upTo) unacked.push([id, p.digest]);
        }
        return unacked;
      },
    });
    return position;
  }

  async commit(position: unknown): Promise<void> {
    if (!isMqttPosition(position) || this.#client === undefined) return;
    const client = this.#client;
    if (!client.connected) {
      // The broker redelivers them after the reconnect; the next checkpoint lists them again.
      this.#log.warn('mqtt: not connected at the checkpoint; acknowledging at the next one', {
        messages: position.unacked.length,
      });
      return;
    }
    for (const [id, digest] of position.unacked) {
      const p = this.#unacked.get(id);
      if (p === undefined || p.digest !== digest) continue;
      this.#unacked.delete(id);
      if (p.connection === this.#connection) sendAck(client, p.packet);
      else this.#covered.set(id, digest);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#waiting.wake();
    this.#release();
    const client = this.#client;
    if (client === undefined) return;
    // Nothing unacknowledged is acknowledged here: the broker keeps it for the next session.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => client.end(true, {}, () => resolve()), 2000);
      client.end(false, {}, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Drops read entries from the front of the buffer; lets the connection go on when there is room. */
  #compact(): void {
    if (this.#bufferHead === this.#buffer.length) {
      this.#buffer = [];
      this.#bufferHead = 0;
    } else if (this.#bufferHead > 1024 && this.#bufferHead * 2 > this.#buffer.length) {
      this.#buffer = this.#buffer.slice(this.#bufferHead);
      this.#bufferHead = 0;
    }
    if (this.#held.length > 0 && this.buffered * 2 < this.#settings.window) this.#release();
  }

  #release(): void {
    const held = this.#held;
    this.#held = [];
    for (const next of held) next();
  }
}
