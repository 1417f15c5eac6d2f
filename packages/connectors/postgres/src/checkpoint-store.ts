/**
 * A checkpoint store in PostgreSQL, shared by the workers of a scaled-out pipeline, with an owner
 * fence. Each store is one *slot* (`pipeline` + `slot`, e.g. `orders` + `tasks/3`): its
 * checkpoints are rows of `<table>` and its ownership one row of `<table>_owners` — owner, epoch,
 * whether it was released, and a lease the owner renews.
 *
 * `prepare` waits until the slot is free (released by its last owner, its lease run out, or last
 * owned by this same worker id — a restart), then takes it by raising the epoch. Every `write`
 * checks the epoch in the same transaction that inserts the checkpoint, so a zombie (a worker
 * that lost the slot but still runs) can never overwrite the new owner's checkpoints: its write
 * rejects with CHECKPOINT_LOCKED. `close` releases the slot, so a graceful hand-off does not wait
 * for the lease.
 */

import type { Logger } from '@sluice/core';
import {
  type CheckpointStore,
  decodeCheckpoint,
  type LatestCheckpoint,
  latestReadable,
  SluiceError,
  type StoredRead,
  unreadableOf,
} from '@sluice/core';
import pg from 'pg';

export interface PostgresCheckpointStoreOptions {
  /** Connection URL (`postgres://user@host:5432/db`). */
  url: string;
  pipeline: string;
  /** The slot within the pipeline: `tasks/<n>` for a worker's task, `''` for a whole job. */
  slot: string;
  /** Who takes the slot (a worker id); the same owner takes its own slot back at once. */
  owner: string;
  /** How many checkpoints to keep. */
  keep: number;
  /** How long an owner holds the slot without renewing it, ms (default 10 s). */
  leaseMs?: number;
  /** Table of the checkpoints (default `sluice_checkpoints`; owners in `<table>_owners`). */
  table?: string;
  /** Aborting it makes a waiting `prepare` give up (CHECKPOINT_LOCKED). */
  signal?: AbortSignal;
  log?: Logger;
}

const TABLE = /^[A-Za-z_][A-Za-z0-9_]{0,50}(\.[A-Za-z_][A-Za-z0-9_]{0,50})?$/;
const POLL_MS = 200;

/** Tables made once per process and URL (the DDL is idempotent, but not free). */
const made = new Map<string, Promise<void>>();

/** The PostgreSQL checkpoint store of one slot; see the file comment. */
export class PostgresCheckpointStore implements CheckpointStore {
  readonly #o: Required<Omit<PostgresCheckpointStoreOptions, 'signal' | 'log'>> &
    Pick<PostgresCheckpointStoreOptions, 'signal' | 'log'>;
  readonly #pool: pg.Pool;
  readonly #owners: string;
  #epoch: number | undefined;
  #renew: NodeJS.Timeout | undefined;
  #fencedBy: string | undefined;

  constructor(options: PostgresCheckpointStoreOptions) {
    const table = options.table ?? 'sluice_checkpoints';
    if (!TABLE.test(table)) {
      throw new SluiceError(
        'CONFIG_INVALID',
        `checkpoint table '${table}': [schema.]name with letters, digits and _`,
      );
    }
    this.#o = { leaseMs: 10_000, ...options, table };
    this.#owners = `${table}_owners`;
    this.#pool = new pg.Pool({ connectionString: options.url, max: 2 });
    // An idle client's error (the server restarted) must not crash the process; the next query fails.
    this.#pool.on('error', () => {});
  }

  /** This store's slot, as named in messages and `list()`. */
  get name(): string {
    return `${this.#o.pipeline}/${this.#o.slot}`;
  }

  /** The epoch this store holds the slot with (undefined before `prepare`). */
  get epoch(): number | undefined {
    return this.#epoch;
  }

