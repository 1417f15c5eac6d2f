/**
 * The one partition of a `redis` source in `mode: stream`: a consumer of a consumer group, the
 * entries it has read but not acknowledged, and the entries a restored checkpoint covers.
 *
 * Acknowledgements. An entry is acknowledged (`XACK`) only in `commit`, once a checkpoint covering
 * its record is durable; until then it stays in the group's pending entries list (PEL) under this
 * consumer. When half of `max_pending` is read and unacknowledged the reader asks for an early
 * checkpoint; at `max_pending` it reads nothing new until a commit.
 *
 * Position. The ids of the entries read and not yet acknowledged. On open the reader reads its
 * own pending entries first (`XREADGROUP … 0`): those the restored position lists were covered by a
 * durable checkpoint, so they are acknowledged at once and not read again; the others (read after
 * that checkpoint, or delivered and never read) are read again. Then it reads new entries (`>`),
 * and every `claim_idle / 2` takes over entries other consumers of the group have left pending
 * longer than `claim_idle` (`XAUTOCLAIM`). An entry read again from the PEL or taken over whose
 * delivery count (`XPENDING`) passed `max_deliveries` becomes a dead letter, acknowledged with the
 * checkpoint like a record.
 */

import type { DecodeFailure, Logger, Row, SourceBatch, SourceContext, SourceReader } from '@sluice/core';
import { SluiceError } from '@sluice/core';
import { describeError, destroy, failureKind, type RedisClient } from './connection.ts';
import { decodeEntry, entryTime } from './decode.ts';

/** A read with nothing new waits this long (`BLOCK`) before it returns an empty batch. */
const IDLE_MS = 200;
/** The longest wait between two takeover rounds (`XAUTOCLAIM`), ms. */
const MAX_CLAIM_INTERVAL = 30_000;
/** Most ids one `XACK` names. */
const ACK_CHUNK = 1000;

/** What `position()` returns: the ids of the entries read and not acknowledged, in read order. */
export interface StreamPosition {
  unacked: string[];
}

/** Whether `value` is a position this reader wrote. */
export function isStreamPosition(value: unknown): value is StreamPosition {
  if (typeof value !== 'object' || value === null) return false;
  const unacked = (value as { unacked?: unknown }).unacked;
  return Array.isArray(unacked) && unacked.every((id) => typeof id === 'string');
}

export interface StreamSettings {
  readonly stream: string;
  readonly group: string;
  readonly consumer: string;
  readonly format: 'fields' | 'json';
  readonly jsonField: string;
  readonly maxDepth: number;
  readonly maxPending: number;
  readonly maxDeliveries: number;
  readonly claimIdle: number;
  readonly url: string;
}

/** One entry as Redis gives it (RESP2): its id and its fields, or null when it was deleted. */
type Entry = { id: string; fields: { [field: string]: string } | null };

/** Entries of a `[[id, [field, value, …] | null], …]` reply. */
function entriesOf(reply: unknown): Entry[] {
  if (!Array.isArray(reply)) return [];
  const out: Entry[] = [];
  for (const item of reply) {
    if (!Array.isArray(item)) continue; // XAUTOCLAIM gives null for an entry deleted meanwhile
    const [id, flat] = item as [string, string[] | null];
    if (flat === null) {
      out.push({ id, fields: null });
      continue;
    }
    const fields: { [field: string]: string } = {};
    for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i] as string] = flat[i + 1] as string;
    out.push({ id, fields });
  }
  return out;
}

/** The entries of an `XREADGROUP` reply for one stream (null when there were none). */
function readGroupEntries(reply: unknown): Entry[] {
  if (!Array.isArray(reply) || reply.length === 0) return [];
  const [, entries] = reply[0] as [string, unknown];
  return entriesOf(entries);
}

export class StreamReader implements SourceReader {
  readonly partition: string;
  readonly #s: StreamSettings;
  readonly #ctx: SourceContext;
  readonly #log: Logger;
  /** Blocking reads. */
  readonly #reads: RedisClient;
  /** Acknowledgements and group queries, so that a commit never waits behind a blocking read. */
  readonly #acks: RedisClient;
  /** Ids read and not acknowledged. */
  readonly #unacked = new Set<string>();
  /**
   * Ids in the order read, from `#readHead` on; those acknowledged since are no longer in
   * `#unacked` (dropped from the front by `#compact`).
   */
  #read: string[] = [];
  #readHead = 0;
  /** Ids a restored, durable checkpoint covers: acknowledged when met in the PEL. */
  readonly #covered: Set<string>;
  /** Where the reading of this consumer's own pending entries stands; undefined once done. */
  #history: string | undefined = '0';
  #claimCursor = '0-0';
  #nextClaim = 0;
  #closed = false;
  /** Ends the wait of a read whose window is full, set while one waits: a commit made room. */
  #roomMade: (() => void) | undefined;

