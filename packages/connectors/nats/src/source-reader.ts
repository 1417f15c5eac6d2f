/**
 * The one partition of a `nats` source: a durable pull consumer, the messages it delivered that
 * the pipeline has not read yet, and the messages read but not acknowledged.
 *
 * Acknowledgements. A message is acknowledged only in `commit`, once a checkpoint covering it is
 * durable. Until then the server counts it against the consumer's `max_ack_pending` and, were
 * the source to stop telling it that it is still working on it (`working()`, every third of
 * `ack_wait`), would deliver it again.
 *
 * Position. The stream sequences of the messages read and not acknowledged, as ranges, together
 * with those a restored checkpoint covered that the server has not redelivered yet.
 * `commit(position)` acknowledges exactly the messages it lists. After a restart the server
 * redelivers what was not acknowledged; a message whose sequence the restored position lists was
 * covered by a durable checkpoint, so it is acknowledged at once and not read again. A redelivery
 * of a message read and not acknowledged yet (its `ack_wait` ran out) is not read a second time
 * either. Each such skipped redelivery counts in `duplicates`.
 */

import type { Consumer, ConsumerMessages, JsMsg } from '@nats-io/jetstream';
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
import { describeError } from './connection.ts';
import { headersOf, METADATA_FIELD } from './payload.ts';

/** A read with nothing buffered returns an empty batch after this long. */
const IDLE_MS = 200;

/** How long after a close the server redelivers what the reader handed back. */
const NAK_DELAY = 300;

/** What `position()` returns: the stream sequences not acknowledged, as inclusive ranges. */
export interface NatsPosition {
  unacked: [number, number][];
}

/** Whether `value` is a position this reader wrote. */
export function isNatsPosition(value: unknown): value is NatsPosition {
  if (typeof value !== 'object' || value === null) return false;
  const unacked = (value as { unacked?: unknown }).unacked;
  return (
    Array.isArray(unacked) &&
    unacked.every(
      (e) =>
        Array.isArray(e) &&
        e.length === 2 &&
        Number.isSafeInteger(e[0]) &&
        Number.isSafeInteger(e[1]) &&
        e[0] <= e[1] &&
        e[1] - e[0] < 10_000_000,
    )
  );
}

/** Sequences as sorted inclusive ranges. */
export function toRanges(seqs: Iterable<number>): [number, number][] {
  const sorted = [...seqs].sort((a, b) => a - b);
  const out: [number, number][] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && s === last[1] + 1) last[1] = s;
    else if (last === undefined || s > last[1]) out.push([s, s]);
  }
  return out;
}

/** A delivered message and, when it goes to the dead letters, why (it is terminated, not acked). */
interface Pending {
  msg: JsMsg;
  terminate?: string;
}

export interface ReaderSettings {
  readonly partition: string;
  /** The stream and the durable consumer read, for messages. */
  readonly stream: string;
  readonly durable: string;
  readonly payload: MessageBodyOptions;
  readonly metadata: boolean;
  /** The consumer's `max_ack_pending`: the window of unacknowledged messages. */
  readonly window: number;
  /** The consumer's `max_deliver` (-1: no limit). */
  readonly maxDeliver: number;
  /** The consumer's `ack_wait`, ms. */
  readonly ackWait: number;
  readonly pullBatch: number;
  /** The consumer's acknowledgement floor: every sequence up to it is acknowledged. */
  readonly ackFloor: number;
}

export class NatsReader implements SourceReader {
  readonly partition: string;
  readonly #settings: ReaderSettings;
  readonly #ctx: SourceContext;
  readonly #log: Logger;
  /** Messages delivered and not read yet, in delivery order, by stream sequence. */
  #buffer: Pending[] = [];
  #bufferHead = 0;
  readonly #queued = new Map<number, Pending>();
  /** Messages read and not acknowledged, by stream sequence. */
  readonly #unacked = new Map<number, Pending>();
  /**
   * Sequences a restored, durable checkpoint covers: acknowledged whenever redelivered (a message
   * may come back more than once). Those not redelivered yet are in `#coveredWaiting`, which
   * positions keep listing, so that a crash before they come back does not read them again.
   */
  readonly #covered = new Set<number>();
  readonly #coveredWaiting = new Set<number>();
  #duplicates = 0;
  readonly #waiting = new ReadWait(IDLE_MS);
  #room: (() => void) | undefined;
  #closed = false;
  #failure: Error | undefined;
  #messages: ConsumerMessages | undefined;
  #pumping: Promise<void> = Promise.resolve();
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  readonly #release: () => Promise<void>;
  #duplicatesLogged = 0;

