/**
 * The `postgres` source: change data capture of one table by logical replication (`pgoutput`),
 * an upsert changelog keyed by the table's primary key. `open` checks the server and the table,
 * creates the publication and the slot when missing, and hands the reader where to start: the
 * checkpoint's position, or a new slot's consistent point with its exported snapshot.
 */

import { defineSource, type Logger, SluiceError, type SourceContext, type SourceReader } from '@sluice/core';
import pg from 'pg';
import type { ReplicationClientConfig } from 'pg-logical-replication';
import { type CdcSourceConfig, cdcSourceConfig, checkCdcConfig, slotName, tableName } from './cdc-config.ts';
import { type CdcPosition, CdcReader, type CdcStart, isCdcPosition } from './cdc-reader.ts';
import { quoteIdent, quoteTable } from './encode.ts';
import { serverReason } from './pg-errors.ts';
import { recordTypes } from './values.ts';

export const postgresSource = defineSource({
  type: 'postgres',
  summary:
    "Reads a PostgreSQL table's rows, then every insert, update and delete, by logical replication (`pgoutput`): an upsert (or retract) changelog keyed by the table's primary key.",
  description:
    'Change data capture of one table. The server needs `wal_level = logical`. The source creates a publication for the table and a logical replication slot when they are missing; the slot keeps the changes until the checkpoint that covers them is durable, then the source confirms them to the server (a restart resumes at the checkpoint, even after the server restarted). Without a checkpoint, the table is first read from the snapshot the slot was created at (`snapshot: initial`). Inserts become INSERT records; with `changelog: upsert` (the default) updates are UPDATE_AFTER records of the new row (with a DELETE of the old key first when the key changed) and deletes DELETE records of the key columns (all columns with `REPLICA IDENTITY FULL`); with `changelog: retract` (which needs `REPLICA IDENTITY FULL`) an update is an UPDATE_BEFORE of the old row and an UPDATE_AFTER of the new one, a delete a DELETE of the old row; each record has its transaction’s commit time. A TRUNCATE cannot be given as changes of rows: it goes to the dead letters with that reason. Values are typed as `pg` types them (64-bit integers as numbers when exact, else bigints). A column TOASTed and not changed by an update is absent from its row unless the table has `REPLICA IDENTITY FULL`.\n\nPositions are LSNs in the checkpoint, and the slot confirms only what a durable checkpoint covers: after the snapshot, a restart resumes exactly (a transaction handed out in part is read again and its changes already handed out skipped). A restart in the middle of the initial snapshot reads the rest of the table from a newer snapshot, so rows changed meanwhile may come twice — as upserts by key they describe the same table; hence `snapshot: initial` is at-least-once.',
  config: cdcSourceConfig,
  identity: ['url', 'table', 'slot', 'publication'],
  delivery: { option: 'snapshot', values: { initial: 'at-least-once', never: 'exactly-once' } },
  changelog: (config) => ({
    mode: config.changelog,
    key: config.key,
    reason: `it reads the changes of table ${config.table}`,
  }),
  example: [
    'type: postgres',
    'url: postgres://sluice:change-me@127.0.0.1:5432/shop',
    'table: public.orders',
    'key: [id]',
  ].join('\n'),
  create: (config) => {
    checkCdcConfig(config);
    return { open: (ctx) => open(config, ctx) };
  },
});

async function open(config: CdcSourceConfig, ctx: SourceContext): Promise<SourceReader[]> {
  const slot = slotName(config, ctx.pipeline, ctx.id);
  const restored = ctx.restored[partitionOf(config)];
  const client = new pg.Client({
    connectionString: config.url,
    connectionTimeoutMillis: config.connect_timeout,
    application_name: `sluice ${ctx.id}`,
    types: recordTypes,
  });
  const unavailable = (what: string, err: unknown) =>
    new SluiceError('SOURCE_UNAVAILABLE', `postgres source: ${what}: ${serverReason(err)}`, {
      step: ctx.id,
      cause: err,
    });
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw unavailable('cannot connect', err);
  }
  try {
    await checkServer(client, config, ctx.id);
    await ensurePublication(client, config, config.publication ?? slot, ctx.log);
    const start = isCdcPosition(restored)
      ? await resume(client, config, slot, restored, ctx)
      : await begin(client, config, slot, ctx);
    return [new CdcReader(config, ctx, slot, start)];
  } catch (err) {
    if (err instanceof SluiceError) throw err;
    throw unavailable('cannot start', err);
  } finally {
    await client.end().catch(() => {});
  }
}

