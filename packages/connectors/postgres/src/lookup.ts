/**
 * The `postgres` lookup table: the `lookup` step reads rows by key from a PostgreSQL table, one
 * query per batch of keys.
 */

import {
  defineLookup,
  getOrBisectByKey,
  type Lookup,
  type LookupAnswer,
  type LookupContext,
  type LookupKey,
  type Row,
  SluiceError,
} from '@sluice/core';
import pg from 'pg';
import Type, { type Static } from 'typebox';
import { columnText, quoteIdent, quoteTable } from './encode.ts';
import { failureKind, serverReason } from './pg-errors.ts';
import { recordTypes } from './values.ts';

const config = Type.Object(
  {
    url: Type.String({
      secret: true,
      description:
        'Connection URL, `postgres://user:password@host:port/database`. A secret: it never appears in logs or errors.',
      examples: ['postgres://sluice:change-me@127.0.0.1:5432/crm'],
    }),
    table: Type.String({
      minLength: 1,
      description: 'The table read, `name` or `schema.name`, each part quoted as given.',
      examples: ['public.customers'],
    }),
    key: Type.Array(Type.String({ minLength: 1 }), {
      minItems: 1,
      description:
        "The column(s) a row is found by, matched in order with the step’s `key` values: each value is compared as the column’s type (`42` and `'42'` both find the integer 42).",
      examples: [['id'], ['region', 'id']],
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
      maximum: 10_000,
      default: 1000,
      description: 'Most keys one query asks for; the step splits larger sets of keys.',
    }),
    max_connections: Type.Integer({
      minimum: 1,
      maximum: 64,
      default: 4,
      description: 'Most connections open at once: queries the step runs concurrently beyond it wait.',
    }),
    connect_timeout: Type.Integer({
      minimum: 1,
      default: 10_000,
      description: 'Milliseconds to wait for a connection; then the query fails as transient.',
    }),
  },
  { additionalProperties: false },
);

/** The `postgres` lookup's options, defaults applied. */
export type PostgresLookupConfig = Static<typeof config>;

/** The column the query adds: which requested key a row answers. */
const ORDINAL = '__sluice_key';

class PostgresLookup implements Lookup {
  readonly maxKeys: number;
  readonly #config: PostgresLookupConfig;
  #pool: pg.Pool | undefined;
  #query = '';
  #id = 'lookup';

  constructor(cfg: PostgresLookupConfig, keyLength: number) {
    if (cfg.key.length !== keyLength)
      throw new SluiceError(
        'CONFIG_INVALID',
        `the postgres lookup's key has ${cfg.key.length} column(s), but the step's key has ${keyLength} value(s)`,
        { path: 'key' },
      );
    this.#config = cfg;
    this.maxKeys = cfg.max_keys;
  }

