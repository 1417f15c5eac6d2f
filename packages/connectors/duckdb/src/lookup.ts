/**
 * The `duckdb` lookup table: the `lookup` step reads rows by key from a table of a DuckDB
 * database file, one query per batch of keys.
 */

import { existsSync } from 'node:fs';
import type { DuckDBConnection } from '@duckdb/node-api';
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
import Type, { type Static } from 'typebox';
import { databasePath, openDatabase } from './database.ts';
import { failureKind, reasonOf } from './errors.ts';
import { literal, quote } from './statements.ts';

const config = Type.Object(
  {
    path: Type.String({
      minLength: 1,
      description:
        'The database file, relative to the pipeline file’s folder. A file a `duckdb` sink of the same pipeline writes is shared with it (one instance per file in a process); DuckDB lets one process open a file for writing, so another process’s file cannot be read while it runs.',
      examples: ['data/analytics.duckdb'],
    }),
    table: Type.String({
      minLength: 1,
      pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
      description: 'The table read, in the main schema.',
      examples: ['customers'],
    }),
    key: Type.Array(Type.String({ minLength: 1 }), {
      minItems: 1,
      description:
        "The column(s) a row is found by, matched in order with the step’s `key` values; each value is cast to its column's type (`42` and `'42'` both find the integer 42).",
      examples: [['id']],
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
  },
  { additionalProperties: false },
);

/** The `duckdb` lookup's options, defaults applied. */
export type DuckdbLookupConfig = Static<typeof config>;

/** The column the query adds: which requested key a row answers. */
const ORDINAL = '__sluice_key';

class DuckdbLookup implements Lookup {
  readonly maxKeys: number;
  readonly #config: DuckdbLookupConfig;
  #conn: DuckDBConnection | undefined;
  #types: string[] = [];
  #selected = '';
  #id = 'lookup';

  constructor(cfg: DuckdbLookupConfig, keyLength: number) {
    if (cfg.key.length !== keyLength)
      throw new SluiceError(
        'CONFIG_INVALID',
        `the duckdb lookup's key has ${cfg.key.length} column(s), but the step's key has ${keyLength} value(s)`,
        { path: 'key' },
      );
    this.#config = cfg;
    this.maxKeys = cfg.max_keys;
  }

  async open(ctx: LookupContext): Promise<void> {
    this.#id = ctx.id;
    const cfg = this.#config;
    const path = databasePath(cfg.path, ctx.baseDir);
    if (path !== ':memory:' && !existsSync(path))
      throw new SluiceError('CONFIG_INVALID', `duckdb lookup: no database file ${cfg.path}`, {
        step: ctx.id,
        path: 'path',
      });
    try {
      this.#conn = await (await openDatabase(path)).connect();
    } catch (err) {
      throw this.#error(err, 'open');
    }
    const found = (
      await this.#conn.runAndReadAll(
        `SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = 'main' AND table_name = ${literal(cfg.table)} ORDER BY column_index`,
      )
    ).getRowObjectsJS() as { column_name: string; data_type: string }[];
    if (found.length === 0)
      throw new SluiceError('CONFIG_INVALID', `duckdb lookup: no table ${cfg.table} in ${cfg.path}`, {
        step: ctx.id,
        path: 'table',
      });
    const typeOf = new Map(found.map((c) => [c.column_name, c.data_type]));
    for (const [path, names] of [
      ['key', cfg.key],
      ['columns', cfg.columns ?? []],
    ] as const) {
      const missing = names.filter((n) => !typeOf.has(n));
      if (missing.length > 0)
        throw new SluiceError(
          'CONFIG_INVALID',
          `duckdb lookup: table ${cfg.table} has no column ${missing.join(', ')} (it has ${[...typeOf.keys()].join(', ')})`,
          { step: ctx.id, path },
        );
    }
    this.#types = cfg.key.map((k) => typeOf.get(k) as string);
    this.#selected = (cfg.columns ?? [...typeOf.keys()]).map((c) => `t.${quote(c)}`).join(', ');
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

  /** One query: the keys as a VALUES list beside their positions, joined to the table on the key columns. */
  async #get(keys: readonly LookupKey[], signal: AbortSignal): Promise<LookupAnswer[]> {
    const conn = this.#conn;
    if (!conn) throw new SluiceError('INTERNAL', 'duckdb lookup: get before open');
    signal.throwIfAborted();
    const width = this.#config.key.length + 1;
    const params: (string | null)[] = [];
    const tuples: string[] = [];
    keys.forEach((key, i) => {
      const slots = [`${i}`];
      for (let c = 0; c < width - 1; c++) {
        const v = key[c];
        params.push(
          v === null || v === undefined ? null : typeof v === 'object' ? JSON.stringify(v) : String(v),
        );
        slots.push(`$${params.length}::VARCHAR`);
      }
      tuples.push(`(${slots.join(', ')})`);
    });
    const vars = this.#config.key.map((_k, c) => `v${c}`).join(', ');
    const on = this.#config.key
      .map((k, c) => `t.${quote(k)} = CAST(q.v${c} AS ${this.#types[c]})`)
      .join(' AND ');
    const sql = `SELECT q.i AS ${ORDINAL}, ${this.#selected} FROM (VALUES ${tuples.join(', ')}) AS q(i, ${vars}) JOIN ${quote(this.#config.table)} t ON ${on}`;
    const rows = (await conn.runAndReadAll(sql, params)).getRowObjectsJS() as Row[];
    const answers: LookupAnswer[] = keys.map(() => null);
    for (const row of rows) {
      const at = Number(row[ORDINAL]);
      if (answers[at] !== null) continue; // several rows for one key: the first answers
      const { [ORDINAL]: _ordinal, ...rest } = row;
      for (const [k, v] of Object.entries(rest))
        if (
          typeof v === 'bigint' &&
          v <= BigInt(Number.MAX_SAFE_INTEGER) &&
          v >= BigInt(Number.MIN_SAFE_INTEGER)
        )
          rest[k] = Number(v);
      answers[at] = rest;
    }
    return answers;
  }

  async close(): Promise<void> {
    this.#conn?.closeSync();
    this.#conn = undefined;
  }

  /** LOOKUP_UNAVAILABLE (retried by the step) for a locked file, LOOKUP_FAILED for the rest. */
  #error(err: unknown, what: string): SluiceError {
    if (err instanceof SluiceError) return err;
    const code = failureKind(err) === 'transient' ? 'LOOKUP_UNAVAILABLE' : 'LOOKUP_FAILED';
    return new SluiceError(code, `duckdb lookup: ${what} ${this.#config.table}: ${reasonOf(err)}`, {
      step: this.#id,
      cause: err,
    });
  }
}

