/**
 * The `postgres` sink: appends by COPY, or upserts and deletes rows by key from a changelog;
 * records the server refuses go to the dead letters with its reason, outages are retried.
 */

import { finished } from 'node:stream/promises';
import {
  DELETE,
  INSERT,
  type LateRejection,
  type Logger,
  type RetryPolicy,
  type Row,
  type RowKind,
  retry,
  retryPolicy,
  type Sink,
  type SinkBatch,
  type SinkContext,
  type SinkRejection,
  SluiceError,
  UPDATE_BEFORE,
} from '@sluice/core';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { BINARY_HEADER, BINARY_TRAILER, BinaryRows } from './copy-binary.ts';
import { CopyWindows, type Windows } from './copy-in.ts';
import { failureKind, serverReason, sinkError } from './pg-errors.ts';
import {
  checkPreparedAllowed,
  finishPrepared,
  gidPrefix,
  type PreparedState,
  prepareTransaction,
  recoverPrepared,
} from './prepared.ts';
import { checkSinkConfig, type PostgresSinkConfig } from './sink-config.ts';
import { Statements } from './statements.ts';
import { createTable, TableProblem, tableColumns } from './table.ts';

/** Where a URL points, without its credentials: for log lines. */
function endpointOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return '(unparsed url)';
  }
}

/** A statement over the records at some indexes of the batch being written. */
type Statement = (client: pg.Client, indexes: readonly number[]) => Promise<void>;

/**
 * `at_least_once` appends: the open transaction is committed once it holds this much COPY text
 * (bounding what its replay buffer holds) …
 */
const OPEN_BYTES = 8 * 1024 * 1024;
/** … or, at the end of a write, once it has been open this long (ms). */
const OPEN_MS = 1000;
/**
 * `at_least_once` appends: the COPY text of one COPY of the open transaction, at first and at
 * most (see `CopyWindows`: about two windows at most are unconfirmed by the server, so a slow
 * server holds the writes back). The least is small enough that a slow server stops the source
 * within about 64 KiB of rows (the conformance suite's slow-server test pushes about 120 KiB and
 * needs it stopped before all are read); the window grows while the server keeps up, as a COPY
 * statement costs the server milliseconds of its own (docs/benchmarks.md).
 */
const COPY_WINDOWS: Windows = { min: 32 * 1024, max: 1024 * 1024 };

/** The `postgres` sink (its spec, with what it does, is `postgresSink` in `sink-spec.ts`). */
export class PostgresSink implements Sink {
  readonly #config: PostgresSinkConfig;
  readonly #policy: RetryPolicy;
  #ctx: SinkContext | undefined;
  #log: Logger | undefined;
  #client: pg.Client | undefined;
  #statements: Statements | undefined;
  #records: readonly Row[] = [];
  /** `delivery: exactly_once`: the prefix of this sink's prepared transactions' ids. */
  #gids: string | undefined;
  /** Whether the write connection has a transaction open (exactly_once). */
  #inTransaction = false;
  /** The connection broke with a transaction open: its writes are gone, so no retry may hide that. */
  #lost = false;
  /** Transactions prepared at checkpoints and not yet committed, oldest first. */
  #prepared: { checkpoint: number; gid: string }[] = [];
  /**
   * `at_least_once` appends: the COPY kept open across writes inside the open transaction (see
   * `#appendOpen`), while it is.
   */
  #copy: CopyWindows | undefined;
  /** The window the last run of COPYs had grown or shrunk to: the next run's first. */
  #window = COPY_WINDOWS.min;
  /**
   * `at_least_once` appends: the batches written into the open transaction and not yet
   * committed, in order — what is written again, refused rows set apart, when the server refuses
   * a row or the connection breaks.
   */
  #kept: SinkBatch[] = [];
  /** The COPY length of `#kept` (text or binary). */
  #keptBytes = 0;
  /** The binary rows of a chunk being written (one buffer, reused). */
  readonly #rows = new BinaryRows();
  /**
   * at_least_once appends: a value with no binary form came in this transaction, so its COPYs
   * are of the text format until it commits.
   */
  #textUntilCommit = false;
  /** When the open transaction of `at_least_once` appends began (performance.now()). */
  #openedAt = 0;
  /** Rows of earlier writes the server refused, for `takeRejections`. */
  #late: LateRejection[] = [];