  constructor(
    settings: StreamSettings,
    ctx: SourceContext,
    clients: { reads: RedisClient; acks: RedisClient },
    restored: unknown,
  ) {
    this.partition = settings.stream;
    this.#s = settings;
    this.#ctx = ctx;
    this.#log = ctx.log;
    this.#reads = clients.reads;
    this.#acks = clients.acks;
    this.#covered = new Set(isStreamPosition(restored) ? restored.unacked : []);
  }

  /** Entries read and not acknowledged yet. */
  get unacknowledged(): number {
    return this.#unacked.size;
  }

  async read(max: number, signal: AbortSignal): Promise<SourceBatch | null> {
    if (this.#closed) return null;
    const room = this.#s.maxPending - this.#unacked.size;
    if (room <= 0) {
      // The window is full: nothing more until a checkpoint acknowledges some (backpressure). The
      // commit that makes room ends the wait, so the reader does not idle past it.
      this.#ctx.requestCheckpoint?.();
      await sleep(IDLE_MS, signal, (wake) => {
        this.#roomMade = wake;
      });
      this.#roomMade = undefined;
      return { records: [] };
    }
    const count = Math.min(max, room);
    try {
      let entries: Entry[] = [];
      let redelivered = false;
      if (this.#history !== undefined) {
        entries = await this.#ownPending(count);
        redelivered = true;
      }
      if (entries.length === 0 && this.#history === undefined && this.#ctx.clock.now() >= this.#nextClaim) {
        entries = await this.#claim(count);
        redelivered = true;
      }
      if (entries.length === 0 && this.#history === undefined) {
        redelivered = false;
        entries = readGroupEntries(
          await this.#reads.sendCommand([
            'XREADGROUP',
            'GROUP',
            this.#s.group,
            this.#s.consumer,
            'COUNT',
            String(count),
            'BLOCK',
            String(IDLE_MS),
            'STREAMS',
            this.#s.stream,
            '>',
          ]),
        );
      }
      return await this.#batch(entries, redelivered);
    } catch (err) {
      if (signal.aborted || this.#closed) return this.#closed ? null : { records: [] };
      throw this.#error(err);
    }
  }

