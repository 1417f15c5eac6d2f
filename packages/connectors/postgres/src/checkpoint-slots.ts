/**
 * Reading a pipeline's slots of the PostgreSQL checkpoint store without taking any: who owns
 * each slot (owner, epoch, released, lease), and its newest checkpoint — id, when it was written,
 * its size, and the source positions it holds. `sluice status` shows them next to what Kafka says
 * of the workers' group.
 */

import {
  type CheckpointSlot,
  decodeCheckpoint,
  redactUrlCredentials,
  type SlotCheckpoint,
  SluiceError,
} from '@sluice/core';
import pg from 'pg';

export interface ReadSlotsOptions {
  /** Connection URL (`postgres://user@host:5432/db`). */
  url: string;
  pipeline: string;
  /** Table of the checkpoints (default `sluice_checkpoints`; owners in `<table>_owners`). */
  table?: string;
}

const TABLE = /^[A-Za-z_][A-Za-z0-9_]{0,50}(\.[A-Za-z_][A-Za-z0-9_]{0,50})?$/;

/**
 * Every slot of `pipeline` with its owner row and newest checkpoint, by slot name; and the
 * database's clock, which the leases are measured by. Reads only: takes, renews and releases
 * nothing. Throws CONFIG_INVALID when the store has no checkpoint tables (no worker ever used it),
 * IO_ERROR when the database cannot be reached or read.
 */
export async function readCheckpointSlots(
  options: ReadSlotsOptions,
): Promise<{ slots: CheckpointSlot[]; now: number }> {
  const table = options.table ?? 'sluice_checkpoints';
  if (!TABLE.test(table)) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `checkpoint table '${table}': [schema.]name with letters, digits and _`,
    );
  }
  const where = redactUrlCredentials(options.url);
  const client = new pg.Client({ connectionString: options.url });
  // An error after connecting (the server went away) must not crash the process; the query fails.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    throw new SluiceError('IO_ERROR', `checkpoint store ${where}: ${message(err)}`, { cause: err });
  }
  try {
    const exists = await client.query<{ checkpoints: string | null; owners: string | null }>(
      'SELECT to_regclass($1)::text AS checkpoints, to_regclass($2)::text AS owners',
      [table, `${table}_owners`],
    );
    const found = exists.rows[0];
    if (found.checkpoints === null || found.owners === null) {
      throw new SluiceError(
        'CONFIG_INVALID',
        `the checkpoint store ${where} has no table ${found.checkpoints === null ? table : `${table}_owners`}: ` +
          'no worker has used this store (workers create the tables when they start); check --checkpoint-store',
      );
    }
    const owners = await client.query<{
      slot: string;
      owner: string;
      epoch: string;
      released: boolean;
      lease_until: Date;
      held: boolean;
      now: Date;
    }>(
      `SELECT slot, owner, epoch, released, lease_until, NOT released AND lease_until > now() AS held, now() AS now
       FROM ${table}_owners WHERE pipeline = $1`,
      [options.pipeline],
    );
    // The newest checkpoint of each slot; only its header and source positions are kept.
    const newest = await client.query<{
      slot: string;
      id: string;
      written_at: Date;
      size: number;
      bytes: Buffer;
    }>(
      `SELECT DISTINCT ON (slot) slot, id, written_at, octet_length(bytes) AS size, bytes
       FROM ${table} WHERE pipeline = $1 AND NOT aside ORDER BY slot, id DESC`,
      [options.pipeline],
    );
    const checkpoints = new Map<string, SlotCheckpoint>();
    for (const row of newest.rows) {
      const base = { id: Number(row.id), writtenAt: row.written_at.getTime(), bytes: Number(row.size) };
      try {
        const data = decodeCheckpoint(
          row.bytes,
          `postgres:${table}/${options.pipeline}/${row.slot}/${row.id}`,
        );
        checkpoints.set(row.slot, {
          ...base,
          createdAt: data.createdAt,
          sources: data.sources,
          restarts: data.counters?.['job:restarts'] ?? 0,
        });
      } catch (err) {
        if (!(err instanceof SluiceError)) throw err;
        checkpoints.set(row.slot, {
          ...base,
          createdAt: undefined,
          sources: undefined,
          unreadable: err.message,
        });
      }
    }
    const slots: CheckpointSlot[] = owners.rows.map((r) => ({
      slot: r.slot,
      owner: r.owner,
      epoch: Number(r.epoch),
      released: r.released,
      leaseUntil: r.lease_until.getTime(),
      held: r.held,
      checkpoint: checkpoints.get(r.slot),
    }));
    // A slot with checkpoints but no owner row (written by another store version): nobody holds it.
    for (const [slot, checkpoint] of checkpoints) {
      if (!slots.some((s) => s.slot === slot)) {
        slots.push({ slot, owner: '', epoch: 0, released: true, leaseUntil: 0, held: false, checkpoint });
      }
    }
    slots.sort((a, b) => a.slot.localeCompare(b.slot, 'en', { numeric: true }));
    const now =
      owners.rows[0]?.now.getTime() ??
      (await client.query<{ now: Date }>('SELECT now()')).rows[0].now.getTime();
    return { slots, now };
  } catch (err) {
    if (err instanceof SluiceError) throw err;
    throw new SluiceError('IO_ERROR', `checkpoint store ${where}: ${message(err)}`, { cause: err });
  } finally {
    await client.end().catch(() => {});
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
