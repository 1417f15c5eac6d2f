/**
 * The options of the `duckdb` sink, declared once: they validate configs, fill defaults and
 * generate the reference page.
 */

import { retryConfig, SluiceError } from '@sluice/core';
import Type, { type Static } from 'typebox';

export const duckdbSinkConfig = Type.Object(
  {
    path: Type.String({
      minLength: 1,
      description:
        'The database file, relative to the pipeline file’s folder; created when missing. `:memory:` keeps the database in this process only (tests).',
      examples: ['data/analytics.duckdb'],
    }),
    table: Type.String({
      minLength: 1,
      pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
      description: 'The table written, in the main schema: letters, digits and `_`.',
      examples: ['revenue_by_region'],
    }),
    mode: Type.Union([Type.Literal('append'), Type.Literal('upsert')], {
      default: 'append',
      description:
        '`append`: every record becomes a row. `upsert`: records are changes of rows identified by `key` — inserts and updates by `INSERT … ON CONFLICT (key) DO UPDATE`, deletes (and the old row of an update) by `DELETE … WHERE key`; takes updating streams (an `aggregate` without a window, a join).',
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
          'Column name → DuckDB type (`BIGINT`, `VARCHAR`, `DOUBLE`, `TIMESTAMP`, `VARCHAR[]`, `JSON`, …), in table order; a type may end with `NOT NULL`. Needed by `create_table`. The columns written are the table’s, each from the record field of the same name.',
        examples: [{ region: 'VARCHAR NOT NULL', revenue: 'DOUBLE', updated: 'TIMESTAMP' }],
      }),
    ),
    create_table: Type.Boolean({
      default: false,
      description:
        'Create the table from `columns` (with `key` as its primary key) when it does not exist. The sink contract gives a sink no schema of its input, so the column types are declared.',
    }),
    serve_queries: Type.Boolean({
      default: false,
      description:
        'Answer read-only SQL (`sluice query <pipeline> "<sql>"`) from the running pipeline’s own connection, on 127.0.0.1 at a port written to `query.json` in the sink’s state folder. DuckDB lets one process write a file, so without it the file cannot be queried while the pipeline runs.',
    }),
    retry: retryConfig,
  },
  { additionalProperties: false },
);

export type DuckdbSinkConfig = Static<typeof duckdbSinkConfig>;

/**
 * Checks what the schema cannot: `upsert` has a `key`, `create_table` has `columns`, and declared
 * columns include the key. Throws CONFIG_INVALID naming the option.
 */
export function checkSinkConfig(config: DuckdbSinkConfig): void {
  const fail = (path: string, message: string) => {
    throw new SluiceError('CONFIG_INVALID', message, { path });
  };
  if (config.mode === 'upsert' && config.key === undefined)
    fail('key', '`mode: upsert` needs `key`: the columns of the table’s primary key');
  if (config.mode === 'append' && config.key !== undefined)
    fail('key', '`key` is for `mode: upsert`; `mode: append` writes every record as a new row');
  if (config.create_table && config.columns === undefined)
    fail('columns', '`create_table: true` needs `columns` (column name → DuckDB type)');
  if (config.columns !== undefined) {
    const names = Object.keys(config.columns);
    if (names.length === 0) fail('columns', '`columns` names no column');
    for (const k of config.key ?? [])
      if (!names.includes(k))
        fail('key', `key column '${k}' is not one of \`columns\` (${names.join(', ')})`);
  }
}
