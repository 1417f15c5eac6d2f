/**
 * The reader of the `postgres` source: the rows of a table, then its changes, from a logical
 * replication slot with the `pgoutput` plugin.
 *
 * **Positions.** The stream is read whole transactions at a time: a transaction's changes are
 * held until its commit arrives, then handed out in order. The position is the end LSN of the
 * last transaction handed out entirely, and, when a `read` stopped inside the next one, how many
 * of its changes were handed out (`partial`): a restart asks the slot for what committed after the
 * LSN, the server sends the partial transaction whole again, and its first `n` changes are
 * skipped — nothing lost, nothing twice.
 *
 * **Confirmation.** The slot keeps every change the server has not been told is safe. The reader
 * confirms an LSN to the server (a standby status update) only in `commit`, once the checkpoint
 * that covers it is durable, and repeats that LSN every ten seconds and whenever the server asks,
 * so an idle connection is not timed out; it never confirms what it has merely received.
 *
 * **Snapshot.** A pipeline without a checkpoint creates the slot with an exported snapshot, reads
 * the table from that snapshot in key order (the rows as inserts), then streams from the slot's
 * consistent point: each row and each change once. A restart in the middle of the snapshot reads
 * the rest of the table from a newer snapshot and then the changes since the first one, so changes
 * made meanwhile to the rows not yet read may come twice; as upserts by key they describe the same
 * table. The source says so: `snapshot: initial` is at-least-once, `never` exactly-once.
 *
 * **Backpressure.** At most `max_buffered` changes wait ahead of the pipeline; past that the
 * replication connection is not read (flow control of `pg-logical-replication`) until `read`
 * takes some.
 *
 * **Reconnects.** A lost connection is reopened with capped, jittered backoff, asking for what
 * committed after the last transaction received whole; a transaction cut off is received again.
 */

import {
  backoffDelay,
  DELETE,
  type DecodeFailure,
  INSERT,
  type Logger,
  ReadWait,
  type Row,
  type RowKind,
  SluiceError,
  type SourceBatch,
  type SourceContext,
  type SourceLag,
  type SourceReader,
  UPDATE_AFTER,
  UPDATE_BEFORE,
} from '@sluice/core';
import pg from 'pg';
import { LogicalReplicationService, type Pgoutput, PgoutputPlugin } from 'pg-logical-replication';
import { type CdcSourceConfig, tableName } from './cdc-config.ts';
import { columnText, quoteIdent, quoteTable } from './encode.ts';
import { isLsn, laterLsn, lsnText, lsnValue } from './lsn.ts';
import { serverReason } from './pg-errors.ts';
import { parseInt8 } from './values.ts';

/** How long an empty `read` waits for changes before it returns an empty batch, ms. */
const IDLE_MS = 200;
/** How often the confirmed LSN is sent again, ms (below the server's `wal_sender_timeout`). */
const STATUS_EVERY_MS = 10_000;
/** The first wait before reconnecting, and the longest, ms. */
const RECONNECT_FIRST = 200;
const RECONNECT_MAX = 30_000;

/** What `position()` returns and a checkpoint keeps. */
export interface CdcPosition {
  /** The slot read. */
  readonly slot: string;
  /** End LSN of the last transaction handed out whole: the stream resumes after it. */
  readonly lsn: string;
  /** The transaction handed out in part: its end LSN and how many of its changes were. */
  readonly partial?: { readonly commit: string; readonly n: number };
  /** Present while the initial snapshot is read: the key of the last row handed out (null: none). */
  readonly snapshot?: { readonly after: readonly unknown[] | null };
}

export function isCdcPosition(value: unknown): value is CdcPosition {
  if (typeof value !== 'object' || value === null) return false;
  const p = value as { [k: string]: unknown };
  return typeof p.slot === 'string' && isLsn(p.lsn);
}

/** One change, or a change that cannot be given as one (a TRUNCATE). */
type Entry = { readonly kind: RowKind; readonly row: Row } | { readonly failure: DecodeFailure };

/** A transaction received whole. */
interface Transaction {
  /** Its end LSN. */
  readonly end: string;
  /** Its commit time, epoch ms: the time of its records. */
  readonly time: number;
  readonly entries: Entry[];
}

