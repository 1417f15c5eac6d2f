/**
 * The options of the `postgres` sink, declared once: they validate configs, fill defaults and
 * generate the reference page.
 */

import { retryConfig, SluiceError } from '@sluice/core';
import Type, { type Static } from 'typebox';

export const postgresSinkConfig = Type.Object(
  {
    url: Type.String({
      secret: true,
      description:
        'Connection URL, `postgres://user:password@host:port/database` (libpq form; `?sslmode=` and the other query options `pg` knows apply). A secret: it never appears in logs or errors.',
      examples: ['postgres://sluice:change-me@127.0.0.1:5432/analytics'],
    }),
    table: Type.String({
      minLength: 1,
      description:
        'The table written, `name` or `schema.name`; each part is quoted as given, so `Orders` is the table "Orders".',
      examples: ['public.revenue_by_region'],
    }),
    mode: Type.Union([Type.Literal('append'), Type.Literal('upsert')], {
      default: 'append',
      description:
        '`append`: every record becomes a row, written by `COPY`. `upsert`: records are changes of rows identified by `key` — inserts and updates by `INSERT … ON CONFLICT (key) DO UPDATE`, deletes (and the old row of an update) by `DELETE … WHERE key`; takes updating streams (an `aggregate` without a window, a join).',
    }),
    key: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        minItems: 1,
        description:
          'With `mode: upsert`: the columns of the table’s primary key (or of another unique index), read from the record’s fields of the same names.',
        examples: [['region']],
      }),
    ),
    columns: Type.Optional(
      Type.Record(Type.String({ minLength: 1 }), Type.String({ minLength: 1 }), {
        description:
          'Column name → PostgreSQL type (`bigint`, `text`, `double precision`, `jsonb`, `timestamptz`, …), in table order. The columns written, each from the record field of the same name; needed by `create_table`, which creates the table with them. Absent: every column of the existing table is written.',
        examples: [{ region: 'text', revenue: 'double precision', updated: 'timestamptz' }],
      }),
    ),
    create_table: Type.Boolean({
      default: false,
      description:
        'Create the table from `columns` (with `key` as its primary key) when it does not exist. The sink contract gives a sink no schema of its input, so the column types come from `columns`.',
    }),
    delivery: Type.Union([Type.Literal('at_least_once'), Type.Literal('exactly_once')], {
      default: 'at_least_once',
      description:
        '`at_least_once`: upserts and deletes commit each statement when it completes, appends at each checkpoint, every 8 MiB or 1 s, and at the end; a restart writes again what came after the last checkpoint. `exactly_once`: the writes between two checkpoints are one transaction, prepared at the checkpoint (`PREPARE TRANSACTION`) and committed once it is durable, so readers see each record once; needs a server with `max_prepared_transactions` > 0 and one worker per pipeline, and rows appear only at checkpoints.',
    }),
    dialect: Type.Union([Type.Literal('postgresql'), Type.Literal('redshift')], {
      default: 'postgresql',
      description:
        '`postgresql`: appends by `COPY … FROM STDIN`, upserts by `INSERT … ON CONFLICT`. `redshift`: only what Amazon Redshift’s PostgreSQL wire protocol takes — appends by multi-row `INSERT`, upserts staged into a temporary table (`CREATE TEMP TABLE … (LIKE table)`, multi-row `INSERT`) then applied by delete-then-insert in one transaction (`DELETE … USING` the stage, `INSERT … SELECT`), so the table needs no unique index; deletes by `DELETE … WHERE key IN`. Redshift’s `COPY` reads from S3, not from the client, and it has no `ON CONFLICT` nor `PREPARE TRANSACTION`, so `delivery: exactly_once` is refused.',
    }),
    batch_size: Type.Integer({
      minimum: 1,
      maximum: 100_000,
      default: 1000,
      description:
        'Most rows per statement: one `COPY`, one `INSERT`, one `DELETE`. A write larger than this is sent as several statements, in order. `at_least_once` appends keep one `COPY` open across writes and send its text `batch_size` rows at a time.',
    }),
    connect_timeout: Type.Integer({
      minimum: 1,
      default: 10_000,
      description: 'Milliseconds to wait for a connection before the attempt counts as failed.',
    }),
    retry: retryConfig,
  },
  { additionalProperties: false },
);

/** The `postgres` sink's options, defaults applied. */
export type PostgresSinkConfig = Static<typeof postgresSinkConfig>;

/**
 * Checks what the schema cannot say (no I/O): `mode: upsert` needs `key`, `create_table` needs
 * `columns`, and declared columns include the key. Throws CONFIG_INVALID naming the option.
 */
export function checkSinkConfig(config: PostgresSinkConfig): void {
  const fail = (path: string, message: string) => {
    throw new SluiceError('CONFIG_INVALID', message, { path });
  };
  if (config.mode === 'upsert' && config.key === undefined)
    fail('key', '`mode: upsert` needs `key`: the columns of the table’s primary key');
  if (config.mode === 'append' && config.key !== undefined)
    fail('key', '`key` is for `mode: upsert`; `mode: append` writes every record as a new row');
  if (config.dialect === 'redshift' && config.delivery === 'exactly_once')
    fail(
      'delivery',
      '`dialect: redshift` cannot write `exactly_once`: Redshift has no `PREPARE TRANSACTION` (two-phase commit); use `at_least_once`',
    );
  if (config.create_table && config.columns === undefined)
    fail(
      'columns',
      '`create_table: true` needs `columns` (column name → PostgreSQL type): a sink is not given the schema of its input',
    );
  if (config.columns !== undefined) {
    const names = Object.keys(config.columns);
    if (names.length === 0) fail('columns', '`columns` names no column');
    for (const k of config.key ?? [])
      if (!names.includes(k))
        fail('key', `key column '${k}' is not one of \`columns\` (${names.join(', ')})`);
  }
}