/** The partition name the reader reads under: the table, `schema.name`. */
function partitionOf(config: CdcSourceConfig): string {
  const { schema, name } = tableName(config);
  return `${schema}.${name}`;
}

/** Logical decoding is on, the table exists, and `key` is what identifies its rows in the WAL. */
async function checkServer(client: pg.Client, config: CdcSourceConfig, step: string): Promise<void> {
  const wal = (await client.query<{ wal_level: string }>('SHOW wal_level')).rows[0]?.wal_level;
  if (wal !== 'logical')
    throw new SluiceError(
      'SOURCE_UNAVAILABLE',
      `postgres source: the server has wal_level = ${wal}; change data capture needs wal_level = logical (set it in postgresql.conf and restart the server)`,
      { step },
    );
  const table = quoteTable(config.table);
  const found = await client.query<{ identity: string; key: string[] | null }>(
    `SELECT c.relreplident AS identity,
            (SELECT array_agg(a.attname::text ORDER BY k.n)
               FROM pg_index i
               CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
              WHERE i.indrelid = c.oid
                AND (CASE WHEN c.relreplident = 'i' THEN i.indisreplident ELSE i.indisprimary END)) AS key
       FROM pg_class c WHERE c.oid = to_regclass($1)`,
    [table],
  );
  const row = found.rows[0];
  if (row === undefined)
    throw new SluiceError('CONFIG_INVALID', `postgres source: table ${config.table} does not exist`, {
      step,
      path: 'table',
    });
  if (row.identity === 'f') return; // REPLICA IDENTITY FULL: every old row is whole in the WAL.
  if (config.changelog === 'retract')
    throw new SluiceError(
      'CONFIG_INVALID',
      `postgres source: changelog: retract needs the old rows whole, but table ${config.table} has REPLICA IDENTITY ${row.identity === 'd' ? 'DEFAULT' : row.identity === 'i' ? 'USING INDEX' : 'NOTHING'}; run ALTER TABLE ${config.table} REPLICA IDENTITY FULL, or use changelog: upsert`,
      { step, path: 'changelog' },
    );
  const key = row.key ?? [];
  const same = key.length === config.key.length && key.every((k) => config.key.includes(k));
  if (same) return;
  const message =
    key.length === 0
      ? `table ${config.table} has no primary key (nor a replica identity index), so its updates and deletes name no row; give it one, or set REPLICA IDENTITY FULL`
      : `key is [${config.key.join(', ')}], but table ${config.table} identifies its rows by [${key.join(', ')}] (${row.identity === 'i' ? 'its replica identity index' : 'its primary key'}); set key: [${key.join(', ')}]`;
  throw new SluiceError('CONFIG_INVALID', `postgres source: ${message}`, { step, path: 'key' });
}

/** The publication exists and publishes the table; one is created for it when missing. */
async function ensurePublication(
  client: pg.Client,
  config: CdcSourceConfig,
  publication: string,
  log: Logger,
): Promise<void> {
  const { schema, name } = tableName(config);
  const exists = await client.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [publication]);
  if (exists.rowCount === 0) {
    await client.query(`CREATE PUBLICATION ${quoteIdent(publication)} FOR TABLE ${quoteTable(config.table)}`);
    log.info('postgres source: created publication', { publication, table: config.table });
    return;
  }
  const publishes = await client.query(
    'SELECT 1 FROM pg_publication_tables WHERE pubname = $1 AND schemaname = $2 AND tablename = $3',
    [publication, schema, name],
  );
  if (publishes.rowCount === 0)
    throw new SluiceError(
      'CONFIG_INVALID',
      `postgres source: publication ${publication} does not publish table ${config.table}; add it (ALTER PUBLICATION ${publication} ADD TABLE ${config.table}) or name another publication`,
      { path: 'publication' },
    );
}

interface SlotRow {
  plugin: string | null;
  database: string | null;
  active_pid: number | null;
  confirmed: string | null;
}