/** What the source found out at start, for the reader. */
export interface CdcStart {
  /** Where the stream starts: the checkpoint's, or the slot's consistent point. */
  readonly position: CdcPosition;
  /** An open transaction on the exported (or a newer) snapshot, while the snapshot is read. */
  readonly snapshotClient?: pg.Client;
}

export class CdcReader implements SourceReader {
  readonly partition: string;
  readonly #config: CdcSourceConfig;
  readonly #ctx: SourceContext;
  readonly #log: Logger;
  readonly #slot: string;
  readonly #table: { schema: string; name: string };

  // --- the snapshot (while it is read)
  #snapshot: pg.Client | undefined;
  #after: readonly unknown[] | null = null;

  // --- the stream
  #service: LogicalReplicationService | undefined;
  /** End LSN of the last transaction received whole: a reconnect asks for what follows it. */
  #received: string;
  /** End LSN of the last transaction handed out whole, and how much of the next was. */
  #delivered: string;
  #partial: { commit: string; n: number } | undefined;
  /** From the restored position: changes of that transaction handed out before the restart. */
  #skip: { commit: string; n: number } | undefined;
  /** The LSN confirmed to the server (by `commit`). */
  #confirmed: string;
  #open: { end: string | null; time: number; entries: Entry[] } | undefined;
  readonly #ready: Transaction[] = [];
  /** Changes in `#ready` not yet handed out. */
  #buffered = 0;
  /**
   * The table's columns in order, from the stream's relation message, each with whether it is a
   * 64-bit integer (which `pg`'s default parser, the decoder's, leaves as text).
   */
  #columns: { readonly name: string; readonly int8: boolean }[] = [];
  #room: (() => void) | undefined;
  readonly #waiting = new ReadWait(IDLE_MS);
  #statusTimer: NodeJS.Timeout | undefined;
  /** The connection `lag` asks on, once opened. */
  #lagClient: Promise<pg.Client> | undefined;
  #failure: SluiceError | undefined;
  #closed = false;
  /** Resolves when `close` begins: the stream loop stops waiting then. */
  readonly #closing: Promise<void>;
  #stopped: () => void = () => {};
  /** Settles once the connection being opened has started streaming or failed. */
  #connecting: Promise<void> = Promise.resolve();

