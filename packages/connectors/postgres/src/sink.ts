/**
 * The `postgres` sink: appends by COPY, or upserts and deletes rows by key from a changelog;
 * records the server refuses go to the dead letters with its reason, outages are retried.
 */

import { finished } from 'node:stream/promises';
import {
  DELETE,
  defineSink,
  type Logger,
  type RetryPolicy,
  type Row,
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
import { failureKind, serverReason, sinkError } from './pg-errors.ts';
import { checkSinkConfig, type PostgresSinkConfig, postgresSinkConfig } from './sink-config.ts';
import { Statements } from './statements.ts';
import { createTableSql, TableProblem, tableColumns } from './table.ts';

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

class PostgresSink implements Sink {
  readonly #config: PostgresSinkConfig;
  readonly #policy: RetryPolicy;
  #ctx: SinkContext | undefined;
  #log: Logger | undefined;
  #client: pg.Client | undefined;
  #statements: Statements | undefined;
  #records: readonly Row[] = [];

  constructor(config: PostgresSinkConfig) {
    checkSinkConfig(config);
    this.#config = config;
    this.#policy = { ...retryPolicy(config.retry), isRetryable: (err) => failureKind(err) === 'transient' };
  }

  async open(ctx: SinkContext): Promise<void> {
    this.#ctx = ctx;
    this.#log = ctx.log;
    const config = this.#config;
    try {
      const columns = await this.#attempt('open the table', async (client) => {
        if (config.create_table) await client.query(createTableSql(config));
        return tableColumns(client, config);
      });
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
      columns: this.#statements.copy,
    });
  }

  async write(batch: SinkBatch): Promise<SinkRejection[] | undefined> {
    const rejected: SinkRejection[] = [];
    this.#records = batch.records;
    try {
      if (this.#config.mode === 'append') await this.#append(batch, rejected);
      else await this.#changes(batch, rejected);
    } finally {
      this.#records = [];
    }
    if (rejected.length === 0) return undefined;
    return rejected.sort((a, b) => a.index - b.index);
  }

  async close(): Promise<void> {
    await this.#drop();
  }

  async abort(): Promise<void> {
    await this.#drop();
  }

  /** Appends every record by COPY, `batch_size` rows a statement, in order. */
  async #append(batch: SinkBatch, rejected: SinkRejection[]): Promise<void> {
    const statements = this.#need();
    const copy: Statement = async (client, indexes) => {
      const stream = client.query(copyFrom(statements.copy));
      stream.end(statements.copyText(this.#records, indexes));
      await finished(stream);
    };
    const all = batch.records.map((_r, i) => i);
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
    return async (client, indexes) => {
      const { text, values } = remove
        ? statements.delete(this.#records, indexes)
        : statements.upsert(this.#records, indexes);
      await client.query(text, values);
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
      await this.#attempt(what, (client) => statement(client, indexes));
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
            if (failureKind(err) === 'transient') await this.#drop();
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

  #fatal(err: unknown, what: string): SluiceError {
    return sinkError(err, this.#ctx?.id ?? 'postgres', `${what} into ${this.#config.table}`);
  }

  async #connected(): Promise<pg.Client> {
    if (this.#client) return this.#client;
    const client = new pg.Client({
      connectionString: this.#config.url,
      connectionTimeoutMillis: this.#config.connect_timeout,
      application_name: `sluice ${this.#ctx?.id ?? 'sink'}`,
    });
    // A connection that breaks between statements emits 'error'; the next statement then fails and reconnects.
    client.on('error', (err) => {
      this.#log?.warn('postgres sink: connection lost', { reason: serverReason(err) });
      if (this.#client === client) this.#client = undefined;
    });
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
    this.#client = client;
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

/** `indexes` in runs of at most `size`. */
function* chunks(indexes: readonly number[], size: number): Generator<readonly number[]> {
  if (indexes.length <= size) {
    if (indexes.length > 0) yield indexes;
    return;
  }
  for (let from = 0; from < indexes.length; from += size) yield indexes.slice(from, from + size);
}

/** The `postgres` sink spec. */
export const postgresSink = defineSink({
  type: 'postgres',
  summary: 'Writes records to a PostgreSQL table: appends by COPY, or upserts and deletes rows by key.',
  description: [
    'Each record becomes a row of `table`, each column taken from the record field of the same',
    'name (a missing field is NULL; fields without a column are not written). Values are sent as',
    'text and the server converts them to the column types: strings as they are (into a `json`',
    'column a string must be JSON text), numbers, booleans, dates; an array into an array column',
    'as an array literal, any other object or array as JSON (for `json`/`jsonb` columns).',
    '',
    '- `mode: append` writes each write’s records with `COPY … FROM STDIN`, `batch_size` rows per',
    '  statement, in order.',
    '- `mode: upsert` takes changelogs (an `aggregate` without a window, a join): inserts and',
    '  updates by `INSERT … ON CONFLICT (key) DO UPDATE`, deletes and the old row of an update by',
    '  `DELETE … WHERE key IN (…)`. Within a write, the changes of one key fold to its last, so',
    '  the table ends as applying them in order would (an UPDATE_BEFORE/UPDATE_AFTER pair, a',
    '  delete then an insert of the same key). `key` must be the columns of the table’s primary',
    '  key or of another unique index; the sink checks it when it opens.',
    '',
    '`create_table: true` creates the table from `columns` (with `key` as its primary key) when it',
    'does not exist: a sink is not given the schema of its input, so the types are declared.',
    '',
    '- **Refused records** — a row the server refuses for good (SQLSTATE class 22: wrong type, too',
    '  long, out of range; class 23: NOT NULL, unique, check, foreign key): the statement is',
    '  retried in halves until that row is found; it goes to the dead-letter output with the',
    '  server’s reason (SINK_REJECTED), the others are written.',
    '- **Transient failures** — connection refused or reset, the server shutting down or out of',
    '  connections, a serialization failure or deadlock: the statement is retried on a new',
    '  connection with capped exponential backoff and full jitter (`retry`); after',
    '  `retry.max_attempts` the write fails with SINK_UNAVAILABLE.',
    '- **Setup errors** — no such table, column or database, authentication, permissions: the sink',
    '  fails at once with CONFIG_INVALID and the server’s message.',
    '',
    'Delivery is at-least-once in both modes: every statement is committed when it completes, so',
    'records written after the last completed checkpoint are written again after a restart. In',
    '`mode: upsert` a replay rewrites the same rows, so the table converges to the same content',
    '(idempotent writes); in `mode: append` it adds the replayed rows again. The URL is a secret:',
    'it never appears in logs or errors.',
  ].join('\n'),
  example: [
    'type: postgres',
    'url: postgres://sluice:change-me@127.0.0.1:5432/analytics',
    'table: revenue_by_region',
    'mode: upsert',
    'key: [region]',
    'create_table: true',
    'columns:',
    '  region: text',
    '  revenue: double precision',
  ].join('\n'),
  delivery: 'at-least-once',
  changelog: {
    consumes: (config) => (config.mode === 'upsert' ? ['append', 'upsert', 'retract'] : ['append']),
    hint: 'set `mode: upsert` with `key` (the columns of the table’s primary key)',
    upsertKey: (config) =>
      config.mode === 'upsert' && config.key ? { path: 'key', fields: config.key } : undefined,
  },
  config: postgresSinkConfig,
  create: (config) => new PostgresSink(config),
});