export const duckdbLookup = defineLookup({
  type: 'duckdb',
  summary: 'Reads rows by key from a table of a DuckDB database file: one query per batch of keys.',
  description: [
    'The `lookup` step hands over the distinct keys of a batch that its cache does not hold, at most `max_keys` a call; each call is one query — the keys as a `VALUES` list beside their positions, joined to `table` on the `key` columns, each value cast to its column’s type. A key with no row is a miss (the step’s `on_miss` decides); a key with several rows gets the first DuckDB returns. 64-bit integers come as numbers (as bigints beyond 2^53), timestamps as dates.',
    '',
    'A file the same pipeline’s `duckdb` sink writes is read through the sink’s instance, so the lookup sees its published rows (those of completed checkpoints).',
    '',
    '- **A key value its column cannot take** (text for an integer column): that query fails, the keys are asked one by one, and the records of that key go to the dead letters (LOOKUP_FAILED) with DuckDB’s reason.',
    '- **A file another process holds**: LOOKUP_UNAVAILABLE, retried by the step.',
    '- **Setup** — no such file, table or column: the job fails at its start with CONFIG_INVALID.',
  ].join('\n'),
  example: [
    'type: duckdb',
    'path: data/crm.duckdb',
    'table: customers',
    'key: [id]',
    'columns: [name, tier]',
  ].join('\n'),
  config,
  create: (cfg, info) => new DuckdbLookup(cfg, info.keyLength),
});