  constructor(config: PostgresSinkConfig) {
    checkSinkConfig(config);
    this.#config = config;
    this.#policy = {
      ...retryPolicy(config.retry),
      isRetryable: (err) => failureKind(err) === 'transient' && !this.#lost,
    };
  }

  async open(ctx: SinkContext): Promise<void> {
    this.#ctx = ctx;
    this.#log = ctx.log;
    const config = this.#config;
    try {
      const columns = await this.#attempt('open the table', async (client) => {
        if (config.create_table) await createTable(client, config);
        return tableColumns(client, config);
      });
      if (config.delivery === 'exactly_once') {
        const prefix = gidPrefix(ctx.pipeline ?? 'sluice', ctx.id);
        const recovered = await this.#attempt('recover prepared transactions', async (client) => {
          await checkPreparedAllowed(client, ctx.id);
          return recoverPrepared(client, prefix, ctx.restored);
        });
        this.#gids = prefix;
        if (recovered.committed + recovered.rolledBack > 0)
          ctx.log.info('postgres sink: finished the transactions a restart found prepared', recovered);
      }
      this.#statements = new Statements(config.table, columns, config.key);
    } catch (err) {
      await this.#drop();
      if (err instanceof TableProblem)
        throw new SluiceError('CONFIG_INVALID', `postgres sink: ${err.message}`, {
          step: ctx.id,
          path: err.path,
        });
      throw err;
    }
    ctx.log.info('postgres sink: writing', {
      at: endpointOf(config.url),
      table: config.table,
      mode: config.mode,
      delivery: config.delivery,
      dialect: config.dialect,
      statement: statementSummary(config, this.#statements),
    });
  }

  async write(batch: SinkBatch): Promise<SinkRejection[] | undefined> {
    this.#checkNotLost();
    const rejected: SinkRejection[] = [];
    this.#records = batch.records;
    try {
      if (this.#config.mode === 'append') await this.#append(batch, rejected);
      else await this.#changes(batch, rejected);
    } finally {
      this.#records = [];
    }
    if (
      this.#kept.length > 0 &&
      (this.#keptBytes >= OPEN_BYTES || performance.now() - this.#openedAt >= OPEN_MS)
    )
      await this.#commitOpen();
    if (rejected.length === 0) return undefined;
    return rejected.sort((a, b) => a.index - b.index);
  }

  /**
   * at_least_once appends: the rows of earlier writes the server refused (found when a later
   * write, the checkpoint or the close ended or broke the COPY they went into).
   */
  takeRejections(): LateRejection[] | undefined {
    if (this.#late.length === 0) return undefined;
    const late = this.#late;
    this.#late = [];
    return late;
  }

  /** `at_least_once` appends keep one transaction and one COPY open across writes (see `#appendOpen`). */
  get #keepsOpen(): boolean {
    return this.#config.mode === 'append' && this.#gids === undefined && this.#config.dialect !== 'redshift';
  }

  /**
   * exactly_once: prepares the transaction of the writes since the last checkpoint under an id
   * naming this checkpoint, and returns the ids prepared and not yet committed — what a restart
   * from this checkpoint commits. at_least_once: commits the appends' open transaction.
   */
  async prepareCommit(checkpointId: number): Promise<PreparedState | undefined> {
    if (this.#gids === undefined) {
      await this.#commitOpen();
      return undefined;
    }
    this.#checkNotLost();
    if (this.#inTransaction) {
      const gid = `${this.#gids}${checkpointId}`;
      await this.#once('prepare the checkpoint’s transaction', (client) => prepareTransaction(client, gid));
      this.#inTransaction = false;
      this.#prepared.push({ checkpoint: checkpointId, gid });
    }
    return { prepared: this.#prepared.map((p) => p.gid) };
  }

  /** exactly_once: commits the transactions prepared up to this (durable) checkpoint. */
  async commit(checkpointId: number): Promise<void> {
    if (this.#gids === undefined) return;
    while (this.#prepared.length > 0 && this.#prepared[0].checkpoint <= checkpointId) {
      const { gid } = this.#prepared[0];
      // COMMIT PREPARED cannot run inside a transaction, and writes may have opened one since the checkpoint.
      await this.#control('commit the checkpoint’s transaction', (client) =>
        finishPrepared(client, gid, 'COMMIT'),
      );
      this.#prepared.shift();
    }
  }

  async close(): Promise<void> {
    try {
      if (this.#gids !== undefined) {
        // A clean end publishes everything: the open transaction, and any prepared one not yet committed.
        this.#checkNotLost();
        if (this.#inTransaction)
          await this.#once('commit the last writes', (client) => client.query('COMMIT'));
        this.#inTransaction = false;
        await this.commit(Number.MAX_SAFE_INTEGER);
      } else await this.#commitOpen();
    } finally {
      await this.#drop();
      await this.#dropControl();
    }
  }

  /** Ends the connections: an open transaction rolls back; prepared ones stay for the next open. */
  async abort(): Promise<void> {
    this.#inTransaction = false;
    this.#copy = undefined;
    this.#kept = [];
    this.#keptBytes = 0;
    this.#late = [];
    await this.#drop();
    await this.#dropControl();
  }

  /** Appends every record by COPY, `batch_size` rows a statement, in order. */
  async #append(batch: SinkBatch, rejected: SinkRejection[]): Promise<void> {
    const statements = this.#need();
    const all = batch.records.map((_r, i) => i);
    if (this.#config.dialect === 'redshift') {
      // No COPY from the client: one multi-row INSERT per chunk, each committed on its own.
      const insert: Statement = async (client, indexes) => {
        const { text, values } = statements.insert(this.#records, indexes);
        await client.query(text, values);
      };
      for (const chunk of chunks(all, Math.min(this.#config.batch_size, statements.insertLimit)))
        await this.#bisect(insert, chunk, rejected, 'append');
      return;
    }
    if (this.#keepsOpen) return this.#appendOpen(batch, all);
    const copy: Statement = (client, indexes) => {
      const rows = this.#rows;
      const binary = statements.copyBinary;
      rows.reset();
      return binary !== undefined && statements.copyRows(rows, this.#records, indexes)
        ? copyInto(client, binary, Buffer.concat([BINARY_HEADER, rows.bytes, BINARY_TRAILER]))
        : copyInto(client, statements.copy, statements.copyText(this.#records, indexes));
    };
    for (const chunk of chunks(all, this.#config.batch_size))
      await this.#bisect(copy, chunk, rejected, 'append');
  }

  /**
   * at_least_once: sends the batch into the COPYs kept open across writes inside the open
   * transaction, and resolves once the text is on its way — or, when about two windows of it
   * (`COPY_WINDOWS`) are not yet confirmed by the server, once the older is (`CopyWindows`), so a
   * slow server holds the source back: the server's statement start and end and a round trip
   * per write cost more than half the time (a commit per write, a WAL flush each, more still;
   * see docs/benchmarks.md). The batch is kept until the commit. When the server refuses a row
   * it ends that COPY and the transaction aborts; the next write, or the checkpoint or close,
   * finds that (`CopyWindows.failure`) and writes every kept row again in a new
   * transaction with the refused ones set apart (`#rewrite`), reported by `takeRejections`. A
   * connection that breaks is opened again and the kept rows written the same way, so a resolved
   * write is never lost.
   */
  async #appendOpen(batch: SinkBatch, all: readonly number[]): Promise<void> {
    const statements = this.#need();
    if (this.#copy === undefined || this.#copy.failure !== undefined) await this.#reopen(true);
    // The batch's arrays belong to the runtime: kept as copies (the records themselves are not changed).
    const { records, times, kinds } = batch;
    this.#kept.push(
      kinds === undefined
        ? { records: records.slice(), times: times.slice() }
        : { records: records.slice(), times: times.slice(), kinds: kinds.slice() },
    );
    const copy = this.#copy;
    if (copy === undefined) throw new SluiceError('INTERNAL', 'postgres sink: no COPY open after reopening');
    for (const chunk of chunks(all, this.#config.batch_size)) {
      let data: string | Buffer;
      if (!copy.binary) data = statements.copyText(records, chunk);
      else {
        this.#rows.reset();
        if (!statements.copyRows(this.#rows, records, chunk)) {
          // A value with no binary form: this transaction goes on in text, the batch (kept) with it.
          this.#textUntilCommit = true;
          await copy.end().catch(() => {});
          return this.#reopen(true);
        }
        data = this.#rows.bytes;
      }
      this.#keptBytes += data.length;
      await copy.write(data);
      // The COPY ended on a refused row (of this or an earlier write): this batch is kept, so it is written again there.
      if (copy.failure !== undefined) return this.#reopen(true);
    }
  }

  /**
   * at_least_once appends: after the open COPY failed (or before the first), writes the kept rows
   * again in a new transaction, refused rows set apart, and opens a new COPY when `open`. Fails
   * for good on a failure that is neither a refused row nor an outage.
   */
  async #reopen(open: boolean): Promise<void> {
    const failure = this.#copy?.failure;
    if (this.#copy !== undefined) this.#window = this.#copy.window;
    this.#copy = undefined;
    if (failure !== undefined) {
      const kind = failureKind(failure);
      if (kind === 'transient') {
        this.#log?.warn('postgres sink: connection lost', { reason: serverReason(failure) });
        this.#broken();
        await this.#drop();
      } else if (kind !== 'record') throw this.#fatal(failure, 'append');
    }
    await this.#attempt('append', async (client) => {
      await this.#rewrite(client);
      if (!open) return;
      const statements = this.#need();
      const binary = this.#textUntilCommit ? undefined : statements.copyBinary;
      this.#copy = new CopyWindows(
        client,
        binary ?? statements.copy,
        COPY_WINDOWS,
        this.#window,
        binary !== undefined,
      );
    });
  }

  /**
   * at_least_once appends: begins a new transaction (rolling back the aborted one when the
   * connection survived it) and writes the kept rows into it, each refused row set apart with
   * the server's reason: one COPY when none is refused, else one statement behind a savepoint
   * up to each refused row (the server names its line) and bisection when it does not say. The
   * kept rows and the refusals change only when it succeeds, so a retry starts over.
   */
  async #rewrite(client: pg.Client): Promise<void> {
    if (this.#inTransaction) {
      this.#inTransaction = false;
      await client.query('ROLLBACK');
    }
    await client.query('BEGIN');
    this.#inTransaction = true;
    if (this.#kept.length === 0) {
      this.#openedAt = performance.now();
      this.#keptBytes = 0;
      return;
    }
    const kept = flatten(this.#kept);
    const refused: { index: number; message: string }[] = [];
    const statements = this.#need();
    const tryCopy = async (indexes: readonly number[]): Promise<unknown> => {
      await client.query('SAVEPOINT sluice_write');
      try {
        await copyInto(client, statements.copy, statements.copyText(kept.records, indexes));
      } catch (err) {
        if (failureKind(err) !== 'record') throw err;
        await client.query('ROLLBACK TO SAVEPOINT sluice_write');
        return err;
      }
      await client.query('RELEASE SAVEPOINT sluice_write');
      return undefined;
    };
    const bisect = async (indexes: readonly number[]): Promise<void> => {
      const err = await tryCopy(indexes);
      if (err === undefined) return;
      if (indexes.length === 1) {
        refused.push({ index: indexes[0], message: `postgres refused the row: ${serverReason(err)}` });
        return;
      }
      const mid = indexes.length >> 1;
      await bisect(indexes.slice(0, mid));
      await bisect(indexes.slice(mid));
    };
    let rest: readonly number[] = kept.records.map((_r, i) => i);
    while (rest.length > 0) {
      const err = await tryCopy(rest);
      if (err === undefined) break;
      const line = copyLine(err);
      if (line === undefined || line > rest.length) {
        await bisect(rest);
        break;
      }
      if (line > 1) await bisect(rest.slice(0, line - 1));
      await bisect([rest[line - 1]]);
      rest = rest.slice(line);
    }
    if (refused.length === 0) return;
    const out = new Set<number>();
    for (const r of refused) {
      out.add(r.index);
      const kind = kept.kinds?.[r.index];
      this.#late.push({
        record: kept.records[r.index],
        time: kept.times[r.index],
        ...(kind === undefined ? {} : { kind }),
        message: r.message,
      });
    }
    const records: Row[] = [];
    const times: number[] = [];
    const kinds: RowKind[] | undefined = kept.kinds === undefined ? undefined : [];
    for (let i = 0; i < kept.records.length; i++) {
      if (out.has(i)) continue;
      records.push(kept.records[i]);
      times.push(kept.times[i]);
      kinds?.push(kept.kinds![i]);
    }
    this.#kept =
      records.length === 0 ? [] : [kinds === undefined ? { records, times } : { records, times, kinds }];
  }

  /**
   * at_least_once appends: ends the open COPY and commits the open transaction — after writing
   * the kept rows again when the COPY failed on a refused row or the connection broke.
   */
  async #commitOpen(): Promise<void> {
    const copy = this.#copy;
    if (copy === undefined && this.#kept.length === 0 && !this.#inTransaction) return;
    if (copy !== undefined) {
      await copy.end().catch(() => {});
      if (copy.failure !== undefined) await this.#reopen(false);
      else {
        this.#window = copy.window;
        this.#copy = undefined;
      }
    }
    await this.#attempt('commit the appended rows', async (client) => {
      if (!this.#inTransaction) await this.#rewrite(client);
      await client.query('COMMIT');
      this.#inTransaction = false;
    });
    this.#kept = [];
    this.#keptBytes = 0;
    this.#textUntilCommit = false;
  }

  /**
   * Applies a changelog batch: the changes of each key fold to its last (an UPDATE_BEFORE and its
   * UPDATE_AFTER become the upsert of the new row; a DELETE or a lone UPDATE_BEFORE removes the
   * row), so the keys are distinct and one DELETE and one INSERT … ON CONFLICT per chunk leave
   * the table as applying the changes in order would. When a key's last change is refused, its
   * earlier changes in the batch are applied one by one, in order.
   */
  async #changes(batch: SinkBatch, rejected: SinkRejection[]): Promise<void> {
    const statements = this.#need();
    const { records, kinds } = batch;
    const removes = (i: number) => kinds !== undefined && (kinds[i] === DELETE || kinds[i] === UPDATE_BEFORE);
    const last = new Map<string, number>();
    let earlier: Map<string, number[]> | undefined;
    for (let i = 0; i < records.length; i++) {
      const key = statements.keyText(records[i]);
      const before = last.get(key);
      if (before !== undefined) {
        earlier ??= new Map();
        const list = earlier.get(key);
        if (list) list.push(before);
        else earlier.set(key, [before]);
      }
      last.set(key, i);
    }
    const deletes: number[] = [];
    const upserts: number[] = [];
    for (const i of last.values()) (removes(i) ? deletes : upserts).push(i);
    const del = this.#changeStatement(statements, true);
    const ins = this.#changeStatement(statements, false);
    const size = this.#config.batch_size;
    const found: SinkRejection[] = [];
    for (const chunk of chunks(deletes, Math.min(size, statements.deleteLimit)))
      await this.#bisect(del, chunk, found, 'delete');
    for (const chunk of chunks(upserts, Math.min(size, statements.insertLimit)))
      await this.#bisect(ins, chunk, found, 'upsert');
    rejected.push(...found);
    if (earlier === undefined) return;
    for (const r of found) {
      const previous = earlier.get(statements.keyText(records[r.index]));
      if (previous === undefined) continue;
      for (const i of previous)
        await this.#bisect(removes(i) ? del : ins, [i], rejected, removes(i) ? 'delete' : 'upsert');
    }
  }

  #changeStatement(statements: Statements, remove: boolean): Statement {
    if (!remove && this.#config.dialect === 'redshift') return this.#stagedUpsert(statements);
    return async (client, indexes) => {
      const { text, values } = remove
        ? statements.delete(this.#records, indexes)
        : statements.upsert(this.#records, indexes);
      await client.query(text, values);
    };
  }

  /**
   * The `redshift` dialect's upsert, without `ON CONFLICT`: the rows staged in the session's
   * temporary table, then the target's rows of their keys deleted and the staged rows inserted,
   * in one transaction (atomic, as the bisection needs: a refused row writes nothing; readers
   * never see a key missing). The keys are distinct (see `#changes`).
   */
  #stagedUpsert(statements: Statements): Statement {
    const { clear, remove, insert } = statements.applyStage;
    return async (client, indexes) => {
      const staged = statements.insert(this.#records, indexes, Statements.STAGE);
      await client.query('BEGIN');
      try {
        await client.query(statements.createStage);
        await client.query(clear);
        await client.query(staged.text, staged.values);
        await client.query(remove);
        await client.query(insert);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      }
    };
  }

  /**
   * Runs `statement` over `indexes`; when the server refuses a record of them, tries each half
   * (each statement is atomic, so a refused one wrote nothing) until the refused records are
   * found one by one, each rejected with the server's reason: k refused records among n cost
   * about 2k·log2(n) statements more.
   */
  async #bisect(statement: Statement, indexes: readonly number[], rejected: SinkRejection[], what: string) {
    try {
      await this.#attempt(what, (client) =>
        this.#gids === undefined ? statement(client, indexes) : this.#guarded(client, statement, indexes),
      );
    } catch (err) {
      if (failureKind(err) !== 'record' || err instanceof SluiceError) throw this.#fatal(err, what);
      if (indexes.length === 1) {
        rejected.push({ index: indexes[0], message: `postgres refused the row: ${serverReason(err)}` });
        return;
      }
      const mid = indexes.length >> 1;
      await this.#bisect(statement, indexes.slice(0, mid), rejected, what);
      await this.#bisect(statement, indexes.slice(mid), rejected, what);
    }
  }

  /**
   * exactly_once: runs `statement` inside the checkpoint's transaction (opened by the first
   * statement after a checkpoint), behind a savepoint, so that a refused row undoes only this
   * statement and the bisection can go on in the same transaction.
   */
  async #guarded(client: pg.Client, statement: Statement, indexes: readonly number[]): Promise<void> {
    if (!this.#inTransaction) {
      await client.query('BEGIN');
      this.#inTransaction = true;
    }
    await client.query('SAVEPOINT sluice_write');
    try {
      await statement(client, indexes);
    } catch (err) {
      if (failureKind(err) === 'record') await client.query('ROLLBACK TO SAVEPOINT sluice_write');
      throw err;
    }
    await client.query('RELEASE SAVEPOINT sluice_write');
  }

  /**
   * exactly_once: fails once the connection broke with a transaction open (found by a statement
   * or by the client's error event between writes): the writes since the last checkpoint are
   * gone, and only a restart from that checkpoint writes them again.
   */
  #checkNotLost(): void {
    if (!this.#lost) return;
    throw new SluiceError(
      'SINK_UNAVAILABLE',
      `postgres sink: the connection to ${this.#config.table}'s server broke with a transaction open; its writes since the last checkpoint are lost, so the job restarts from that checkpoint`,
      { step: this.#ctx?.id },
    );
  }

  /** Runs `fn` once on the write connection: a failure is final (a transaction there would be lost anyway). */
  async #once<T>(what: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
    try {
      return await fn(await this.#connected());
    } catch (err) {
      // A failed PREPARE or COMMIT ends the transaction: its writes are gone.
      this.#broken();
      await this.#drop();
      throw this.#fatal(err, what);
    }
  }

  /** Runs `fn` on the control connection (no transaction ever open there), retrying outages. */
  async #control(what: string, fn: (client: pg.Client) => Promise<void>): Promise<void> {
    const policy: RetryPolicy = {
      ...retryPolicy(this.#config.retry),
      isRetryable: (e) => failureKind(e) === 'transient',
    };
    try {
      await retry(
        async () => {
          this.#controlClient ??= this.#newClient();
          const client = await this.#controlClient;
          try {
            await fn(client);
          } catch (err) {
            if (failureKind(err) === 'transient') await this.#dropControl();
            throw err;
          }
        },
        policy,
        this.#ctx?.signal,
      );
    } catch (err) {
      throw this.#fatal(err, what);
    }
  }

  #controlClient: Promise<pg.Client> | undefined;

  async #dropControl(): Promise<void> {
    const client = this.#controlClient;
    this.#controlClient = undefined;
    await client?.then((c) => c.end()).catch(() => {});
  }

  /**
   * Runs `fn` on a connected client, retrying transient failures (connecting again each time)
   * with capped backoff and jitter. Rejects with a record or setup failure as the server gave it,
   * and with SINK_UNAVAILABLE once the retries are spent.
   */
  async #attempt<T>(what: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
    const ctx = this.#ctx;
    const policy: RetryPolicy = {
      ...this.#policy,
      onRetry: (err, attempt, delay) =>
        this.#log?.warn('postgres sink: retrying', {
          what,
          attempt,
          delay_ms: delay,
          reason: serverReason(err),
        }),
    };
    try {
      return await retry(
        async () => {
          const client = await this.#connected();
          try {
            return await fn(client);
          } catch (err) {
            if (failureKind(err) === 'transient') {
              this.#broken();
              await this.#drop();
            }
            throw err;
          }
        },
        policy,
        ctx?.signal,
      );
    } catch (err) {
      if (failureKind(err) === 'record' || err instanceof TableProblem) throw err;
      throw this.#fatal(err, what);
    }
  }

  /**
   * The write connection broke, or a statement ended its transaction: an open exactly_once
   * transaction is lost for good; at_least_once appends write their kept rows again.
   */
  #broken(): void {
    if (this.#inTransaction && this.#gids !== undefined) this.#lost = true;
    this.#inTransaction = false;
  }

  #fatal(err: unknown, what: string): SluiceError {
    return sinkError(err, this.#ctx?.id ?? 'postgres', `${what} into ${this.#config.table}`);
  }

  async #connected(): Promise<pg.Client> {
    if (this.#client) return this.#client;
    const client = await this.#newClient();
    this.#client = client;
    return client;
  }

  /** A connected client whose loss between statements is logged (the next statement then fails). */
  async #newClient(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.#config.url,
      connectionTimeoutMillis: this.#config.connect_timeout,
      application_name: `sluice ${this.#ctx?.id ?? 'sink'}`,
    });
    // A connection that breaks between statements emits 'error'; the next statement then fails and reconnects.
    client.on('error', (err) => {
      this.#log?.warn('postgres sink: connection lost', { reason: serverReason(err) });
      if (this.#client === client) {
        this.#client = undefined;
        this.#broken();
      }
    });
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
    return client;
  }

  async #drop(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => {});
  }

  #need(): Statements {
    if (!this.#statements) throw new SluiceError('INTERNAL', 'postgres sink: write before open');
    return this.#statements;
  }
}

