/**
 * The `cassandra` lookup table: the `lookup` step reads rows by key from a Cassandra table, one
 * `SELECT … WHERE key IN (…)` per batch of keys.
 */

import {
  defineLookup,
  encodeKey,
  getOrBisectByKey,
  type Lookup,
  type LookupAnswer,
  type LookupContext,
  type LookupKey,
  retry,
  SluiceError,
} from '@sluice/core';
import Type, { type Static } from 'typebox';
import {
  type Client,
  checkConnection,
  createClient,
  describeError,
  failureKind,
  shutdown,
} from './connection.ts';
import { connectionFields } from './connection-config.ts';
import { type Column, quoteIdent, readTable } from './table.ts';
import { fromCql, toCql } from './values.ts';

const config = Type.Object(
  {
    ...connectionFields,
    key: Type.Array(Type.String({ minLength: 1 }), {
      minItems: 1,
      description:
        'The columns a row is found by, matched in order with the step’s `key` values: the table’s partition key columns, optionally followed by its first clustering columns.',
      examples: [['user_id'], ['region', 'user_id']],
    }),
    columns: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        minItems: 1,
        description: 'The columns of the row handed to the step. Absent: every column.',
        examples: [['name', 'tier']],
      }),
    ),
    max_keys: Type.Integer({
      minimum: 1,
      maximum: 1000,
      default: 100,
      description:
        'Most keys one query asks for (the `IN` list; a coordinator gathers every partition it names, so keep it modest); the step splits larger sets of keys.',
    }),
  },
  { additionalProperties: false },
);

/** The `cassandra` lookup's options, defaults applied. */
export type CassandraLookupConfig = Static<typeof config>;

class CassandraLookup implements Lookup {
  readonly maxKeys: number;
  readonly #config: CassandraLookupConfig;
  #client: Client | undefined;
  #id = 'lookup';
  #keyColumns: Column[] = [];
  #columns: string[] = [];
  #query = '';

  constructor(cfg: CassandraLookupConfig, keyLength: number) {
    checkConnection(cfg);
    if (cfg.key.length !== keyLength)
      throw new SluiceError(
        'CONFIG_INVALID',
        `the cassandra lookup's key has ${cfg.key.length} column(s), but the step's key has ${keyLength} value(s)`,
        { path: 'key' },
      );
    this.#config = cfg;
    this.maxKeys = cfg.max_keys;
  }

