/**
 * The `duckdb` sink's spec: its options, guarantee, changelog support and reference text.
 */

import { defineSink } from '@sluice/core';
import { DuckdbSink } from './sink.ts';
import { duckdbSinkConfig } from './sink-config.ts';

/** The `duckdb` sink spec. */
export const duckdbSink = defineSink({
  type: 'duckdb',
  summary:
    'Writes records to a table of a DuckDB database file, published once per checkpoint: appends, or upserts and deletes by key.',
  description: [
    'Each record becomes a row of `table`, each column taken from the record field of the same',
    'name (a missing field is NULL; fields without a column are not written). DuckDB casts each',
    'value to its column’s type; an array goes into a list column as a list, other objects and',
    'arrays as JSON text.',
    '',
    '- `mode: append` adds every record as a row, in order.',
    '- `mode: upsert` takes changelogs (an `aggregate` without a window, a join): the changes of',
    '  each key fold to its last; an insert or update becomes `INSERT … ON CONFLICT (key) DO',
    '  UPDATE`, a delete or a lone UPDATE_BEFORE `DELETE … WHERE key`. `key` must be the columns of',
    '  the table’s primary key or of another unique index.',
    '',
    '`create_table: true` creates the table from `columns` (with `key` as its primary key) when it',
    'does not exist.',
    '',
    '**Delivery: exactly once.** Each write is staged in a table of the same file',
    '(`_sluice_stage_<table>_<pipeline>_<sink>`, through DuckDB’s Appender, flushed and committed',
    'before the write resolves). At a checkpoint',
    'the staged changes are marked with its id; once the checkpoint is durable they are published',
    'into `table` and removed from the stage in one DuckDB transaction, which also records the',
    'checkpoint id in `_sluice_checkpoints`. A restart publishes what its checkpoint marked and',
    'drops what came after it (the job writes it again), so each record is published once; rows',
    'appear at checkpoints and at the end. One pipeline process writes a file (DuckDB’s lock); a',
    'restore that falls back to an older checkpoint than the last published one is logged, and',
    'those records are published again.',
    '',
    '- **Refused records** — a value DuckDB will not cast to its column’s type (DuckDB’s reason, with',
    '  the column), no value for a NOT NULL column: the record goes to the dead-letter output, the',
    '  others are written.',
    '- **Transient failures** — the file locked by another process, I/O errors: retried with capped',
    '  exponential backoff and jitter (`retry`), then SINK_UNAVAILABLE.',
    '- **Setup errors** — no such table or column: CONFIG_INVALID at open.',
  ].join('\n'),
  example: [
    'type: duckdb',
    'path: data/analytics.duckdb',
    'table: revenue_by_region',
    'mode: upsert',
    'key: [region]',
    'create_table: true',
    'columns:',
    '  region: VARCHAR',
    '  revenue: DOUBLE',
  ].join('\n'),
  delivery: 'exactly-once',
  changelog: {
    consumes: (config) => (config.mode === 'upsert' ? ['append', 'upsert', 'retract'] : ['append']),
    hint: 'set `mode: upsert` with `key` (the columns of the table’s primary key)',
    upsertKey: (config) =>
      config.mode === 'upsert' && config.key ? { path: 'key', fields: config.key } : undefined,
    primaryKey: (fields) => ({ mode: 'upsert', key: [...fields] }),
  },
  config: duckdbSinkConfig,
  create: (config) => new DuckdbSink(config),
});