/** The kept batches as one run of records, times and kinds (kinds when any batch has them). */
function flatten(batches: readonly SinkBatch[]): { records: Row[]; times: number[]; kinds?: RowKind[] } {
  if (batches.length === 1) {
    const [b] = batches;
    return { records: [...b.records], times: [...b.times], ...(b.kinds ? { kinds: [...b.kinds] } : {}) };
  }
  const records: Row[] = [];
  const times: number[] = [];
  const withKinds = batches.some((b) => b.kinds !== undefined);
  const kinds: RowKind[] | undefined = withKinds ? [] : undefined;
  for (const b of batches) {
    for (let i = 0; i < b.records.length; i++) {
      records.push(b.records[i]);
      times.push(b.times[i]);
      kinds?.push(b.kinds?.[i] ?? INSERT);
    }
  }
  return kinds === undefined ? { records, times } : { records, times, kinds };
}

/**
 * The line of the COPY's text the server refused (1-based), from its error's context
 * (`COPY t, line 7, column x: …`), or undefined when it does not say (another language).
 */
function copyLine(err: unknown): number | undefined {
  const where = typeof err === 'object' && err !== null && 'where' in err ? err.where : undefined;
  if (typeof where !== 'string') return undefined;
  const m = /^COPY [^\n]*?, line (\d+)/.exec(where);
  return m === null ? undefined : Number(m[1]);
}

/** Runs one `COPY … FROM STDIN` of `text`. */
async function copyInto(client: pg.Client, statement: string, data: string | Buffer): Promise<void> {
  const stream = client.query(copyFrom(statement));
  stream.end(data);
  await finished(stream);
}

/** `indexes` in runs of at most `size`. */
function* chunks(indexes: readonly number[], size: number): Generator<readonly number[]> {
  if (indexes.length <= size) {
    if (indexes.length > 0) yield indexes;
    return;
  }
  for (let from = 0; from < indexes.length; from += size) yield indexes.slice(from, from + size);
}

/** The statements a sink sends, for its startup log line. */
function statementSummary(config: PostgresSinkConfig, statements: Statements): string {
  if (config.dialect === 'redshift')
    return config.mode === 'append'
      ? 'INSERT … VALUES'
      : 'staged INSERT, DELETE … USING, INSERT … SELECT / DELETE';
  return config.mode === 'append'
    ? (statements.copyBinary ?? statements.copy)
    : 'INSERT … ON CONFLICT / DELETE';
}
