/**
 * Helpers for the `postgres` source's tests against the real server: a table of its own with a
 * slot and a publication named for it (all removed by `drop()`), the reader outside a job, and
 * reading until what a test waits for has come. Not a public API.
 */

import {
  type DecodeFailure,
  type Logger,
  type Row,
  type RowKind,
  type SourceReader,
  silentLogger,
  systemClock,
  validateConfig,
} from '@sluice/core';
import pg from 'pg';
import type { CdcSourceConfig } from './cdc-config.ts';
import type { CdcReader } from './cdc-reader.ts';
import { postgresSource } from './cdc-source.ts';
import { PG_URL, REPO_ROOT } from './test-support.ts';
import { recordTypes } from './values.ts';

let tables = 0;

/** A table of its own (in schema `public`), its slot and publication; `drop()` removes them. */
export class CdcTable {
  readonly name = `cdc_${process.pid}_${Date.now().toString(36)}_${tables++}`;
  readonly #client = new pg.Client({ connectionString: PG_URL, types: recordTypes });
  #ready: Promise<void> | undefined;

  /** The slot (and publication) a source of this table uses. */
  get slot(): string {
    return `${this.name}_slot`;
  }

  /** The source options for this table: its key is `id`. */
  options(extra: { readonly [option: string]: unknown } = {}): { [option: string]: unknown } {
    return { url: PG_URL, table: `public.${this.name}`, key: ['id'], slot: this.slot, ...extra };
  }

  /** Runs `sql` on the test server (`$table` stands for the table's name). */
  async query<R extends pg.QueryResultRow = Row>(sql: string, values?: unknown[]): Promise<R[]> {
    this.#ready ??= this.#client.connect().then(() => {});
    await this.#ready;
    return (await this.#client.query<R>(sql.replaceAll('$table', this.name), values)).rows;
  }

  /** Creates the table: `id int primary key, name text, amount bigint, ts double precision` unless `columns` say otherwise. */
  async create(columns = 'id int PRIMARY KEY, name text, amount bigint, ts double precision'): Promise<void> {
    await this.query(`CREATE TABLE $table (${columns})`);
  }

  /** Creates the slot and the publication as an operator would before the pipeline's first start. */
  async createSlot(): Promise<void> {
    await this.query(`CREATE PUBLICATION ${this.slot} FOR TABLE $table`);
    await this.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [this.slot]);
  }

  /** The table's rows as the changes should fold to, by `id`. */
  async rows(): Promise<Row[]> {
    return this.query('SELECT * FROM $table ORDER BY id');
  }

  /** The slot's confirmed LSN (what the server was told is safe), or undefined without a slot. */
  async confirmed(): Promise<string | undefined> {
    const rows = await this.query<{ lsn: string | null }>(
      'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
      [this.slot],
    );
    return rows[0]?.lsn ?? undefined;
  }

  /** Drops the slot (ending the connection that reads it, if any), the publication and the table. */
  async drop(): Promise<void> {
    await this.dropSlot().catch(() => {});
    await this.query(`DROP PUBLICATION IF EXISTS ${this.slot}`).catch(() => {});
    await this.query('DROP TABLE IF EXISTS $table').catch(() => {});
    await this.#client.end().catch(() => {});
  }

  /** Drops the slot, ending the connection that reads it first. */
  async dropSlot(): Promise<void> {
    for (let i = 0; i < 50; i++) {
      const [slot] = await this.query<{ pid: number | null }>(
        'SELECT active_pid AS pid FROM pg_replication_slots WHERE slot_name = $1',
        [this.slot],
      );
      if (slot === undefined) return;
      if (slot.pid === null) {
        await this.query('SELECT pg_drop_replication_slot($1)', [this.slot]);
        return;
      }
      await this.query('SELECT pg_terminate_backend($1)', [slot.pid]);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** The `postgres` source's config from `options`, validated with defaults applied. */
export function cdcConfig(options: { readonly [option: string]: unknown }): CdcSourceConfig {
  const result = validateConfig<CdcSourceConfig>(postgresSource.config, options);
  if (!result.ok) throw new Error(`invalid options: ${JSON.stringify(result.issues)}`);
  return result.value;
}

/** Opens the source's reader outside a job, `restored` as a checkpoint would give it. */
export async function openCdcReader(
  options: { readonly [option: string]: unknown },
  extra: { restored?: unknown; log?: Logger; requestCheckpoint?: () => void } = {},
): Promise<CdcReader> {
  const config = cdcConfig(options);
  const restored: { [partition: string]: unknown } = {};
  if (extra.restored !== undefined) restored[config.table] = extra.restored;
  const readers = await postgresSource.create(config).open({
    id: 'in',
    pipeline: 'cdc-test',
    restored,
    clock: systemClock,
    baseDir: REPO_ROOT,
    signal: new AbortController().signal,
    log: extra.log ?? silentLogger,
    requestCheckpoint: extra.requestCheckpoint,
  });
  return readers[0] as CdcReader;
}

/** What reads returned, in order. */
export interface Changes {
  records: Row[];
  kinds: RowKind[];
  failures: DecodeFailure[];
}

/**
 * Reads (`max` records a read) until `done` says so, or fails after `timeoutMs`: every record
 * with its kind, and the failures.
 */
export async function readUntil(
  reader: SourceReader,
  done: (got: Changes) => boolean,
  { max = 1000, timeoutMs = 20_000 } = {},
): Promise<Changes> {
  const got: Changes = { records: [], kinds: [], failures: [] };
  const signal = new AbortController().signal;
  const until = Date.now() + timeoutMs;
  while (!done(got)) {
    if (Date.now() > until)
      throw new Error(
        `timed out after ${timeoutMs} ms with ${got.records.length} records: ${JSON.stringify(got)}`,
      );
    const batch = await reader.read(max, signal);
    if (batch === null) break;
    got.records.push(...batch.records);
    got.kinds.push(...(batch.kinds ?? batch.records.map(() => 0 as const)));
    got.failures.push(...(batch.failures ?? []));
  }
  return got;
}

/** Folds changes into the table they describe, keyed by `id`, sorted by it. */
export function foldById(changes: Changes): Row[] {
  const table = new Map<unknown, Row>();
  for (let i = 0; i < changes.records.length; i++) {
    const r = changes.records[i];
    if (changes.kinds[i] === 3) table.delete(r.id);
    else table.set(r.id, r);
  }
  return [...table.values()].sort((a, b) => Number(a.id) - Number(b.id));
}
