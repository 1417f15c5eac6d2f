/**
 * The `duckdb` sink: stages each write's changes in a table of the database file, and publishes
 * the changes of a checkpoint into the target table, with the checkpoint's id, in one DuckDB
 * transaction once the checkpoint is durable.
 */

import type { DuckDBAppender, DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import {
  INSERT,
  type Logger,
  type RetryPolicy,
  retry,
  retryPolicy,
  type Sink,
  type SinkBatch,
  type SinkContext,
  type SinkRejection,
  SluiceError,
} from '@sluice/core';
import { databasePath, openDatabase } from './database.ts';
import { failureKind, reasonOf } from './errors.ts';
import { QueryServer } from './query.ts';
import { checkSinkConfig, type DuckdbSinkConfig } from './sink-config.ts';
import { CHECKPOINTS_TABLE, type Column, literal, quote, Statements } from './statements.ts';

/** What `prepareCommit` returns: the checkpoint whose staged changes a restart publishes. */
export interface DuckdbSinkState {
  readonly checkpoint: number;
}

/** Letters, digits and `_` of `text`, for a table name. */
function sanitize(text: string): string {
  return text.replace(/[^A-Za-z0-9_]/g, '_');
}

/** The `duckdb` sink (its spec, with what it does, is `duckdbSink` in `sink-spec.ts`). */
export class DuckdbSink implements Sink {
  readonly #config: DuckdbSinkConfig;
  readonly #policy: RetryPolicy;
  #ctx: SinkContext | undefined;
  #log: Logger | undefined;
  #instance: DuckDBInstance | undefined;
  #conn: DuckDBConnection | undefined;
  #statements: Statements | undefined;
  /** This sink's row in the checkpoints table: `<pipeline>/<sink id>`. */
  #name = '';
  /** The sequence number of the next staged change. */
  #seq = 0;
  /** Checkpoints prepared (their changes marked) and not yet published, oldest first. */
  #prepared: number[] = [];
  #server: QueryServer | undefined;
  /**
   * The Appender of the staging table, open from the first write after a checkpoint to the next
   * `prepareCommit` (a flush commits, so one per write would cost a commit per write).
   */
  #appender: DuckDBAppender | undefined;
  /** Sequence numbers of staged rows whose value DuckDB refused: deleted at the next flush. */
  #refusedSeqs: number[] = [];

  constructor(config: DuckdbSinkConfig) {
    checkSinkConfig(config);
    this.#config = config;
    this.#policy = { ...retryPolicy(config.retry), isRetryable: (err) => failureKind(err) === 'transient' };
  }

  async open(ctx: SinkContext): Promise<void> {
    this.#ctx = ctx;
    this.#log = ctx.log;
    const config = this.#config;
    const path = databasePath(config.path, ctx.baseDir);
    this.#name = `${ctx.pipeline ?? 'sluice'}/${ctx.id}`;
    try {
      this.#instance = await this.#retry('open the database', () => openDatabase(path));
      const conn = await this.#instance.connect();
      this.#conn = conn;
      if (config.create_table && config.columns) {
        const cols = Object.entries(config.columns).map(([name, type]) => `${quote(name)} ${type}`);
        if (config.key) cols.push(`PRIMARY KEY (${config.key.map(quote).join(', ')})`);
        await conn.run(`CREATE TABLE IF NOT EXISTS ${quote(config.table)} (${cols.join(', ')})`);
      }
      const columns = await this.#columns(conn);
      const stage = `_sluice_stage_${sanitize(config.table)}_${sanitize(this.#name)}`;
      const statements = new Statements(config.table, stage, columns, config.key);
      this.#statements = statements;
      await conn.run(
        `CREATE TABLE IF NOT EXISTS ${CHECKPOINTS_TABLE} (sink VARCHAR PRIMARY KEY, checkpoint BIGINT NOT NULL, published_at TIMESTAMP NOT NULL)`,
      );
      await conn.run(statements.createStage());
      await this.#recover(ctx.restored as DuckdbSinkState | undefined);
      const seq = await conn.runAndReadAll(
        `SELECT coalesce(max(_sluice_seq) + 1, 0) AS n FROM ${statements.stage}`,
      );
      this.#seq = Number(seq.getRowObjectsJS()[0].n);
    } catch (err) {
      this.#drop();
      if (err instanceof SluiceError) throw err;
      throw new SluiceError(
        'CONFIG_INVALID',
        `duckdb sink: cannot open ${config.table} in ${config.path}: ${reasonOf(err)}`,
        {
          step: ctx.id,
          path: 'table',
          cause: err,
        },
      );
    }
    if (config.serve_queries && this.#instance) {
      if (ctx.stateDir) this.#server = await QueryServer.start(this.#instance, ctx.stateDir);
      else ctx.log.warn('duckdb sink: serve_queries needs a job (a state folder); not serving queries');
    }
    ctx.log.info('duckdb sink: writing', { path: config.path, table: config.table, mode: config.mode });
  }

  /**
   * Stages the batch's changes through DuckDB's Appender (flushed at the next checkpoint or the
   * end). A record missing a NOT NULL value is not staged; one with a value DuckDB will not cast
   * is staged as NULLs and deleted again by its sequence number at the flush; each is rejected
   * with the reason, the rest of the batch is written.
   */
  write(batch: SinkBatch): Promise<SinkRejection[] | undefined> {
    return this.#serial(() => this.#write(batch));
  }

  async #write(batch: SinkBatch): Promise<SinkRejection[] | undefined> {
    const statements = this.#need();
    const rejected: SinkRejection[] = [];
    const { records, kinds } = batch;
    try {
      this.#appender ??= await this.#connection().createAppender(statements.stageName);
      const appender = this.#appender;
      for (let i = 0; i < records.length; i++) {
        const kind = kinds?.[i] ?? INSERT;
        const missing = statements.missing(records[i], kind);
        if (missing !== undefined) {
          rejected.push({ index: i, message: `duckdb refused the row: ${missing}` });
          continue;
        }
        const seq = this.#seq++;
        const failure = statements.append(appender, records[i], seq, kind);
        if (failure === undefined) continue;
        rejected.push({ index: i, message: `duckdb refused the row: ${failure}` });
        this.#refusedSeqs.push(seq);
      }
    } catch (err) {
      throw this.#stageError(err);
    }
    return rejected.length === 0 ? undefined : rejected;
  }

  /**
   * Flushes the Appender (its rows commit; they cast already, and the staging table has no
   * constraints, so nothing is refused here) and deletes the rows of refused values.
   */
  async #flush(): Promise<void> {
    const appender = this.#appender;
    this.#appender = undefined;
    try {
      if (appender) {
        appender.flushSync();
        appender.closeSync();
      }
      if (this.#refusedSeqs.length > 0) {
        await this.#connection().run(
          `DELETE FROM ${this.#need().stage} WHERE _sluice_seq IN (${this.#refusedSeqs.join(', ')})`,
        );
        this.#refusedSeqs = [];
      }
    } catch (err) {
      throw this.#stageError(err);
    }
  }

  #stageError(err: unknown): SluiceError {
    return new SluiceError(
      'SINK_UNAVAILABLE',
      `duckdb sink: could not stage the records (${this.#config.table} in ${this.#config.path}): ${reasonOf(err)}`,
      { step: this.#ctx?.id, cause: err },
    );
  }

  /** Marks the changes staged since the last checkpoint as this checkpoint's; they stay unpublished. */
  prepareCommit(checkpointId: number): Promise<DuckdbSinkState> {
    return this.#serial(() => this.#prepareCommit(checkpointId));
  }

  async #prepareCommit(checkpointId: number): Promise<DuckdbSinkState> {
    const statements = this.#need();
    await this.#flush();
    await this.#retry('mark the checkpoint’s changes', () =>
      this.#connection().run(statements.mark(checkpointId)),
    );
    this.#prepared.push(checkpointId);
    return { checkpoint: checkpointId };
  }

  /** The checkpoint is durable: publishes its changes (and any older prepared ones) in one transaction. */
  commit(checkpointId: number): Promise<void> {
    return this.#serial(() => this.#commit(checkpointId));
  }

  async #commit(checkpointId: number): Promise<void> {
    if (!this.#prepared.some((c) => c <= checkpointId)) return;
    await this.#publish(checkpointId, checkpointId);
    this.#prepared = this.#prepared.filter((c) => c > checkpointId);
  }

  /** A clean end: publishes every staged change, then releases the connection. */
  close(): Promise<void> {
    return this.#serial(() => this.#close());
  }

  async #close(): Promise<void> {
    try {
      if (this.#statements) {
        await this.#flush();
        await this.#publish(undefined, this.#prepared.at(-1));
      }
    } finally {
      this.#drop();
    }
  }

  /** Publishes nothing: staged changes stay for the next `open`, which publishes or drops them by its checkpoint. */
  async abort(): Promise<void> {
    this.#drop();
  }

  /**
   * After a restart from checkpoint `restored`: publishes the changes staged up to it (prepared,
   * not yet published when the job stopped), and drops those after it (the job writes them again).
   */
  async #recover(restored: DuckdbSinkState | undefined): Promise<void> {
    const conn = this.#connection();
    const statements = this.#need();
    const published = await conn.runAndReadAll(
      `SELECT checkpoint FROM ${CHECKPOINTS_TABLE} WHERE sink = ${literal(this.#name)}`,
    );
    const last = published.getRowObjectsJS()[0]?.checkpoint;
    const restoredId = restored?.checkpoint;
    if (last !== undefined && (restoredId === undefined || Number(last) > restoredId))
      this.#log?.warn(
        'duckdb sink: the table holds writes of a later checkpoint than the one restored; they will be written again',
        {
          published: Number(last),
          restored: restoredId ?? null,
        },
      );
    if (restoredId !== undefined) await this.#publish(restoredId, restoredId);
    await conn.run(statements.discardAfter(restoredId));
    // The stage is empty now: made again, so it has the columns of this run's table (they may have changed).
    await conn.run(`DROP TABLE ${statements.stage}`);
    await conn.run(statements.createStage());
  }

  /**
   * Publishes the staged changes up to `upTo` (all when undefined) and records `marker` as this
   * sink's published checkpoint, in one transaction; retried as a whole.
   */
  async #publish(upTo: number | undefined, marker: number | undefined): Promise<void> {
    const statements = this.#need();
    const what = 'publish the checkpoint’s changes';
    await this.#retry(what, async () => {
      const conn = this.#connection();
      await conn.run('BEGIN TRANSACTION');
      try {
        for (const sql of statements.publish(upTo)) await conn.run(sql);
        if (marker !== undefined)
          await conn.run(
            `INSERT OR REPLACE INTO ${CHECKPOINTS_TABLE} VALUES (${literal(this.#name)}, ${marker}, now()::TIMESTAMP)`,
          );
        await conn.run('COMMIT');
      } catch (err) {
        await conn.run('ROLLBACK').catch(() => {});
        // Staged values all cast; what DuckDB refuses now is the table's (a duplicate primary key of an append).
        if (failureKind(err) === 'record')
          throw new SluiceError(
            'SINK_REJECTED',
            `duckdb sink: could not ${what} into ${this.#config.table}: ${reasonOf(err)}`,
            {
              step: this.#ctx?.id,
              cause: err,
            },
          );
        throw err;
      }
    });
  }

  /** The columns written: `columns` when declared (each must exist), else every column of the table. */
  async #columns(conn: DuckDBConnection): Promise<Column[]> {
    const config = this.#config;
    const result = await conn.runAndReadAll(
      `SELECT column_name, data_type, is_nullable FROM duckdb_columns() WHERE schema_name = 'main' AND table_name = ${literal(config.table)} ORDER BY column_index`,
    );
    const found: Column[] = result.getRowObjectsJS().map((r) => ({
      name: String(r.column_name),
      type: String(r.data_type),
      nullable: Boolean(r.is_nullable),
    }));
    if (found.length === 0)
      throw new SluiceError(
        'CONFIG_INVALID',
        `duckdb sink: no table ${config.table} in ${config.path}; create it, or set \`create_table: true\` with \`columns\``,
        { step: this.#ctx?.id, path: 'table' },
      );
    if (config.columns === undefined) return found;
    return Object.keys(config.columns).map((name) => {
      const column = found.find((c) => c.name === name);
      if (!column)
        throw new SluiceError('CONFIG_INVALID', `duckdb sink: table ${config.table} has no column ${name}`, {
          step: this.#ctx?.id,
          path: `columns.${name}`,
        });
      return column;
    });
  }

  /** Runs `fn`, retrying what may pass (a file locked by another process) with capped backoff and jitter. */
  async #retry<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const policy: RetryPolicy = {
      ...this.#policy,
      onRetry: (err, attempt, delay) =>
        this.#log?.warn('duckdb sink: retrying', { what, attempt, delay_ms: delay, reason: reasonOf(err) }),
    };
    try {
      return await retry(fn, policy, this.#ctx?.signal);
    } catch (err) {
      const kind = failureKind(err);
      if (kind === 'record' || err instanceof SluiceError) throw err;
      throw new SluiceError(
        'SINK_UNAVAILABLE',
        `duckdb sink: could not ${what} (${this.#config.table} in ${this.#config.path}): ${reasonOf(err)}`,
        { step: this.#ctx?.id, cause: err },
      );
    }
  }

  /**
   * Runs `fn` after every earlier call has settled: the runtime commits a durable checkpoint while
   * writes go on, and one DuckDB connection runs one statement (or appender) at a time.
   */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  #queue: Promise<unknown> = Promise.resolve();

  #connection(): DuckDBConnection {
    if (!this.#conn) throw new SluiceError('INTERNAL', 'duckdb sink: used before open or after close');
    return this.#conn;
  }

  #need(): Statements {
    if (!this.#statements) throw new SluiceError('INTERNAL', 'duckdb sink: write before open');
    return this.#statements;
  }

  #drop(): void {
    // Closing an Appender flushes it: what it holds is discarded first (a clean end flushed it already).
    try {
      this.#appender?.clear();
      this.#appender?.closeSync();
    } catch {}
    this.#appender = undefined;
    this.#refusedSeqs = [];
    void this.#server?.close();
    this.#server = undefined;
    this.#conn?.closeSync();
    this.#conn = undefined;
    this.#statements = undefined;
  }
}
