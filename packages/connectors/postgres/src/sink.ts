/**
 * The `postgres` sink: appends by COPY, or upserts and deletes rows by key from a changelog;
 * records the server refuses go to the dead letters with its reason, outages are retried.
 */

import {
  DELETE,
  type LateRejection,
  type Row,
  type Sink,
  type SinkBatch,
  type SinkContext,
  type SinkRejection,
  SluiceError,
  UPDATE_BEFORE,
} from '@sluice/core';
import type pg from 'pg';
import { OpenAppends } from './append-open.ts';
import { BINARY_HEADER, BINARY_TRAILER, BinaryRows } from './copy-binary.ts';
import { failureKind, serverReason } from './pg-errors.ts';
import {
  checkPreparedAllowed,
  finishPrepared,
  gidPrefix,
  type PreparedState,
  prepareTransaction,
  recoverPrepared,
} from './prepared.ts';
import { checkSinkConfig, type PostgresSinkConfig } from './sink-config.ts';
import { SinkConnection } from './sink-connection.ts';
import { chunks, copyInto, endpointOf, type Statement, statementSummary } from './sink-support.ts';
import { Statements } from './statements.ts';
import { createTable, TableProblem, tableColumns } from './table.ts';

/** The `postgres` sink (its spec, with what it does, is `postgresSink` in `sink-spec.ts`). */
export class PostgresSink implements Sink {
  readonly #config: PostgresSinkConfig;
  /** The write and control connections, with the write connection's transaction state. */
  readonly #conn: SinkConnection;
  #ctx: SinkContext | undefined;
  #statements: Statements | undefined;
  #records: readonly Row[] = [];
  /** `delivery: exactly_once`: the prefix of this sink's prepared transactions' ids. */
  #gids: string | undefined;
  /** Transactions prepared at checkpoints and not yet committed, oldest first. */
  #prepared: { checkpoint: number; gid: string }[] = [];
  /** `at_least_once` appends: the transaction and COPYs kept open across writes (`append-open.ts`). */
  #open: OpenAppends | undefined;
  /** The binary rows of a chunk being written outside the open transaction (one buffer, reused). */
  readonly #rows = new BinaryRows();

  constructor(config: PostgresSinkConfig) {
    checkSinkConfig(config);
    this.#config = config;
    this.#conn = new SinkConnection(config);
  }

  async open(ctx: SinkContext): Promise<void> {
    this.#ctx = ctx;
    this.#conn.context = ctx;
    const config = this.#config;
    try {
      const columns = await this.#conn.attempt('open the table', async (client) => {
        if (config.create_table) await createTable(client, config);
        return tableColumns(client, config);
      });
      if (config.delivery === 'exactly_once') {
        const prefix = gidPrefix(ctx.pipeline ?? 'sluice', ctx.id);
        const recovered = await this.#conn.attempt('recover prepared transactions', async (client) => {
          await checkPreparedAllowed(client, ctx.id);
          return recoverPrepared(client, prefix, ctx.restored);
        });
        this.#gids = prefix;
        this.#conn.exactlyOnce = true;
        if (recovered.committed + recovered.rolledBack > 0)
          ctx.log.info('postgres sink: finished the transactions a restart found prepared', recovered);
      }
      this.#statements = new Statements(config.table, columns, config.key);
      if (this.#keepsOpen) this.#open = new OpenAppends(this.#conn, this.#statements, config.batch_size);
    } catch (err) {
      await this.#conn.drop();
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
    if (this.#open?.due) await this.#open.commit();
    if (rejected.length === 0) return undefined;
    return rejected.sort((a, b) => a.index - b.index);
  }

  /**
   * at_least_once appends: the rows of earlier writes the server refused (found when a later
   * write, the checkpoint or the close ended or broke the COPY they went into).
   */
  takeRejections(): LateRejection[] | undefined {
    return this.#open?.takeRejections();
  }

  /** `at_least_once` appends keep one transaction and one COPY open across writes (`OpenAppends`). */
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
      await this.#open?.commit();
      return undefined;
    }
    this.#checkNotLost();
    if (this.#conn.inTransaction) {
      const gid = `${this.#gids}${checkpointId}`;
      await this.#conn.once('prepare the checkpoint’s transaction', (client) =>
        prepareTransaction(client, gid),
      );
      this.#conn.inTransaction = false;
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
      await this.#conn.control('commit the checkpoint’s transaction', (client) =>
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
        if (this.#conn.inTransaction)
          await this.#conn.once('commit the last writes', (client) => client.query('COMMIT'));
        this.#conn.inTransaction = false;
        await this.commit(Number.MAX_SAFE_INTEGER);
      } else await this.#open?.commit();
    } finally {
      await this.#conn.drop();
      await this.#conn.dropControl();
    }
  }

  /** Ends the connections: an open transaction rolls back; prepared ones stay for the next open. */
  async abort(): Promise<void> {
    this.#conn.inTransaction = false;
    this.#open?.reset();
    await this.#conn.drop();
    await this.#conn.dropControl();
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
    if (this.#open !== undefined) return this.#open.append(batch, all);
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
      await this.#conn.attempt(what, (client) =>
        this.#gids === undefined ? statement(client, indexes) : this.#guarded(client, statement, indexes),
      );
    } catch (err) {
      if (failureKind(err) !== 'record' || err instanceof SluiceError) throw this.#conn.fatal(err, what);
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
    if (!this.#conn.inTransaction) {
      await client.query('BEGIN');
      this.#conn.inTransaction = true;
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
    if (!this.#conn.lost) return;
    throw new SluiceError(
      'SINK_UNAVAILABLE',
      `postgres sink: the connection to ${this.#config.table}'s server broke with a transaction open; its writes since the last checkpoint are lost, so the job restarts from that checkpoint`,
      { step: this.#ctx?.id },
    );
  }

  #need(): Statements {
    if (!this.#statements) throw new SluiceError('INTERNAL', 'postgres sink: write before open');
    return this.#statements;
  }
}