async function slotOf(client: pg.Client, slot: string): Promise<SlotRow | undefined> {
  return (
    await client.query<SlotRow>(
      'SELECT plugin, database, active_pid, confirmed_flush_lsn::text AS confirmed FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    )
  ).rows[0];
}

/** A restart from a checkpoint: the slot must still hold what followed it. */
async function resume(
  client: pg.Client,
  config: CdcSourceConfig,
  slot: string,
  position: CdcPosition,
  ctx: SourceContext,
): Promise<CdcStart> {
  const found = await slotOf(client, slot);
  if (found === undefined || position.slot !== slot)
    throw new SluiceError(
      'SOURCE_POSITION_LOST',
      `postgres source: the checkpoint resumes replication slot ${position.slot}, which ${found === undefined ? 'no longer exists' : `is not the slot configured now (${slot})`}: the changes since the checkpoint cannot be read; run with --from-scratch to read the table again from a new snapshot`,
      { step: ctx.id },
    );
  await checkSlot(found, slot, ctx.id);
  if (position.snapshot === undefined) return { position };
  // The snapshot was not finished: read the rest from a snapshot of now. The changes since the
  // first snapshot's consistent point follow it, so rows changed meanwhile may come twice.
  ctx.log.warn(
    'postgres source: resuming an unfinished snapshot from a newer one; rows changed since may come twice',
    {
      table: config.table,
      slot,
    },
  );
  const snapshotClient = await snapshotConnection(config, ctx.id);
  await snapshotClient.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  return { position, snapshotClient };
}

async function checkSlot(found: SlotRow, slot: string, step: string): Promise<void> {
  if (found.plugin !== 'pgoutput')
    throw new SluiceError(
      'CONFIG_INVALID',
      `postgres source: replication slot ${slot} uses the ${found.plugin ?? 'physical'} plugin, not pgoutput; name another slot`,
      { step, path: 'slot' },
    );
  if (found.active_pid !== null)
    throw new SluiceError(
      'SOURCE_UNAVAILABLE',
      `postgres source: replication slot ${slot} is in use by another connection (server process ${found.active_pid}): one pipeline reads one slot`,
      { step, path: 'slot' },
    );
}

/** A start without a checkpoint: a new slot, and its snapshot unless `snapshot: never`. */
async function begin(
  client: pg.Client,
  config: CdcSourceConfig,
  slot: string,
  ctx: SourceContext,
): Promise<CdcStart> {
  const found = await slotOf(client, slot);
  if (found !== undefined) {
    await checkSlot(found, slot, ctx.id);
    if (config.snapshot === 'never' && found.confirmed !== null) {
      // The changes the slot holds are read: from one made beforehand, or left by a run that
      // crashed before its first checkpoint.
      ctx.log.info('postgres source: reading the changes the replication slot holds', {
        slot,
        lsn: found.confirmed,
      });
      return { position: { slot, lsn: found.confirmed } };
    }
    // A snapshot must be the slot's own: start over with a new slot.
    ctx.log.info('postgres source: no checkpoint; recreating the replication slot with a snapshot', { slot });
    await client.query('SELECT pg_drop_replication_slot($1)', [slot]);
  }
  if (config.snapshot === 'never') {
    const created = await client.query<{ lsn: string }>(
      "SELECT lsn::text AS lsn FROM pg_create_logical_replication_slot($1, 'pgoutput')",
      [slot],
    );
    const lsn = created.rows[0].lsn;
    ctx.log.info('postgres source: created replication slot', { slot, lsn });
    return { position: { slot, lsn } };
  }
  // The slot and its exported snapshot: the snapshot is valid while the replication connection
  // that made it stays open and idle, so it is imported before that connection closes.
  const replicationConfig: ReplicationClientConfig = {
    connectionString: config.url,
    connectionTimeoutMillis: config.connect_timeout,
    replication: 'database',
  };
  const replication = new pg.Client(replicationConfig);
  const snapshotClient = await snapshotConnection(config, ctx.id);
  try {
    await replication.connect();
    const created = await replication.query<{ consistent_point: string; snapshot_name: string }>(
      `CREATE_REPLICATION_SLOT ${quoteIdent(slot)} LOGICAL pgoutput (SNAPSHOT 'export')`,
    );
    const { consistent_point: lsn, snapshot_name: name } = created.rows[0];
    await snapshotClient.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await snapshotClient.query(`SET TRANSACTION SNAPSHOT '${name.replace(/'/g, "''")}'`);
    ctx.log.info('postgres source: created replication slot; reading the snapshot', {
      slot,
      lsn,
      table: config.table,
    });
    return { position: { slot, lsn, snapshot: { after: null } }, snapshotClient };
  } catch (err) {
    await snapshotClient.end().catch(() => {});
    throw err;
  } finally {
    await replication.end().catch(() => {});
  }
}

async function snapshotConnection(config: CdcSourceConfig, step: string): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: config.url,
    connectionTimeoutMillis: config.connect_timeout,
    application_name: `sluice ${step} snapshot`,
    types: recordTypes,
  });
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw err;
  }
  return client;
}