  async open(ctx: LookupContext): Promise<void> {
    this.#id = ctx.id;
    const cfg = this.#config;
    const client = createClient(cfg, `sluice-lookup-${ctx.id}`, ctx.log);
    this.#client = client;
    const unavailable = (err: unknown) => this.#error(err, 'cannot connect');
    await retry(
      async () => {
        try {
          await client.connect();
        } catch (err) {
          throw unavailable(err);
        }
      },
      { maxAttempts: 3, initialBackoff: 200, maxBackoff: 1000 },
      ctx.signal,
    );
    const table = await readTable(client, cfg.keyspace, cfg.table, ctx.id, unavailable);
    const primary = [...table.partitionKey, ...table.clustering];
    const byName = new Map(table.columns.map((c) => [c.name, c]));
    const okKey =
      cfg.key.length >= table.partitionKey.length &&
      cfg.key.length <= primary.length &&
      cfg.key.every((k, i) => k === primary[i]?.name);
    if (!okKey)
      throw new SluiceError(
        'CONFIG_INVALID',
        `cassandra lookup: \`key: [${cfg.key.join(', ')}]\` must be the partition key of ${cfg.keyspace}.${cfg.table} (${table.partitionKey.map((c) => c.name).join(', ')}), optionally followed by its clustering columns in order (${table.clustering.map((c) => c.name).join(', ') || 'none'})`,
        { step: ctx.id, path: 'key' },
      );
    const missing = (cfg.columns ?? []).filter((c) => !byName.has(c));
    if (missing.length > 0)
      throw new SluiceError(
        'CONFIG_INVALID',
        `cassandra lookup: table ${cfg.keyspace}.${cfg.table} has no column ${missing.join(', ')} (it has ${table.columns.map((c) => c.name).join(', ')})`,
        { step: ctx.id, path: 'columns' },
      );
    this.#keyColumns = primary.slice(0, cfg.key.length);
    this.#columns = cfg.columns ?? table.columns.map((c) => c.name);
    // The key columns are read too, to tell which key each row answers.
    const read = [...new Set([...cfg.key, ...this.#columns])];
    const where = cfg.key.map((k) => `${quoteIdent(k)} IN ?`).join(' AND ');
    this.#query = `SELECT ${read.map(quoteIdent).join(', ')} FROM ${table.quoted} WHERE ${where}`;
    ctx.log.info('cassandra lookup: reading', { table: `${cfg.keyspace}.${cfg.table}`, key: cfg.key });
  }

  get(keys: readonly LookupKey[], signal: AbortSignal): Promise<LookupAnswer[]> {
    // A value its column cannot take fails the whole query: each key is then asked alone.
    return getOrBisectByKey(
      keys,
      (some) => this.#get(some, signal),
      (err) => failureKind(err) === 'record',
      (err) => this.#error(err, 'read'),
    );
  }

  async #get(keys: readonly LookupKey[], signal: AbortSignal): Promise<LookupAnswer[]> {
    const client = this.#client;
    if (client === undefined) throw new SluiceError('INTERNAL', 'cassandra lookup: get before open');
    signal.throwIfAborted();
    const columns = this.#keyColumns;
    // One IN list per key column (distinct values); with several columns the query asks for
    // their cross product, and only the rows of the requested keys are kept.
    const lists: unknown[][] = columns.map(() => []);
    const seen: Set<string>[] = columns.map(() => new Set());
    const wanted = new Map<string, number>();
    for (let k = 0; k < keys.length; k++) {
      const key = keys[k] as LookupKey;
      const values = columns.map((c, i) => toCql(key[i], c.type));
      for (let i = 0; i < columns.length; i++) {
        const id = encodeKey([canonical(values[i])]);
        if (!seen[i]?.has(id)) {
          seen[i]?.add(id);
          lists[i]?.push(values[i]);
        }
      }
      wanted.set(encodeKey(values.map(canonical)), k);
    }
    const answers: LookupAnswer[] = keys.map(() => null);
    const result = await client.execute(this.#query, lists, { prepare: true, fetchSize: 0 });
    for (const row of result.rows) {
      const at = wanted.get(encodeKey(columns.map((c) => canonical(row.get(c.name)))));
      if (at === undefined || answers[at] !== null) continue; // several rows for one key: the first answers
      const out: { [column: string]: unknown } = {};
      for (const name of this.#columns) out[name] = fromCql(row.get(name));
      answers[at] = out;
    }
    return answers;
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    await shutdown(client);
  }

  /** LOOKUP_UNAVAILABLE (retried by the step) for an outage, LOOKUP_FAILED for the rest. */
  #error(err: unknown, what: string): SluiceError {
    if (err instanceof SluiceError) return err;
    const code = failureKind(err) === 'transient' ? 'LOOKUP_UNAVAILABLE' : 'LOOKUP_FAILED';
    return new SluiceError(
      code,
      `cassandra lookup: ${what} ${this.#config.keyspace}.${this.#config.table}: ${describeError(err)}`,
      { step: this.#id, cause: err },
    );
  }
}

/** A key value as comparable as a driver value read back: Longs, UUIDs, decimals by their text. */
function canonical(value: unknown): unknown {
  const v = fromCql(value);
  if (v instanceof Date) return v.getTime();
  return v;
}

export const cassandraLookup = defineLookup({
  type: 'cassandra',
  summary: 'Reads rows by key from a Cassandra table: one query per batch of keys.',
  description: [
    'The `lookup` step hands over the distinct keys of a batch that its cache does not hold, at most `max_keys` a call; each call is one prepared query, `SELECT … WHERE k1 IN ? [AND k2 IN ?…]`, so a batch costs one round trip. `key` names the table’s partition key columns (optionally followed by clustering columns, in order). With several key columns the query asks for the cross product of their values, and only the rows of the requested keys answer. A key with no row is a miss (the step’s `on_miss` decides); a key with several rows (a partition of several clustering rows) gets the first in clustering order.',
    '',
    'Key values are converted to their column’s type where nothing is lost (numeric text for a number column, epoch milliseconds for a `timestamp`). The row has the `columns` (or every column): 64-bit integers as numbers (bigints beyond 2^53), decimals, UUIDs and addresses as text, timestamps as dates, collections as arrays and objects.',
    '',
    '- **Transient** — no node reachable, a timeout, too few replicas: LOOKUP_UNAVAILABLE, which the step retries (`retries`, `timeout`).',
    '- **A key value its column cannot take** (text for an `int` key): that query fails, the keys are asked one by one, and the records of that key go to the dead letters (LOOKUP_FAILED) with the reason.',
    '- **Setup** — no such keyspace, table or column, a `key` that is not the partition key: the job fails at its start with CONFIG_INVALID.',
    '',
    'The password is a secret: it never appears in logs or errors.',
  ].join('\n'),
  example: [
    'type: cassandra',
    'keyspace: shop',
    'table: customers',
    'key: [customer_id]',
    'columns: [name, tier]',
  ].join('\n'),
  config,
  create: (cfg, info) => new CassandraLookup(cfg, info.keyLength),
});