  /** `release` closes the connection, once `close` has handed back what it holds. */
  constructor(settings: ReaderSettings, ctx: SourceContext, restored: unknown, release: () => Promise<void>) {
    this.partition = settings.partition;
    this.#release = release;
    this.#settings = settings;
    this.#ctx = ctx;
    this.#log = ctx.log;
    if (isNatsPosition(restored)) {
      for (const [from, to] of restored.unacked)
        for (let s = Math.max(from, settings.ackFloor + 1); s <= to; s++) {
          this.#covered.add(s);
          this.#coveredWaiting.add(s);
        }
    }
  }

  /** Redeliveries skipped because a checkpoint, or a read not acknowledged yet, has them already. */
  get duplicates(): number {
    return this.#duplicates;
  }

  /** Messages delivered and not read yet. */
  get buffered(): number {
    return this.#buffer.length - this.#bufferHead;
  }

  /** Messages read and not acknowledged yet. */
  get unacknowledged(): number {
    return this.#unacked.size;
  }

  /**
   * Starts pulling from `consumer` in the background, and telling the server every third of
   * `ack_wait` that the messages held (buffered or unacknowledged) are still being worked on.
   */
  start(consumer: Consumer): void {
    this.#pumping = this.#pump(consumer);
    const every = Math.max(250, Math.floor(this.#settings.ackWait / 3));
    this.#heartbeat = setInterval(() => this.#stillWorking(), every);
    this.#heartbeat.unref();
  }

  async #pump(consumer: Consumer): Promise<void> {
    let attempt = 0;
    while (!this.#closed) {
      try {
        // `bind`: after a reconnect the client pulls again at once. Without it, it first asks
        // for the consumer's info and, when that fails once, waits its 30 s `expires` before
        // trying again (seen in the outage test). A deleted consumer still ends the iterator
        // (`abort_on_missing_resource`), which the catch below reports.
        const messages = await consumer.consume({
          max_messages: this.#settings.pullBatch,
          bind: true,
          abort_on_missing_resource: true,
        });
        this.#messages = messages;
        if (this.#closed) messages.stop();
        for await (const m of messages) {
          attempt = 0;
          this.#take(m);
          if (this.buffered >= this.#settings.pullBatch && !this.#closed)
            await new Promise<void>((resolve) => {
              this.#room = resolve;
            });
        }
        if (this.#closed) return;
        throw new Error('the consumer stopped delivering');
      } catch (err) {
        if (this.#closed) return;
        const missing = await consumer.info().then(
          () => false,
          (e: unknown) => /not found/i.test(describeError(e)),
        );
        if (missing) {
          this.fail(
            new SluiceError(
              'SOURCE_UNAVAILABLE',
              `nats: consumer '${this.#settings.durable}' was deleted from stream '${this.#settings.stream}': ${describeError(err)}`,
              { step: this.#ctx.id, path: 'durable', cause: err },
            ),
          );
          return;
        }
        attempt++;
        const wait = Math.max(250, backoffDelay(attempt, 250, 30_000));
        this.#log.warn('nats: consuming failed; pulling again', {
          source: this.#ctx.id,
          error: describeError(err),
          retry_in_ms: wait,
        });
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  /** Takes a message the consumer delivered. */
  #take(msg: JsMsg): void {
    if (this.#closed) {
      msg.nak();
      return;
    }
    const seq = msg.info.streamSequence;
    if (this.#covered.has(seq)) {
      this.#coveredWaiting.delete(seq);
      // A durable checkpoint covered it before the restart: acknowledge, do not read again.
      msg.ack();
      this.#duplicates++;
      return;
    }
    const held = this.#unacked.get(seq) ?? this.#queued.get(seq);
    if (held !== undefined) {
      // Delivered again while held (its ack_wait ran out): keep the newest delivery to ack.
      held.msg = msg;
      this.#duplicates++;
      return;
    }
    const pending: Pending = { msg };
    this.#queued.set(seq, pending);
    this.#buffer.push(pending);
    this.#waiting.wake();
  }

  /** Records a failure that `read` reports. */
  fail(err: Error): void {
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
    const { payload: options, metadata, maxDeliver } = this.#settings;
    let anyText = false;
    while (this.#bufferHead < this.#buffer.length && records.length + failures.length < max) {
      const pending = this.#buffer[this.#bufferHead++] as Pending;
      const { msg } = pending;
      const info = msg.info;
      const seq = info.streamSequence;
      this.#queued.delete(seq);
      this.#unacked.set(seq, pending);
      if (maxDeliver > 1 && info.deliveryCount >= maxDeliver) {
        pending.terminate =
          `message ${seq} of stream '${info.stream}' on subject '${msg.subject}' was delivered ` +
          `${info.deliveryCount} times (the consumer's max_deliver) without being acknowledged`;
        failures.push({
          payload: Buffer.from(msg.data).toString('base64'),
          message: pending.terminate,
          offset: seq,
        });
        continue;
      }
      const decoded = decodeMessageBody(msg.data, options);
      if ('failure' in decoded) {
        decoded.failure.message = `message ${seq} on subject '${msg.subject}' ${decoded.failure.message}`;
        decoded.failure.offset = seq;
        failures.push(decoded.failure);
        continue;
      }
      const row = decoded.row;
      if (metadata) {
        row[METADATA_FIELD] = {
          subject: msg.subject,
          stream: info.stream,
          sequence: seq,
          delivered: info.deliveryCount,
          headers: headersOf(msg.headers),
        };
        texts.push(undefined);
      } else {
        texts.push(decoded.text);
        if (decoded.text !== undefined) anyText = true;
      }
      records.push(row);
      // The time the stream stored the message: the same on every delivery.
      times.push(Math.floor(info.timestampNanos / 1e6));
      offsets.push(seq);
    }
    this.#compact();
    if (this.#duplicates !== this.#duplicatesLogged) {
      this.#log.info('nats: redelivered messages skipped (read already)', {
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

  position(): NatsPosition {
    if (this.#coveredWaiting.size === 0) {
      // The common case: sequences read in increasing order, ranges without a sort.
      const out: [number, number][] = [];
      let sorted = true;
      for (const s of this.#unacked.keys()) {
        const last = out[out.length - 1];
        if (last === undefined) out.push([s, s]);
        else if (s === last[1] + 1) last[1] = s;
        else if (s > last[1]) out.push([s, s]);
        else {
          sorted = false;
          break;
        }
      }
      if (sorted) return { unacked: out };
      return { unacked: toRanges(this.#unacked.keys()) };
    }
    return { unacked: toRanges([...this.#unacked.keys(), ...this.#coveredWaiting]) };
  }

  async commit(position: unknown): Promise<void> {
    if (!isNatsPosition(position)) return;
    // Acknowledgements the client cannot send now are queued by it and sent once it reconnects.
    for (const [from, to] of position.unacked) {
      for (let s = from; s <= to; s++) {
        const p = this.#unacked.get(s);
        if (p === undefined) continue;
        this.#unacked.delete(s);
        if (p.terminate === undefined) p.msg.ack();
        // No reason with it: servers before 2.10 do not take `+TERM <reason>` (the dead letter has it).
        else p.msg.term();
      }
    }
  }

  /**
   * Stops pulling. Messages delivered and not acknowledged are handed back (`nak`), so the server
   * delivers them again soon — to another worker, or to this source after a restart, where those
   * the last checkpoint covers are skipped. The nak is delayed by `NAK_DELAY`: nats-server 2.9
   * hands a message nak'd at once to a pull request of this connection that it still holds,
   * where it would wait for `ack_wait` and use up one of its `max_deliver` deliveries.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    this.#waiting.wake();
    this.#room?.();
    this.#messages?.stop();
    await this.#pumping;
    for (const p of this.#unacked.values()) p.msg.nak(NAK_DELAY);
    for (let i = this.#bufferHead; i < this.#buffer.length; i++) this.#buffer[i]?.msg.nak(NAK_DELAY);
    this.#unacked.clear();
    this.#queued.clear();
    this.#buffer = [];
    this.#bufferHead = 0;
    await this.#release();
  }

  /** Tells the server the held messages are still being worked on, so it does not redeliver them. */
  #stillWorking(): void {
    for (const p of this.#unacked.values()) p.msg.working();
    for (let i = this.#bufferHead; i < this.#buffer.length; i++) this.#buffer[i]?.msg.working();
  }

  /** Drops read entries from the front of the buffer; lets the pump go on when there is room. */
  #compact(): void {
    if (this.#bufferHead === this.#buffer.length) {
      this.#buffer = [];
      this.#bufferHead = 0;
    } else if (this.#bufferHead > 1024 && this.#bufferHead * 2 > this.#buffer.length) {
      this.#buffer = this.#buffer.slice(this.#bufferHead);
      this.#bufferHead = 0;
    }
    if (this.#room !== undefined && this.buffered < this.#settings.pullBatch) {
      const room = this.#room;
      this.#room = undefined;
      room();
    }
  }
}
