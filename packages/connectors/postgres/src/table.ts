/**
 * The table a `postgres` sink writes: created from `columns` when asked, then read from the
 * catalogue so that the sink knows each column's type and, in upsert mode, that a unique index
 * covers its key.
 */

import type pg from 'pg';
import type { ColumnShape } from './encode.ts';
import { quoteIdent, quoteTable } from './encode.ts';
import type { PostgresSinkConfig } from './sink-config.ts';

/** One column the sink writes. */
export interface Column {
  readonly name: string;
  /** Its type as the catalogue prints it (`integer`, `character varying(5)`, `text[]`). */
  readonly type: string;
  readonly shape: ColumnShape;
}

/** A problem with the table that no retry fixes; the sink reports it as CONFIG_INVALID. */
export class TableProblem extends Error {
  override readonly name = 'TableProblem';
  readonly path: string;
  constructor(message: string, path: string) {
    super(message);
    this.path = path;
  }
}

/** `CREATE TABLE IF NOT EXISTS` of `columns`, with `key` as the primary key. */
function createTableSql(config: PostgresSinkConfig): string {
  const columns = Object.entries(config.columns ?? {}).map(([name, type]) => `${quoteIdent(name)} ${type}`);
  if (config.key) columns.push(`PRIMARY KEY (${config.key.map(quoteIdent).join(', ')})`);
  return `CREATE TABLE IF NOT EXISTS ${quoteTable(config.table)} (${columns.join(', ')})`;
}

/**
 * Creates the table unless it exists. Sinks opening at once (the tasks of scaled-out workers)
 * race: PostgreSQL's `IF NOT EXISTS` checks before it inserts into the catalogue, so a loser
 * fails with a unique violation on `pg_type` (23505), `duplicate_object` for the row type (42710)
 * or `duplicate_table` (42P07) — the table is there then, made by the winner, and the columns
 * check that follows reads it (and says so if a type of that name is all there is). (An advisory lock
 * would serialize the creators, but Redshift has none.)
 */
export async function createTable(client: pg.Client, config: PostgresSinkConfig): Promise<void> {
  try {
    await client.query(createTableSql(config));
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code !== '23505' && code !== '42710' && code !== '42P07') throw err;
  }
}

/**
 * The columns the sink writes: those `columns` names, in that order, or every column of the
 * table. Throws TableProblem when the table does not exist, lacks a declared column, or (upsert)
 * has no unique index on exactly the key columns, which `ON CONFLICT` needs.
 */
export async function tableColumns(client: pg.Client, config: PostgresSinkConfig): Promise<Column[]> {
  const table = quoteTable(config.table);
  const found =
    config.dialect === 'redshift'
      ? await catalogueColumns(client, config.table)
      : await client.query<{ name: string; type: string }>(
          `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type
       FROM pg_attribute a
      WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
          [table],
        );
  if (found.rows.length === 0)
    throw new TableProblem(
      `table ${table} does not exist (or has no columns); create it, or set \`create_table: true\` with \`columns\``,
      'table',
    );
  const byName = new Map(found.rows.map((r) => [r.name, r.type]));
  const names = config.columns ? Object.keys(config.columns) : found.rows.map((r) => r.name);
  const missing = names.filter((n) => !byName.has(n));
  if (missing.length > 0)
    throw new TableProblem(
      `table ${table} has no column ${missing.map((m) => `'${m}'`).join(', ')} (it has ${found.rows.map((r) => r.name).join(', ')})`,
      'columns',
    );
  for (const k of config.key ?? [])
    if (!names.includes(k))
      throw new TableProblem(
        `key column '${k}' is not among the columns written (${names.join(', ')})`,
        'key',
      );
  // Redshift enforces no unique index, and the staged delete-then-insert needs none.
  if (config.mode === 'upsert' && config.key && config.dialect !== 'redshift') {
    const unique = await client.query<{ ok: boolean }>(
      `SELECT EXISTS (
         SELECT 1 FROM pg_index i
          WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
            AND (SELECT array_agg(a.attname::text ORDER BY a.attname::text COLLATE "C")
                   FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey))
                = $2::text[]) AS ok`,
      [table, [...config.key].sort()],
    );
    if (!unique.rows[0]?.ok)
      throw new TableProblem(
        `table ${table} has no primary key or unique index on exactly (${config.key.join(', ')}), which \`INSERT … ON CONFLICT\` needs; add one, or set \`key\` to the columns of one`,
        'key',
      );
  }
  return names.map((name) => {
    const type = byName.get(name) ?? '';
    return { name, type, shape: type.endsWith('[]') ? 'array' : 'other' };
  });
}

/**
 * The columns of `table` (`name` or `schema.name`, the current schema by default) from
 * `information_schema`, which Redshift has (it lacks `to_regclass`); arrays are typed `ARRAY`.
 */
async function catalogueColumns(
  client: pg.Client,
  table: string,
): Promise<{ rows: { name: string; type: string }[] }> {
  const dot = table.indexOf('.');
  const found = await client.query<{ name: string; type: string }>(
    `SELECT column_name AS name, data_type AS type FROM information_schema.columns
      WHERE table_schema = COALESCE($1, current_schema()) AND table_name = $2
      ORDER BY ordinal_position`,
    [dot < 0 ? null : table.slice(0, dot), dot < 0 ? table : table.slice(dot + 1)],
  );
  return { rows: found.rows.map((r) => ({ name: r.name, type: r.type === 'ARRAY' ? '[]' : r.type })) };
}