  constructor(config: CdcSourceConfig, ctx: SourceContext, slot: string, start: CdcStart) {
    this.#config = config;
    this.#ctx = ctx;
    this.#log = ctx.log;
    this.#slot = slot;
    this.#table = tableName(config);
    this.#closing = new Promise((resolve) => {
      this.#stopped = resolve;
    });
    this.partition = `${this.#table.schema}.${this.#table.name}`;
    const p = start.position;
    this.#received = p.lsn;
    this.#delivered = p.lsn;
    this.#confirmed = p.lsn;
    this.#skip = p.partial ? { ...p.partial } : undefined;
    if (p.snapshot) {
      this.#snapshot = start.snapshotClient;
      this.#after = p.snapshot.after;
    } else this.#startStream();
  }

  async read(max: number, signal: AbortSignal): Promise<SourceBatch | null> {
    if (this.#closed) return null;
    if (this.#failure) throw this.#failure;
    if (this.#snapshot) return this.#readSnapshot(max);
    if (this.#ready.length === 0) {
      await this.#waiting.until(signal);
      if (this.#failure) throw this.#failure;
    }
    const records: Row[] = [];
    const kinds: RowKind[] = [];
    const times: number[] = [];
    const failures: DecodeFailure[] = [];
    while (this.#ready.length > 0 && records.length + failures.length < max) {
      const txn = this.#ready[0];
      let from = this.#partial?.commit === txn.end ? this.#partial.n : 0;
      if (from === 0 && this.#skip !== undefined && this.#skip.commit === txn.end) {
        from = Math.min(this.#skip.n, txn.entries.length);
        this.#buffered -= from;
      }
      this.#skip = undefined;
      const to = Math.min(txn.entries.length, from + (max - records.length - failures.length));
      for (let i = from; i < to; i++) {
        const e = txn.entries[i];
        if ('failure' in e) failures.push(e.failure);
        else {
          records.push(e.row);
          kinds.push(e.kind);
          times.push(txn.time);
        }
      }
      this.#buffered -= to - from;
      if (to < txn.entries.length) {
        this.#partial = { commit: txn.end, n: to };
        break;
      }
      this.#ready.shift();
      this.#delivered = txn.end;
      this.#partial = undefined;
    }
    if (this.#buffered * 2 < this.#config.max_buffered) this.#letIn();
    const batch: SourceBatch = { records, times, kinds };
    if (failures.length > 0) batch.failures = failures;
    return batch;
  }

  position(): CdcPosition {
    const position: { -readonly [K in keyof CdcPosition]: CdcPosition[K] } = {
      slot: this.#slot,
      lsn: this.#delivered,
    };
    if (this.#snapshot) position.snapshot = { after: this.#after };
    else if (this.#partial) position.partial = { ...this.#partial };
    else if (this.#skip) position.partial = { ...this.#skip };
    return position;
  }

  async commit(position: unknown): Promise<void> {
    if (!isCdcPosition(position) || position.snapshot !== undefined || position.slot !== this.#slot) return;
    this.#confirmed = laterLsn(this.#confirmed, position.lsn);
    this.#sendStatus();
  }

  /**
   * The slot's lag: the bytes of WAL between the server's current position and what the slot was
   * last confirmed to have (`pg_current_wal_lsn() - confirmed_flush_lsn`), which the server keeps
   * for this source. It grows with every change the pipeline has not checkpointed yet, of this
   * table or any other. Asked on a connection of its own, opened at the first call.
   */
  async lag(): Promise<SourceLag | undefined> {
    if (this.#closed) return undefined;
    this.#lagClient ??= this.#openLagClient();
    let client: pg.Client;
    try {
      client = await this.#lagClient;
    } catch (err) {
      this.#lagClient = undefined;
      throw err;
    }
    try {
      const { rows } = await client.query<{ lag: number | null }>(
        'SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::float8 AS lag FROM pg_replication_slots WHERE slot_name = $1',
        [this.#slot],
      );
      const lag = rows[0]?.lag;
      if (lag === undefined || lag === null) return undefined;
      return { unit: 'bytes', partitions: { [this.partition]: Math.max(0, lag) } };
    } catch (err) {
      // A broken connection is opened again at the next poll.
      this.#lagClient = undefined;
      await client.end().catch(() => {});
      throw err;
    }
  }

  async #openLagClient(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.#config.url,
      connectionTimeoutMillis: this.#config.connect_timeout,
      application_name: `sluice ${this.#ctx.id} lag`,
    });
    client.on('error', () => {});
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
    if (this.#closed) {
      await client.end().catch(() => {});
      throw new Error('the reader closed');
    }
    return client;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const lagClient = this.#lagClient;
    this.#lagClient = undefined;
    await lagClient?.then((c) => c.end()).catch(() => {});
    clearInterval(this.#statusTimer);
    this.#waiting.wake();
    this.#letIn();
    const snapshot = this.#snapshot;
    this.#snapshot = undefined;
    await snapshot?.end().catch(() => {});
    // Nothing unconfirmed is confirmed here: the slot keeps it for the next start.
    this.#stopped();
    const service = this.#service;
    if (service === undefined) return;
    // `stop()` ends only a connection that is open: let one being opened finish opening first.
    await Promise.race([this.#connecting, sleep(this.#config.connect_timeout)]);
    await service.destroy().catch(() => {});
  }

  // ------------------------------------------------------------------------------------------
  // The snapshot

  async #readSnapshot(max: number): Promise<SourceBatch> {
    const client = this.#snapshot!;
    const key = this.#config.key;
    const limit = Math.min(max, this.#config.snapshot_batch);
    const order = key.map(quoteIdent).join(', ');
    const after = this.#after;
    const sql =
      after === null
        ? `SELECT * FROM ${quoteTable(this.#config.table)} ORDER BY ${order} LIMIT ${limit}`
        : `SELECT * FROM ${quoteTable(this.#config.table)} WHERE (${order}) > (${key.map((_, i) => `$${i + 1}`).join(', ')}) ORDER BY ${order} LIMIT ${limit}`;
    let rows: Row[];
    try {
      const params = after === null ? [] : after.map((v) => columnText(v, 'other'));
      rows = (await client.query<Row>(sql, params)).rows;
    } catch (err) {
      throw new SluiceError(
        'SOURCE_UNAVAILABLE',
        `postgres source: reading the snapshot of table ${this.#config.table} failed: ${serverReason(err)}`,
        { step: this.#ctx.id, cause: err },
      );
    }
    const now = this.#ctx.clock.now();
    const batch: SourceBatch = {
      records: rows,
      times: rows.map(() => now),
      kinds: rows.map(() => INSERT),
    };
    if (rows.length > 0) {
      const last = rows[rows.length - 1];
      this.#after = key.map((k) => last[k]);
    }
    if (rows.length < limit) {
      // The table is read: the changes since the snapshot's consistent point follow.
      this.#snapshot = undefined;
      await client.query('COMMIT').catch(() => {});
      await client.end().catch(() => {});
      this.#log.info('postgres source: snapshot read; streaming changes', {
        table: this.#config.table,
        slot: this.#slot,
        from: this.#delivered,
      });
      this.#startStream();
    }
    return batch;
  }

  // ------------------------------------------------------------------------------------------
  // The stream

  #startStream(): void {
    const service = new LogicalReplicationService(
      { connectionString: this.#config.url, connectionTimeoutMillis: this.#config.connect_timeout },
      { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: true } },
    );
    service.on('data', (_lsn: string, message: Pgoutput.Message) => this.#take(message));
    service.on('heartbeat', (_lsn: string, _time: number, respond: boolean) => {
      if (respond) this.#sendStatus();
    });
    service.on('error', () => {
      // Reported by `subscribe`'s promise, which the loop below awaits.
    });
    this.#service = service;
    this.#statusTimer = setInterval(() => this.#sendStatus(), STATUS_EVERY_MS);
    this.#statusTimer.unref();
    void this.#stream(service);
  }

  async #stream(service: LogicalReplicationService): Promise<void> {
    const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [this.#publication()] });
    let attempt = 0;
    while (!this.#closed) {
      const from = this.#received;
      const opened = Date.now();
      try {
        // Settles once the stream has started, or the attempt has failed.
        let settle = () => {};
        this.#connecting = new Promise<void>((resolve) => {
          settle = resolve;
        });
        service.once('start', settle);
        const run = service.subscribe(plugin, this.#slot, from);
        const settled = () => {
          settle();
          service.off('start', settle);
        };
        run.then(settled, settled);
        await Promise.race([run, this.#closing]);
        if (this.#closed) return;
        this.#log.warn('postgres source: the replication stream ended; reconnecting', { slot: this.#slot });
      } catch (err) {
        if (this.#closed) return;
        const reason = serverReason(err);
        if (permanent(reason)) {
          this.#fail(
            new SluiceError(
              'SOURCE_UNAVAILABLE',
              `postgres source: cannot stream slot ${this.#slot}: ${reason}`,
              { step: this.#ctx.id, cause: err },
            ),
          );
          return;
        }
        this.#log.warn('postgres source: replication connection lost; reconnecting', {
          slot: this.#slot,
          reason,
        });
      }
      // A transaction cut off by the loss is received again whole.
      this.#open = undefined;
      attempt = Date.now() - opened > RECONNECT_MAX ? 1 : attempt + 1;
      await new Promise((resolve) =>
        setTimeout(resolve, backoffDelay(attempt, RECONNECT_FIRST, RECONNECT_MAX)),
      );
    }
  }

  #publication(): string {
    return this.#config.publication ?? this.#slot;
  }

  /** Handles one message of the stream; resolves once there is room for more. */
  #take(message: Pgoutput.Message): Promise<void> | undefined {
    switch (message.tag) {
      case 'begin':
        this.#open = {
          end: message.commitLsn,
          time: Number(message.commitTime.valueOf() / 1000n),
          entries: [],
        };
        return undefined;
      case 'relation':
        if (this.#ours(message))
          this.#columns = message.columns.map((c) => ({ name: c.name, int8: c.typeOid === 20 }));
        return undefined;
      case 'insert':
        if (this.#ours(message.relation)) this.#add(INSERT, this.#row(message.new));
        return undefined;
      case 'update': {
        if (!this.#ours(message.relation)) return undefined;
        const row = this.#row(message.new);
        if (this.#config.changelog === 'retract') {
          // REPLICA IDENTITY FULL (checked at start): the old row is whole.
          if (message.old !== null) this.#add(UPDATE_BEFORE, this.#row(message.old));
          this.#add(UPDATE_AFTER, row);
          return undefined;
        }
        const old = message.key ?? message.old;
        if (old !== null) {
          const before = this.#keyOf(this.#row(old));
          if (this.#config.key.some((k) => before[k] !== row[k])) this.#add(DELETE, before);
        }
        this.#add(UPDATE_AFTER, row);
        return undefined;
      }
      case 'delete': {
        if (!this.#ours(message.relation)) return undefined;
        const old = message.key ?? message.old;
        if (old === null) return undefined;
        const row = this.#row(old);
        this.#add(DELETE, this.#config.changelog === 'retract' ? row : this.#keyOf(row));
        return undefined;
      }
      case 'truncate':
        if (message.relations.some((r) => this.#ours(r)))
          this.#open?.entries.push({
            failure: {
              payload: `TRUNCATE ${this.#config.table}`,
              message: `table ${this.#config.table} was truncated: a TRUNCATE names no rows, so it cannot be given as deletes; the rows it removed remain downstream until they change again`,
            },
          });
        return undefined;
      case 'commit':
        return this.#commitTransaction(message.commitEndLsn);
      default:
        return undefined;
    }
  }

  #commitTransaction(commitEnd: string | null): Promise<void> | undefined {
    let end = commitEnd;
    const open = this.#open;
    this.#open = undefined;
    if (open === undefined || end === null) return undefined;
    // The decoder pads LSNs (`00000000/01E52F68`); positions keep the server's form (`0/1E52F68`).
    end = lsnText(lsnValue(end));
    // A transaction already received (before a reconnect) is not taken again.
    if (lsnValue(end) <= lsnValue(this.#received)) return undefined;
    this.#received = end;
    this.#ready.push({ end, time: open.time, entries: open.entries });
    this.#buffered += open.entries.length;
    this.#waiting.wake();
    if (this.#buffered >= this.#config.max_buffered) {
      // The pipeline asks for a checkpoint sooner, so that the slot can move on.
      this.#ctx.requestCheckpoint?.();
      return new Promise((resolve) => {
        this.#room = resolve;
      });
    }
    return undefined;
  }

  #ours(relation: Pgoutput.MessageRelation): boolean {
    return relation.schema === this.#table.schema && relation.name === this.#table.name;
  }

  /**
   * A record of a decoded tuple: its columns in table order (so that every record of the table has
   * one shape, which V8 handles far faster than copies of the decoder's prototype-less objects),
   * 64-bit integers as numbers or bigints, columns the tuple lacks (an unchanged TOASTed value, a
   * key-only old row) left out.
   */
  #row(tuple: Record<string, unknown>): Row {
    const row: Row = {};
    for (const { name, int8 } of this.#columns) {
      const v = tuple[name];
      if (v === undefined) continue;
      row[name] = int8 && typeof v === 'string' ? parseInt8(v) : v;
    }
    return row;
  }

  #keyOf(row: Row): Row {
    const key: Row = {};
    for (const k of this.#config.key) key[k] = row[k];
    return key;
  }

  #add(kind: RowKind, row: Row): void {
    this.#open?.entries.push({ kind, row });
  }

  /** Tells the server the confirmed LSN (written, flushed and applied, as a standby says it). */
  #sendStatus(): void {
    const service = this.#service;
    if (service === undefined || service.isStop()) return;
    // The library reports the LSN it is given plus one: give it the confirmed LSN minus one, so
    // that the server learns the confirmed LSN itself and skips exactly what ended at or before it.
    const value = lsnValue(this.#confirmed);
    if (value === 0n) return;
    service.acknowledge(lsnText(value - 1n)).catch(() => {});
  }

  #fail(err: SluiceError): void {
    this.#failure ??= err;
    this.#waiting.wake();
  }

  #letIn(): void {
    const room = this.#room;
    this.#room = undefined;
    room?.();
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/** Whether a replication failure will not pass by reconnecting (the slot or publication is gone). */
function permanent(reason: string): boolean {
  return /replication slot .* does not exist|publication .* does not exist|password authentication failed|permission denied|must be superuser or replication role/i.test(
    reason,
  );
}
