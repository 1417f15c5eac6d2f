/**
 * Two-phase commit for the `postgres` sink's `delivery: exactly_once`: the writes between two
 * checkpoints form one transaction, prepared (`PREPARE TRANSACTION`) at the checkpoint and
 * committed (`COMMIT PREPARED`) once the checkpoint is durable; a restart commits what its
 * checkpoint prepared and rolls back what later, never-completed checkpoints prepared.
 */

import { createHash } from 'node:crypto';
import { SluiceError } from '@sluice/core';
import type pg from 'pg';

/** What `prepareCommit` returns: the global ids of the transactions prepared and not yet committed. */
export interface PreparedState {
  readonly prepared: readonly string[];
}

/** Whether `value` is a state this sink's `prepareCommit` returned. */
export function isPreparedState(value: unknown): value is PreparedState {
  return (
    typeof value === 'object' &&
    value !== null &&
    Array.isArray((value as { prepared?: unknown }).prepared) &&
    (value as { prepared: unknown[] }).prepared.every((g) => typeof g === 'string')
  );
}

/** A string as an SQL literal. */
function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/**
 * The prefix of every global transaction id of one sink of one pipeline: readable
 * (`sluice/<pipeline>/<sink>/`) when short enough for PostgreSQL's 200-byte ids, else hashed.
 */
export function gidPrefix(pipeline: string, sink: string): string {
  const readable = `sluice/${pipeline}/${sink}/`;
  if (Buffer.byteLength(readable) <= 160) return readable;
  return `sluice/${createHash('sha256').update(`${pipeline}\0${sink}`).digest('hex').slice(0, 32)}/`;
}

/**
 * Refuses a server that cannot prepare transactions (`max_prepared_transactions = 0`, its
 * default) with CONFIG_INVALID saying how to allow it.
 */
export async function checkPreparedAllowed(client: pg.Client, step: string): Promise<void> {
  const shown = await client.query<{ max_prepared_transactions: string }>('SHOW max_prepared_transactions');
  const max = Number(shown.rows[0]?.max_prepared_transactions ?? 0);
  if (max > 0) return;
  throw new SluiceError(
    'CONFIG_INVALID',
    'postgres sink: `delivery: exactly_once` prepares a transaction at each checkpoint (PREPARE TRANSACTION), but this server does not allow prepared transactions (max_prepared_transactions = 0). Set max_prepared_transactions in postgresql.conf to at least the number of exactly-once postgres sinks writing to it at once, times two, and restart the server — or use `delivery: at_least_once`',
    { step, path: 'delivery' },
  );
}

/**
 * At open: commits the transactions `restored` names that are still prepared (their checkpoint
 * is durable; the commit was lost in the crash), and rolls back every other prepared transaction
 * of this sink (prepared for checkpoints that never completed). Returns how many of each.
 */
export async function recoverPrepared(
  client: pg.Client,
  prefix: string,
  restored: unknown,
): Promise<{ committed: number; rolledBack: number }> {
  const keep = new Set(isPreparedState(restored) ? restored.prepared : []);
  const found = await client.query<{ gid: string }>(
    'SELECT gid FROM pg_prepared_xacts WHERE database = current_database() AND starts_with(gid, $1) ORDER BY prepared',
    [prefix],
  );
  let committed = 0;
  let rolledBack = 0;
  for (const { gid } of found.rows) {
    if (keep.has(gid)) {
      await finishPrepared(client, gid, 'COMMIT');
      committed++;
    } else {
      await finishPrepared(client, gid, 'ROLLBACK');
      rolledBack++;
    }
  }
  return { committed, rolledBack };
}

/** `PREPARE TRANSACTION` of the client's open transaction under `gid`. */
export async function prepareTransaction(client: pg.Client, gid: string): Promise<void> {
  await client.query(`PREPARE TRANSACTION ${literal(gid)}`);
}

/**
 * `COMMIT PREPARED` or `ROLLBACK PREPARED` of `gid`, from a session with no transaction open; a
 * transaction no longer prepared (finished before, SQLSTATE 42704) counts as done.
 */
export async function finishPrepared(
  client: pg.Client,
  gid: string,
  how: 'COMMIT' | 'ROLLBACK',
): Promise<void> {
  try {
    await client.query(`${how} PREPARED ${literal(gid)}`);
  } catch (err) {
    if ((err as { code?: unknown }).code !== '42704') throw err;
  }
}