  async prepare(): Promise<void> {
    await this.#tables();
    const { pipeline, slot, owner, leaseMs, signal } = this.#o;
    let waiting: { owner: string; since: number } | undefined;
    for (;;) {
      const taken = await this.#tx(async (c) => {
        await c.query(
          `INSERT INTO ${this.#owners} (pipeline, slot, epoch, owner, released, lease_until)
           VALUES ($1, $2, 0, '', true, now()) ON CONFLICT DO NOTHING`,
          [pipeline, slot],
        );
        const row = (
          await c.query<{ epoch: string; owner: string; released: boolean; expired: boolean }>(
            `SELECT epoch, owner, released, lease_until < now() AS expired FROM ${this.#owners}
             WHERE pipeline = $1 AND slot = $2 FOR UPDATE`,
            [pipeline, slot],
          )
        ).rows[0];
        if (!row.released && !row.expired && row.owner !== owner) return { busy: row.owner };
        const epoch = Number(row.epoch) + 1;
        await c.query(
          `UPDATE ${this.#owners} SET epoch = $3, owner = $4, released = false,
             lease_until = now() + make_interval(secs => $5::float8 / 1000) WHERE pipeline = $1 AND slot = $2`,
          [pipeline, slot, epoch, owner, leaseMs],
        );
        return { epoch, from: row.owner, released: row.released };
      });
      if ('epoch' in taken) {
        this.#epoch = taken.epoch;
        this.#o.log?.info('checkpoint slot taken', {
          slot: this.name,
          epoch: taken.epoch,
          previous_owner: taken.from || null,
          released: taken.released,
        });
        break;
      }
      if (!waiting || waiting.owner !== taken.busy) {
        waiting = { owner: taken.busy, since: Date.now() };
        this.#o.log?.info('checkpoint slot held by another worker; waiting for its release or lease', {
          slot: this.name,
          owner: taken.busy,
        });
      }
      if (signal?.aborted)
        throw this.#locked(`gave up waiting for slot ${this.name} held by '${taken.busy}'`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    this.#renew = setInterval(() => void this.#renewLease(), Math.max(100, Math.floor(leaseMs / 3)));
    this.#renew.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.#renew);
    this.#renew = undefined;
    const epoch = this.#epoch;
    this.#epoch = undefined;
    try {
      if (epoch !== undefined) {
        await this.#pool.query(
          `UPDATE ${this.#owners} SET released = true WHERE pipeline = $1 AND slot = $2 AND epoch = $3`,
          [this.#o.pipeline, this.#o.slot, epoch],
        );
      }
    } finally {
      await this.#pool.end().catch(() => {});
    }
  }

  async write(id: number, bytes: Uint8Array): Promise<void> {
    const { pipeline, slot, keep, leaseMs } = this.#o;
    await this.#tx(async (c) => {
      await this.#checkEpoch(c);
      await c.query(`DELETE FROM ${this.#o.table} WHERE pipeline = $1 AND slot = $2 AND id >= $3`, [
        pipeline,
        slot,
        id,
      ]);
      await c.query(`INSERT INTO ${this.#o.table} (pipeline, slot, id, bytes) VALUES ($1, $2, $3, $4)`, [
        pipeline,
        slot,
        id,
        Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      ]);
      await c.query(
        `DELETE FROM ${this.#o.table} WHERE pipeline = $1 AND slot = $2 AND NOT aside AND id NOT IN
           (SELECT id FROM ${this.#o.table} WHERE pipeline = $1 AND slot = $2 AND NOT aside ORDER BY id DESC LIMIT $3)`,
        [pipeline, slot, keep],
      );
      await c.query(
        `UPDATE ${this.#owners} SET lease_until = now() + make_interval(secs => $3::float8 / 1000)
         WHERE pipeline = $1 AND slot = $2`,
        [pipeline, slot, leaseMs],
      );
    }, 'could not store checkpoint');
  }

  async latest(): Promise<LatestCheckpoint | undefined> {
    return latestReadable(this.name, await this.#rows(), async (row) => this.#decode(row));
  }

  async unreadable(): Promise<{ file: string; reason: string }[]> {
    return unreadableOf(await this.#rows(), async (row) => this.#decode(row));
  }

  async setAside(file: string): Promise<string> {
    const id = Number(file.slice(file.lastIndexOf('/') + 1));
    await this.#query(
      `UPDATE ${this.#o.table} SET aside = true WHERE pipeline = $1 AND slot = $2 AND id = $3`,
      [this.#o.pipeline, this.#o.slot, id],
    );
    return `${file} (aside)`;
  }

  async list(): Promise<string[]> {
    const rows = await this.#query<{ id: string }>(
      `SELECT id FROM ${this.#o.table} WHERE pipeline = $1 AND slot = $2 AND NOT aside ORDER BY id DESC`,
      [this.#o.pipeline, this.#o.slot],
    );
    return rows.map((r) => this.#file(Number(r.id)));
  }

  async clear(): Promise<void> {
    await this.#tx(async (c) => {
      await this.#checkEpoch(c);
      await c.query(`DELETE FROM ${this.#o.table} WHERE pipeline = $1 AND slot = $2 AND NOT aside`, [
        this.#o.pipeline,
        this.#o.slot,
      ]);
    }, 'could not clear checkpoints');
  }

  // Internals

  #file(id: number): string {
    return `postgres:${this.#o.table}/${this.name}/${id}`;
  }

  async #rows(): Promise<{ id: number; bytes: Buffer }[]> {
    const rows = await this.#query<{ id: string; bytes: Buffer }>(
      `SELECT id, bytes FROM ${this.#o.table} WHERE pipeline = $1 AND slot = $2 AND NOT aside ORDER BY id DESC`,
      [this.#o.pipeline, this.#o.slot],
    );
    return rows.map((r) => ({ id: Number(r.id), bytes: r.bytes }));
  }

  #decode(row: { id: number; bytes: Buffer }): StoredRead {
    const file = this.#file(row.id);
    try {
      const data = decodeCheckpoint(row.bytes, file);
      if (data.id !== row.id)
        return { file, reason: `holds checkpoint ${data.id}, but its row says ${row.id}` };
      return { data, file };
    } catch (err) {
      if (err instanceof SluiceError && err.code === 'CHECKPOINT_CORRUPT')
        return { file, reason: err.message };
      throw err;
    }
  }

  /** Rejects with CHECKPOINT_LOCKED when another owner took the slot (locks the owner row till commit). */
  async #checkEpoch(c: pg.PoolClient): Promise<void> {
    if (this.#epoch === undefined) throw this.#locked(`slot ${this.name} is not held: prepare() first`);
    const row = (
      await c.query<{ epoch: string; owner: string }>(
        `SELECT epoch, owner FROM ${this.#owners} WHERE pipeline = $1 AND slot = $2 FOR UPDATE`,
        [this.#o.pipeline, this.#o.slot],
      )
    ).rows[0];
    if (row === undefined || Number(row.epoch) !== this.#epoch) {
      this.#fencedBy = row?.owner;
      throw this.#locked(
        `slot ${this.name} was taken over by '${row?.owner}' (epoch ${row?.epoch}, this worker held ${this.#epoch}); ` +
          'this worker no longer owns it and stops writing',
      );
    }
  }

  async #renewLease(): Promise<void> {
    const epoch = this.#epoch;
    if (epoch === undefined) return;
    try {
      const r = await this.#pool.query(
        `UPDATE ${this.#owners} SET lease_until = now() + make_interval(secs => $4::float8 / 1000)
         WHERE pipeline = $1 AND slot = $2 AND epoch = $3`,
        [this.#o.pipeline, this.#o.slot, epoch, this.#o.leaseMs],
      );
      if (r.rowCount === 0 && this.#fencedBy === undefined) {
        this.#fencedBy = '?';
        this.#o.log?.warn('checkpoint slot taken over by another worker', { slot: this.name, epoch });
      }
    } catch (err) {
      this.#o.log?.warn('checkpoint slot: lease renewal failed; retrying', {
        slot: this.name,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  #locked(message: string): SluiceError {
    return new SluiceError('CHECKPOINT_LOCKED', message);
  }

  async #tables(): Promise<void> {
    const key = `${this.#o.url}\0${this.#o.table}`;
    let p = made.get(key);
    if (!p) {
      p = this.#tx(async (c) => {
        // Concurrent CREATE TABLE IF NOT EXISTS can still collide in the catalogue: serialize.
        await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [this.#o.table]);
        await c.query(
          `CREATE TABLE IF NOT EXISTS ${this.#o.table} (
             pipeline text NOT NULL, slot text NOT NULL, id bigint NOT NULL, bytes bytea NOT NULL,
             aside boolean NOT NULL DEFAULT false, written_at timestamptz NOT NULL DEFAULT now(),
             PRIMARY KEY (pipeline, slot, id))`,
        );
        await c.query(
          `CREATE TABLE IF NOT EXISTS ${this.#owners} (
             pipeline text NOT NULL, slot text NOT NULL, epoch bigint NOT NULL, owner text NOT NULL,
             released boolean NOT NULL, lease_until timestamptz NOT NULL, PRIMARY KEY (pipeline, slot))`,
        );
      }, 'could not create the checkpoint tables');
      made.set(key, p);
      p.catch(() => made.delete(key));
    }
    await p;
  }

  async #query<R extends pg.QueryResultRow>(sql: string, values: unknown[]): Promise<R[]> {
    try {
      return (await this.#pool.query<R>(sql, values)).rows;
    } catch (err) {
      throw ioError(`checkpoint store ${this.name}`, err);
    }
  }

  async #tx<T>(body: (c: pg.PoolClient) => Promise<T>, what = 'checkpoint store'): Promise<T> {
    let c: pg.PoolClient;
    try {
      c = await this.#pool.connect();
    } catch (err) {
      throw ioError(`${what} ${this.name}`, err);
    }
    try {
      await c.query('BEGIN');
      const out = await body(c);
      await c.query('COMMIT');
      return out;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {});
      if (err instanceof SluiceError) throw err;
      throw ioError(`${what} ${this.name}`, err);
    } finally {
      c.release();
    }
  }
}

function ioError(what: string, err: unknown): SluiceError {
  return new SluiceError('IO_ERROR', `${what}: ${err instanceof Error ? err.message : String(err)}`, {
    cause: err,
  });
}
