/**
 * The options of the `postgres` source (change data capture), declared once: they validate
 * configs, fill defaults and generate the reference page.
 */

import { SluiceError } from '@sluice/core';
import Type, { type Static } from 'typebox';

export const cdcSourceConfig = Type.Object(
  {
    url: Type.String({
      secret: true,
      description:
        'Connection URL, `postgres://user:password@host:port/database`, of a server with `wal_level = logical`; the user needs the REPLICATION attribute (or to be a superuser) and, to create the publication, to own the table. A secret: it never appears in logs or errors.',
      examples: ['postgres://sluice:change-me@127.0.0.1:5432/shop'],
    }),
    table: Type.String({
      minLength: 1,
      description:
        'The table whose changes are read, `name` or `schema.name` (`public` when no schema is given); each part as given, so `Orders` is the table "Orders".',
      examples: ['public.orders'],
    }),
    key: Type.Array(Type.String({ minLength: 1 }), {
      minItems: 1,
      description:
        'The columns of the table’s primary key (or of the unique index its `REPLICA IDENTITY` uses): the key the changes are an upsert changelog by, which the plan checks sinks against. Checked against the table at start.',
      examples: [['id'], ['order_id', 'line']],
    }),
    changelog: Type.Union([Type.Literal('upsert'), Type.Literal('retract')], {
      default: 'upsert',
      description:
        'The changelog the changes form. `upsert`: an update is its new row alone (after a DELETE of the old key when the key changed), a delete the key columns — what upsert sinks and temporal joins take. `retract`: an update is an UPDATE_BEFORE of the whole old row followed by an UPDATE_AFTER of the new one, a delete the whole old row — what record-by-record steps (`map`, `filter`) and regular joins take; needs the table’s `REPLICA IDENTITY FULL` (checked at start), so that the WAL holds old rows whole.',
    }),
    slot: Type.Optional(
      Type.String({
        pattern: '^[a-z0-9_]{1,63}$',
        description:
          'The logical replication slot: it keeps the changes not yet confirmed, across restarts of the pipeline and of the server. Created (with the `pgoutput` plugin) when missing. Absent: `sluice_<pipeline>_<source id>`, lowercased, other characters as `_`. Drop it (`SELECT pg_drop_replication_slot(…)`) when the pipeline is retired: a slot nobody reads keeps WAL on the server’s disk.',
        examples: ['sluice_orders'],
      }),
    ),
    publication: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 63,
        description:
          'The publication the slot streams (`CREATE PUBLICATION … FOR TABLE …`); created for `table` when missing. Absent: the slot’s name.',
        examples: ['sluice_orders'],
      }),
    ),
    snapshot: Type.Union([Type.Literal('initial'), Type.Literal('never')], {
      default: 'initial',
      description:
        '`initial`: a pipeline without a checkpoint first reads the table’s rows as inserts, from the snapshot the slot is created at (an existing slot is dropped and created again, since its snapshot is gone), then the changes after it — together, the whole table and every change, each once. `never`: only changes — those the slot holds when it exists already (made beforehand, or left by a run that stopped before its first checkpoint), else those made after it is created.',
    }),
    snapshot_batch: Type.Integer({
      minimum: 1,
      maximum: 100_000,
      default: 5000,
      description: 'Rows read by one query of the initial snapshot (read in key order, page by page).',
    }),
    max_buffered: Type.Integer({
      minimum: 1,
      default: 10_000,
      description:
        'Changes held in memory ahead of the pipeline; past them the replication stream is paused until the pipeline catches up (transactions are taken whole, so one larger than this is still held whole).',
    }),
    connect_timeout: Type.Integer({
      minimum: 1,
      default: 10_000,
      description: 'Milliseconds to wait for a connection before the attempt counts as failed.',
    }),
  },
  { additionalProperties: false },
);

/** The `postgres` source's options, defaults applied. */
export type CdcSourceConfig = Static<typeof cdcSourceConfig>;

/** The table as schema and name, unquoted (`public` when the option names no schema). */
export function tableName(config: Pick<CdcSourceConfig, 'table'>): { schema: string; name: string } {
  const dot = config.table.indexOf('.');
  return dot < 0
    ? { schema: 'public', name: config.table }
    : { schema: config.table.slice(0, dot), name: config.table.slice(dot + 1) };
}

/** The slot a source uses: `slot`, or one derived from the pipeline and the source's id. */
export function slotName(
  config: Pick<CdcSourceConfig, 'slot'>,
  pipeline: string | undefined,
  id: string,
): string {
  if (config.slot !== undefined) return config.slot;
  return `sluice_${pipeline ?? 'embedded'}_${id}`
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .slice(0, 63);
}

/** Checks what the schema cannot say (no I/O): the key names no column twice. */
export function checkCdcConfig(config: CdcSourceConfig): void {
  const seen = new Set<string>();
  for (const column of config.key) {
    if (seen.has(column))
      throw new SluiceError('CONFIG_INVALID', `key names column '${column}' twice`, { path: 'key' });
    seen.add(column);
  }
}