  async open(ctx: LookupContext): Promise<void> {
    this.#id = ctx.id;
    const cfg = this.#config;
    const pool = new pg.Pool({
      connectionString: cfg.url,
      max: cfg.max_connections,
      connectionTimeoutMillis: cfg.connect_timeout,
      application_name: `sluice ${ctx.id}`,
      types: recordTypes,
    });
    // An idle connection the server drops is removed from the pool; the next query opens another.
    pool.on('error', (err) =>
      ctx.log.warn('postgres lookup: connection lost', { reason: serverReason(err) }),
    );
    this.#pool = pool;
    const table = quoteTable(cfg.table);
    let found: { name: string; type: string }[];
    try {
      found = (
        await pool.query<{ name: string; type: string }>(
          `SELECT a.attname AS name, format_type(a.atttypid, NULL) AS type FROM pg_attribute a
            WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
          [table],
        )
      ).rows;
    } catch (err) {
      throw this.#error(err, `open ${cfg.table}`);
    }
    if (found.length === 0)
      throw new SluiceError('CONFIG_INVALID', `postgres lookup: table ${table} does not exist`, {
        step: ctx.id,
        path: 'table',
      });
    const typeOf = new Map(found.map((c) => [c.name, c.type]));
    for (const [path, names] of [
      ['key', cfg.key],
      ['columns', cfg.columns ?? []],
    ] as const) {
      const missing = names.filter((n) => !typeOf.has(n));
      if (missing.length > 0)
        throw new SluiceError(
          'CONFIG_INVALID',
          `postgres lookup: table ${table} has no column ${missing.join(', ')} (it has ${found.map((c) => c.name).join(', ')})`,
          { step: ctx.id, path },
        );
    }
    const selected = (cfg.columns ?? found.map((c) => c.name)).map((c) => `t.${quoteIdent(c)}`).join(', ');
    const params = cfg.key.map((_k, i) => `$${i + 1}::text[]`).join(', ');
    const vars = cfg.key.map((_k, i) => `v${i}`).join(', ');
    const on = cfg.key.map((k, i) => `t.${quoteIdent(k)} = q.v${i}::${typeOf.get(k)}`).join(' AND ');
    // One query for every key: the keys as parallel text arrays, each value cast to its column's type.
    this.#query = `SELECT q.i AS ${ORDINAL}, ${selected} FROM unnest(${params}) WITH ORDINALITY AS q(${vars}, i) JOIN ${table} t ON ${on}`;
  }

  get(keys: readonly LookupKey[], signal: AbortSignal): Promise<LookupAnswer[]> {
    // A value the column's type cannot take fails the whole query: each key is then asked alone.
    return getOrBisectByKey(
      keys,
      (some) => this.#get(some, signal),
      (err) => failureKind(err) === 'record',
      (err) => this.#error(err, 'read'),
    );
  }

  async #get(keys: readonly LookupKey[], signal: AbortSignal): Promise<LookupAnswer[]> {
    const pool = this.#pool;
    if (!pool) throw new SluiceError('INTERNAL', 'postgres lookup: get before open');
    signal.throwIfAborted();
    const columns: (string | null)[][] = this.#config.key.map(() => []);
    for (const key of keys)
      for (let c = 0; c < columns.length; c++) columns[c].push(columnText(key[c], 'other'));
    const result = await pool.query<Row>(this.#query, columns);
    const answers: LookupAnswer[] = keys.map(() => null);
    for (const row of result.rows) {
      const at = Number(row[ORDINAL]) - 1;
      if (answers[at] !== null) continue; // several rows for one key: the first answers
      const { [ORDINAL]: _ordinal, ...rest } = row;
      answers[at] = rest;
    }
    return answers;
  }

  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    await pool?.end().catch(() => {});
  }

  /** LOOKUP_UNAVAILABLE (retried by the step) for an outage, LOOKUP_FAILED for the rest. */
  #error(err: unknown, what: string): SluiceError {
    if (err instanceof SluiceError) return err;
    const code = failureKind(err) === 'transient' ? 'LOOKUP_UNAVAILABLE' : 'LOOKUP_FAILED';
    return new SluiceError(code, `postgres lookup: ${what} ${this.#config.table}: ${serverReason(err)}`, {
      step: this.#id,
      cause: err,
    });
  }
}

export const postgresLookup = defineLookup({
  type: 'postgres',
  summary: 'Reads rows by key from a PostgreSQL table: one query per batch of keys.',
  description: [
    'The `lookup` step hands over the distinct keys of a batch that its cache does not hold, at most `max_keys` a call; each call is one query — the keys as text arrays unnested beside their positions and joined to `table` on the `key` columns, each value cast to its column’s type — so a batch costs one round trip. A key with no row is a miss (the step’s `on_miss` decides); a key with several rows gets the first the server returns. The row handed over has the `columns` (or every column) as `pg` reads them: 64-bit integers as numbers (bigints beyond 2^53), `numeric` as strings, timestamps as dates, `json`/`jsonb` parsed.',
    '',
    '- **Transient** — connection refused or reset, the server shutting down or out of connections: LOOKUP_UNAVAILABLE, which the step retries (`retries`, `timeout`).',
    '- **A key value its column cannot take** (text for an integer column): that query fails, the keys are asked one by one, and the records of that key go to the dead letters (LOOKUP_FAILED) with the server’s reason.',
    '- **Setup** — no such table or column: the job fails at its start with CONFIG_INVALID.',
    '',
    'The URL is a secret: it never appears in logs or errors.',
  ].join('\n'),
  example: [
    'type: postgres',
    'url: postgres://sluice:change-me@127.0.0.1:5432/crm',
    'table: customers',
    'key: [id]',
    'columns: [name, tier]',
  ].join('\n'),
  config,
  create: (cfg, info) => new PostgresLookup(cfg, info.keyLength),
});
