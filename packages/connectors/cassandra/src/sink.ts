/**
 * The `cassandra` sink: each write's changes folded to the last per primary key, then written as
 * prepared upserts (`INSERT`, optionally `USING TTL`) and deletes, in unlogged batches of one
 * partition each, several in flight. A batch the cluster refuses for a record's value is split
 * until that record is found (it goes to the dead letters); an outage is retried with backoff.
 */

import {
  DELETE,
  encodeKey,
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
import { type Client, createClient, describeError, failureKind, shutdown } from './connection.ts';
import { type CassandraSinkConfig, ttlSeconds } from './sink-config.ts';
import { type Column, quoteIdent, readTable, type TableInfo } from './table.ts';
import { toCql } from './values.ts';

/** One statement of a write: an upsert or a delete of the record at `index`. */
interface Statement {
  readonly index: number;
  readonly query: string;
  readonly params: unknown[];
}

/** The `cassandra` sink (its spec, with what it does, is `cassandraSink` in `sink-spec.ts`). */
export class CassandraSink implements Sink {
  readonly #config: CassandraSinkConfig;
  readonly #policy: RetryPolicy;
  readonly #ttl: number | undefined;
  #step = 'cassandra';
  #client: Client | undefined;
  #log: Logger | undefined;
  #signal: AbortSignal | undefined;
  #table: TableInfo | undefined;
  #primary: readonly Column[] = [];
  #insert = '';
  #delete = '';

  constructor(config: CassandraSinkConfig, step?: string) {
    this.#ttl = ttlSeconds(config, step);
    this.#config = config;
    this.#policy = retryPolicy(config.retry);
  }

  async open(ctx: SinkContext): Promise<void> {
    this.#step = ctx.id;
    this.#log = ctx.log;
    this.#signal = ctx.signal;
    const client = createClient(this.#config, `sluice-${ctx.pipeline ?? 'embedded'}-${ctx.id}`, ctx.log);
    this.#client = client;
    try {
      await this.#prepare(ctx, client);
    } catch (err) {
      // A sink that could not open holds no connection (its owner may not call `abort`).
      await this.close();
      throw err;
    }
  }

  async #prepare(ctx: SinkContext, client: Client): Promise<void> {
    const cfg = this.#config;
    await retry(
      async () => {
        try {
          await client.connect();
        } catch (err) {
          throw this.#error(err, 'cannot connect');
        }
      },
      this.#retrying('cannot connect'),
      ctx.signal,
    );
    const table = await retry(
      () =>
        readTable(client, cfg.keyspace, cfg.table, ctx.id, (err) =>
          this.#error(err, 'cannot read the table'),
        ),
      this.#retrying('cannot read the table'),
      ctx.signal,
    );
    this.#table = table;
    this.#primary = [...table.partitionKey, ...table.clustering];
    if (cfg.key !== undefined) {
      const names = this.#primary.map((c) => c.name);
      if (cfg.key.length !== names.length || !cfg.key.every((k) => names.includes(k)))
        throw new SluiceError(
          'CONFIG_INVALID',
          `\`key: [${cfg.key.join(', ')}]\` is not the primary key of ${cfg.keyspace}.${cfg.table}, which is (${names.join(', ')})`,
          { step: ctx.id, path: 'key' },
        );
    }
    const names = table.columns.map((c) => quoteIdent(c.name));
    this.#insert =
      `INSERT INTO ${table.quoted} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')})` +
      (this.#ttl === undefined ? '' : ` USING TTL ${this.#ttl}`);
    this.#delete = `DELETE FROM ${table.quoted} WHERE ${this.#primary.map((c) => `${quoteIdent(c.name)} = ?`).join(' AND ')}`;
    ctx.log.info('cassandra sink: writing', {
      table: `${cfg.keyspace}.${cfg.table}`,
      primary_key: this.#primary.map((c) => c.name),
      ttl: this.#ttl,
    });
  }

  async write(batch: SinkBatch): Promise<SinkRejection[] | undefined> {
    const table = this.#table;
    if (table === undefined)
      throw new SluiceError('INTERNAL', 'cassandra sink written before open', { step: this.#step });
    const refused = new Map<number, string>();
    // The last change of each primary key wins: the table ends as applying them in order would,
    // and no two statements of one write touch one row (they would share a timestamp in a batch).
    const last = new Map<string, number>();
    const { records, kinds } = batch;
    for (let i = 0; i < records.length; i++) {
      const record = records[i] as Row;
      const values: unknown[] = [];
      let missing: string | undefined;
      for (const c of this.#primary) {
        const v = record[c.name];
        if (v === null || v === undefined) {
          missing = c.name;
          break;
        }
        values.push(v);
      }
      if (missing !== undefined) {
        refused.set(i, `primary key column '${missing}' is missing or NULL in the record`);
        continue;
      }
      last.set(encodeKey(values), i);
    }
    // Statements grouped by partition.
    const partitions = new Map<string, Statement[]>();
    for (const index of last.values()) {
      const record = records[index] as Row;
      const kind = kinds?.[index];
      const remove = kind === DELETE || kind === UPDATE_BEFORE;
      const statement: Statement = remove
        ? { index, query: this.#delete, params: this.#primary.map((c) => toCql(record[c.name], c.type)) }
        : { index, query: this.#insert, params: table.columns.map((c) => toCql(record[c.name], c.type)) };
      const partition = encodeKey(table.partitionKey.map((c) => record[c.name]));
      const group = partitions.get(partition);
      if (group === undefined) partitions.set(partition, [statement]);
      else group.push(statement);
    }
    const chunks: Statement[][] = [];
    const max = this.#config.max_batch;
    for (const group of partitions.values())
      for (let at = 0; at < group.length; at += max) chunks.push(group.slice(at, at + max));
    await this.#runAll(chunks, refused);
    if (refused.size === 0) return undefined;
    return [...refused].sort((a, b) => a[0] - b[0]).map(([index, message]) => ({ index, message }));
  }

  /** Runs `chunks` with at most `concurrency` in flight; the first fatal failure is thrown. */
  async #runAll(chunks: Statement[][], refused: Map<number, string>): Promise<void> {
    let next = 0;
    let failure: unknown;
    const worker = async () => {
      while (failure === undefined && next < chunks.length) {
        const chunk = chunks[next++] as Statement[];
        try {
          await this.#run(chunk, refused);
        } catch (err) {
          failure ??= err;
        }
      }
    };
    const workers: Promise<void>[] = [];
    for (let w = 0; w < Math.min(this.#config.concurrency, chunks.length); w++) workers.push(worker());
    await Promise.all(workers);
    if (failure !== undefined) throw failure;
  }

  /**
   * Writes one chunk (one partition's statements), retrying an outage with backoff; a chunk the
   * cluster refuses for a value is split in halves until the statement at fault is alone, which
   * is refused with the reason.
   */
  async #run(chunk: Statement[], refused: Map<number, string>): Promise<void> {
    try {
      await retry(() => this.#send(chunk), this.#retrying('write failed'), this.#signal);
    } catch (err) {
      if (!(err instanceof RecordRefused)) throw err;
      if (chunk.length === 1) {
        refused.set((chunk[0] as Statement).index, `Cassandra refused the row: ${err.message}`);
        return;
      }
      const half = chunk.length >> 1;
      await this.#run(chunk.slice(0, half), refused);
      await this.#run(chunk.slice(half), refused);
    }
  }

  async #send(chunk: Statement[]): Promise<void> {
    const client = this.#client;
    if (client === undefined)
      throw new SluiceError('INTERNAL', 'cassandra sink written before open', { step: this.#step });
    try {
      if (chunk.length === 1) {
        const s = chunk[0] as Statement;
        await client.execute(s.query, s.params, { prepare: true, isIdempotent: true });
      } else {
        await client.batch(
          chunk.map((s) => ({ query: s.query, params: s.params })),
          { prepare: true, logged: false, isIdempotent: true },
        );
      }
    } catch (err) {
      if (failureKind(err) === 'record') throw new RecordRefused(describeError(err));
      throw this.#error(err, 'write failed');
    }
  }

  /** SINK_UNAVAILABLE (retried) for an outage; CONFIG_INVALID for credentials, permissions, schema. */
  #error(err: unknown, what: string): SluiceError {
    if (err instanceof SluiceError) return err;
    const table = `${this.#config.keyspace}.${this.#config.table}`;
    if (failureKind(err) === 'transient')
      return new SluiceError(
        'SINK_UNAVAILABLE',
        `cassandra sink: ${what} (${table}): ${describeError(err)}`,
        {
          step: this.#step,
          cause: err,
        },
      );
    return new SluiceError('CONFIG_INVALID', `cassandra sink: ${what} (${table}): ${describeError(err)}`, {
      step: this.#step,
      cause: err,
    });
  }

  #retrying(what: string): RetryPolicy {
    return {
      ...this.#policy,
      onRetry: (err, attempt, delay) =>
        this.#log?.warn(`cassandra sink: ${what}; retrying`, {
          sink: this.#step,
          attempt,
          delay,
          error: err instanceof Error ? err.message : String(err),
        }),
    };
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    await shutdown(client);
  }

  async abort(): Promise<void> {
    await this.close();
  }
}

/** A statement refused for one of its values: not retried, split until the record is found. */
class RecordRefused extends Error {}
