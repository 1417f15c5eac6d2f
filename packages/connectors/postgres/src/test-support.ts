/**
 * Helpers for tests against the real PostgreSQL server (127.0.0.1:5432, database `test`, see
 * shared services): the reachability check that skips (or, under CI, fails), a schema of its own
 * per test file so that files run in parallel, and the sink outside a job. Not a public API.
 */

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type Logger,
  type Row,
  type Sink,
  type SinkBatch,
  type SinkContext,
  systemClock,
  validateConfig,
} from '@sluice/core';
import { reportMissingService } from '@sluice/core/testing';
import pg from 'pg';
import type { PostgresSinkConfig } from './sink-config.ts';
import { postgresSink } from './sink-spec.ts';

/** The test server's URL; `SLUICE_PG_URL` overrides it. */
export const PG_URL = process.env.SLUICE_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../../..');

let reachable: Promise<string | undefined> | undefined;

/**
 * Undefined when the server answers; else why not, after printing `skipped: …` — or, under CI
 * (`CI=true`), throws, so the test file fails instead of skipping.
 */
export async function postgresMissing(): Promise<string | undefined> {
  reachable ??= (async () => {
    const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3_000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return undefined;
    } catch (err) {
      return `postgres not reachable at ${new URL(PG_URL).host} (${err instanceof Error ? err.message : String(err)})`;
    } finally {
      await client.end().catch(() => {});
    }
  })();
  const missing = await reachable;
  if (missing !== undefined) {
    reportMissingService(missing);
  }
  return missing;
}

/**
 * Why `delivery: exactly_once` cannot be tested on the server (it does not allow prepared
 * transactions), or undefined when it can. Not a failure under CI: the server's setting needs a
 * restart to change (`scripts/services.sh` sets it for the next start).
 */
export async function preparedUnavailable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    const shown = await client.query<{ max_prepared_transactions: string }>('SHOW max_prepared_transactions');
    const max = Number(shown.rows[0]?.max_prepared_transactions ?? 0);
    return max > 0
      ? undefined
      : 'the server has max_prepared_transactions = 0 (it allows no PREPARE TRANSACTION)';
  } catch (err) {
    return `postgres not reachable (${err instanceof Error ? err.message : String(err)})`;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Runs one statement on the test server with a client of its own (for tests of other packages). */
export async function pgQuery<R extends pg.QueryResultRow = Row>(
  sql: string,
  values?: unknown[],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return (await client.query<R>(sql, values)).rows;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * A schema of its own on the test server, and a client to look at it with: every table a test
 * makes lives in it, and `drop()` removes it with them.
 */
export class TestSchema {
  readonly name = `sluice_pg_${process.pid}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6)}`;
  readonly #client = new pg.Client({ connectionString: PG_URL });
  #ready: Promise<void> | undefined;
  #tables = 0;

  /** Runs `sql` on the test server (in this schema's search path). */
  async query<R extends pg.QueryResultRow = Row>(sql: string, values?: unknown[]): Promise<R[]> {
    this.#ready ??= (async () => {
      await this.#client.connect();
      await this.#client.query(`CREATE SCHEMA ${this.name}`);
      await this.#client.query(`SET search_path TO ${this.name}`);
    })();
    await this.#ready;
    return (await this.#client.query<R>(sql, values)).rows;
  }

  /** A table name not used before in this schema, qualified (`schema.name`). */
  table(prefix = 't'): string {
    return `${this.name}.${prefix}_${this.#tables++}`;
  }

  async drop(): Promise<void> {
    if (this.#ready === undefined) return;
    await this.#client.query(`DROP SCHEMA IF EXISTS ${this.name} CASCADE`).catch(() => {});
    await this.#client.end().catch(() => {});
  }
}

/** A logger that keeps every line, to look for secrets in. */
export function keptLines(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (message: string, fields?: { [k: string]: unknown }) => {
    lines.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`);
  };
  return { lines, log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

/** A sink context outside a job. */
export function sinkContext(log: Logger = keptLines().log): SinkContext {
  return {
    id: 'out',
    pipeline: 'pg-test',
    restored: undefined,
    clock: systemClock,
    baseDir: REPO_ROOT,
    signal: new AbortController().signal,
    log,
  };
}

/** The `postgres` sink's config from `options`, validated with defaults applied. */
export function sinkConfig(options: { readonly [option: string]: unknown }): PostgresSinkConfig {
  const result = validateConfig<PostgresSinkConfig>(postgresSink.config, options);
  if (!result.ok) throw new Error(`invalid options: ${JSON.stringify(result.issues)}`);
  return result.value;
}

const opened = new Set<Sink>();

/** An opened `postgres` sink with `options`; `abortSinks` releases it if a test does not. */
export async function openSink(options: { readonly [option: string]: unknown }, log?: Logger): Promise<Sink> {
  const sink = postgresSink.create(sinkConfig(options));
  opened.add(sink);
  await sink.open(sinkContext(log));
  return sink;
}

/** Aborts every sink `openSink` opened (closing one twice does nothing), so a failed test leaves no connection. */
export async function abortSinks(): Promise<void> {
  for (const sink of opened) await sink.abort?.();
  opened.clear();
}

/** A batch of `records`, with row kinds when given. */
export function batchOf(records: Row[], kinds?: SinkBatch['kinds']): SinkBatch {
  return kinds ? { records, times: records.map(() => 0), kinds } : { records, times: records.map(() => 0) };
}