  /**
   * This consumer's own pending entries after the history cursor: the covered ones acknowledged
   * and skipped, deleted ones acknowledged, those read already (since open) skipped.
   */
  async #ownPending(count: number): Promise<Entry[]> {
    while (this.#history !== undefined) {
      const page = readGroupEntries(
        await this.#reads.sendCommand([
          'XREADGROUP',
          'GROUP',
          this.#s.group,
          this.#s.consumer,
          'COUNT',
          String(count),
          'STREAMS',
          this.#s.stream,
          this.#history,
        ]),
      );
      if (page.length === 0) {
        this.#history = undefined;
        this.#covered.clear();
        break;
      }
      this.#history = (page[page.length - 1] as Entry).id;
      const done: string[] = [];
      const fresh: Entry[] = [];
      for (const e of page) {
        if (this.#covered.has(e.id) || e.fields === null) done.push(e.id);
        else if (!this.#unacked.has(e.id)) fresh.push(e);
      }
      if (done.length > 0) await this.#xack(done);
      if (fresh.length > 0) return fresh;
    }
    return [];
  }

  /** Takes over entries others left pending longer than `claim_idle`; once round, then waits. */
  async #claim(count: number): Promise<Entry[]> {
    const reply = (await this.#reads.sendCommand([
      'XAUTOCLAIM',
      this.#s.stream,
      this.#s.group,
      this.#s.consumer,
      String(this.#s.claimIdle),
      this.#claimCursor,
      'COUNT',
      String(count),
    ])) as [string, unknown, unknown];
    this.#claimCursor = reply[0];
    if (this.#claimCursor === '0-0')
      this.#nextClaim =
        this.#ctx.clock.now() + Math.min(MAX_CLAIM_INTERVAL, Math.max(IDLE_MS, this.#s.claimIdle / 2));
    const claimed = entriesOf(reply[1]).filter((e) => e.fields !== null && !this.#unacked.has(e.id));
    if (claimed.length > 0)
      this.#log.info('redis: took over entries another consumer left pending', {
        stream: this.#s.stream,
        group: this.#s.group,
        entries: claimed.length,
      });
    return claimed;
  }

  /** How often each of `entries` (ids in increasing order, all pending here) was delivered. */
  async #deliveries(entries: Entry[]): Promise<Map<string, number>> {
    const first = (entries[0] as Entry).id;
    const last = (entries[entries.length - 1] as Entry).id;
    const reply = (await this.#acks.sendCommand([
      'XPENDING',
      this.#s.stream,
      this.#s.group,
      first,
      last,
      String(this.#unacked.size + entries.length + 16),
      this.#s.consumer,
    ])) as [string, string, number, number][];
    return new Map(reply.map(([id, , , n]) => [id, Number(n)]));
  }

  async #batch(entries: Entry[], redelivered: boolean): Promise<SourceBatch> {
    const records: Row[] = [];
    const times: number[] = [];
    const offsets: string[] = [];
    const texts: (string | undefined)[] = [];
    const failures: DecodeFailure[] = [];
    let anyText = false;
    const counts = redelivered && entries.length > 0 ? await this.#deliveries(entries) : undefined;
    const { format, jsonField, maxDepth, maxDeliveries } = this.#s;
    for (const e of entries) {
      const fields = e.fields;
      if (fields === null) continue;
      this.#unacked.add(e.id);
      this.#read.push(e.id);
      const delivered = counts?.get(e.id) ?? 1;
      if (delivered > maxDeliveries) {
        failures.push({
          payload: JSON.stringify({ ...fields }),
          message: `entry ${e.id} of stream '${this.#s.stream}' was delivered ${delivered} times, more than max_deliveries (${maxDeliveries})`,
          offset: e.id,
        });
        continue;
      }
      const decoded = decodeEntry(e.id, fields, format, jsonField, maxDepth);
      if ('failure' in decoded) {
        failures.push(decoded.failure);
        continue;
      }
      records.push(decoded.row);
      times.push(entryTime(e.id));
      offsets.push(e.id);
      if (format === 'json') {
        texts.push(decoded.text);
        anyText = true;
      }
    }
    if (this.#unacked.size * 2 >= this.#s.maxPending) this.#ctx.requestCheckpoint?.();
    const batch: SourceBatch = { records, times, offsets };
    if (anyText) batch.texts = texts;
    if (failures.length > 0) batch.failures = failures;
    return batch;
  }

  /**
   * The position after the last read. Its id list is worked out when first read (at the
   * checkpoint that keeps it, or at its commit) rather than here: the runtime takes a position
   * after every read, and copying up to `max_pending` ids each time cost more than reading the
   * entries. It lists the entries read up to now that are still unacknowledged when it is worked
   * out; one acknowledged in between was covered by an earlier durable checkpoint (and is no
   * longer pending in Redis, so it is not read again on restore either).
   */
  position(): StreamPosition {
    const read = this.#read;
    const start = this.#readHead;
    const end = read.length;
    const unackedNow = this.#unacked;
    let unacked: string[] | undefined;
    const position = {} as StreamPosition;
    Object.defineProperty(position, 'unacked', {
      enumerable: true,
      get(): string[] {
        if (unacked === undefined) {
          unacked = [];
          for (let i = start; i < end; i++) {
            const id = read[i] as string;
            if (unackedNow.has(id)) unacked.push(id);
          }
        }
        return unacked;
      },
    });
    return position;
  }

  async commit(position: unknown): Promise<void> {
    if (!isStreamPosition(position) || this.#closed) return;
    const ids = position.unacked.filter((id) => this.#unacked.has(id));
    if (ids.length === 0) return;
    try {
      await this.#xack(ids);
    } catch (err) {
      // The entries stay pending under this consumer; the next checkpoint lists them again.
      this.#log.warn('redis: cannot acknowledge at the checkpoint; acknowledging at the next one', {
        stream: this.#s.stream,
        entries: ids.length,
        error: describeError(err, this.#s.url),
      });
      return;
    }
    for (const id of ids) this.#unacked.delete(id);
    this.#compact();
    this.#roomMade?.();
  }

  /**
   * Drops the acknowledged ids at the front of the read order. A new array replaces the old one
   * rather than changing it: positions not worked out yet still read theirs.
   */
  #compact(): void {
    const read = this.#read;
    let head = this.#readHead;
    while (head < read.length && !this.#unacked.has(read[head] as string)) head++;
    if (head === read.length) {
      this.#read = [];
      this.#readHead = 0;
    } else if (head > 1024 && head * 2 > read.length) {
      this.#read = read.slice(head);
      this.#readHead = 0;
    } else {
      this.#readHead = head;
    }
  }

  async #xack(ids: string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += ACK_CHUNK)
      await this.#acks.sendCommand(['XACK', this.#s.stream, this.#s.group, ...ids.slice(i, i + ACK_CHUNK)]);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#roomMade?.();
    // Nothing unacknowledged is acknowledged here: the entries stay pending for the next start.
    for (const client of [this.#reads, this.#acks]) {
      try {
        if (client.isOpen) await client.close();
      } catch {
        destroy(client);
      }
    }
  }

  /**
   * A failed read: the reply of an `XREADGROUP >` may have been lost with its entries delivered to
   * this consumer, so the next read starts again from the consumer's own pending entries.
   */
  #error(err: unknown): SluiceError {
    this.#history = '0';
    const kind = failureKind(err);
    const message = `redis: reading stream '${this.#s.stream}' as ${this.#s.group}/${this.#s.consumer} failed: ${describeError(err, this.#s.url)}`;
    if (kind === 'transient')
      return new SluiceError('SOURCE_UNAVAILABLE', message, { step: this.#ctx.id, cause: err });
    return new SluiceError('CONFIG_INVALID', message, { step: this.#ctx.id, path: 'stream', cause: err });
  }
}

/** Waits `ms`, less when `signal` aborts or the `wake` handed to `onWait` is called. */
function sleep(ms: number, signal: AbortSignal, onWait?: (wake: () => void) => void): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    onWait?.(done);
  });
}
