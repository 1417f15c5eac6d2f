/**
 * The SQL of the `duckdb` sink: the target table, its staging table (the writes of checkpoints
 * not yet published), the table of published checkpoints, and the statements between them.
 */

import { type DuckDBAppender, type DuckDBValue, listValue } from '@duckdb/node-api';
import { DELETE, type Row, UPDATE_BEFORE } from '@sluice/core';

/** A column of the target table, as `duckdb_columns()` describes it. */
export interface Column {
  readonly name: string;
  readonly type: string;
  readonly nullable: boolean;
}

/** The table holding, per sink, the last checkpoint whose writes are published. */
export const CHECKPOINTS_TABLE = '_sluice_checkpoints';

/** `name` as a quoted identifier. */
export function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** `name` as a string literal. */
export function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** The kinds whose last change of a key removes its row. */
const REMOVES = `(${UPDATE_BEFORE}, ${DELETE})`;

/** The statements of one sink over one table, built once at open. */
export class Statements {
  readonly #columns: readonly Column[];
  readonly #key: readonly string[] | undefined;
  readonly #target: string;
  /** The staging table's quoted name. */
  readonly stage: string;
  /** The staging table's name, for the Appender. */
  readonly stageName: string;
  /** Whether each column is a DuckDB list (`T[]`), which takes a JS array as a list. */
  readonly #lists: readonly boolean[];
  /** Each column's type when the Appender has a typed call for it (the common types), else undefined. */
  readonly #fast: readonly (FastType | undefined)[];

  constructor(
    table: string,
    stageName: string,
    columns: readonly Column[],
    key: readonly string[] | undefined,
  ) {
    this.#columns = columns;
    this.#key = key;
    this.#target = quote(table);
    this.stage = quote(stageName);
    this.stageName = stageName;
    this.#lists = columns.map((c) => /\[\d*\]$/.test(c.type));
    this.#fast = columns.map((c) => FAST_TYPES[c.type]);
  }

  /**
   * The staging table: the target's columns with its types (DuckDB casts each value as it is
   * appended), without constraints (a removal carries only its key; NOT NULL is checked before
   * appending), then the change's sequence number, its row kind and the checkpoint it belongs to
   * (NULL until `prepareCommit`).
   */
  createStage(): string {
    const cols = this.#columns.map((c) => `${quote(c.name)} ${c.type}`);
    return `CREATE TABLE IF NOT EXISTS ${this.stage} (${[
      ...cols,
      '_sluice_seq BIGINT NOT NULL',
      '_sluice_kind TINYINT NOT NULL',
      '_sluice_checkpoint BIGINT',
    ].join(', ')})`;
  }

  /**
   * Why `record` cannot be staged as a change of kind `kind`: the first NOT NULL column it has no
   * value for (removals need only their key). Undefined when it can.
   */
  missing(record: Row, kind: number): string | undefined {
    if (kind === UPDATE_BEFORE || kind === DELETE) return undefined;
    for (const c of this.#columns)
      if (!c.nullable && (record[c.name] === undefined || record[c.name] === null))
        return `NOT NULL column "${c.name}" of ${this.#target} has no value`;
    return undefined;
  }

  /**
   * Appends `record` as one staging row. When DuckDB refuses a value (it does not cast to its
   * column's type) the row is completed with NULLs and ended — the appender cannot drop a row
   * begun — and DuckDB's reason is returned: the caller deletes the row by its `seq`.
   */
  append(appender: DuckDBAppender, record: Row, seq: number, kind: number): string | undefined {
    const width = this.#columns.length;
    let c = 0;
    let failure: string | undefined;
    try {
      for (; c < width; c++) {
        if (appendFast(appender, this.#fast[c], record[this.#columns[c].name])) continue;
        const value = toDuckdb(record[this.#columns[c].name], this.#lists[c]);
        if (value === null) appender.appendNull();
        else if (this.#lists[c]) appender.appendValue(value, appender.columnType(c));
        else appender.appendValue(value);
      }
    } catch (err) {
      failure = `column ${quote(this.#columns[c].name)}: ${err instanceof Error ? err.message : String(err)}`;
      for (; c < width; c++) appender.appendNull();
    }
    appender.appendBigInt(BigInt(seq));
    appender.appendTinyInt(kind);
    appender.appendNull();
    appender.endRow();
    return failure;
  }

  /** Marks the staged changes not yet in a checkpoint as belonging to `checkpoint`. */
  mark(checkpoint: number): string {
    return `UPDATE ${this.stage} SET _sluice_checkpoint = ${checkpoint} WHERE _sluice_checkpoint IS NULL`;
  }

  /** Which staged changes a publish covers: up to a checkpoint, or all of them (`undefined`). */
  #upTo(checkpoint: number | undefined): string {
    return checkpoint === undefined ? 'TRUE' : `_sluice_checkpoint <= ${checkpoint}`;
  }

  /**
   * The statements that publish the staged changes up to `checkpoint` into the target, in one
   * transaction with their removal from the staging table. Appends go in sequence order. Upserts
   * fold each key's changes to its last: a removal deletes the row, any other change upserts it.
   */
  publish(checkpoint: number | undefined): string[] {
    const names = this.#columns.map((c) => quote(c.name)).join(', ');
    const where = this.#upTo(checkpoint);
    const out: string[] = [];
    if (this.#key === undefined) {
      out.push(
        `INSERT INTO ${this.#target} (${names}) SELECT ${names} FROM ${this.stage} WHERE ${where} ORDER BY _sluice_seq`,
      );
    } else {
      const keys = this.#key.map(quote);
      const last = `(SELECT * FROM ${this.stage} WHERE ${where} QUALIFY row_number() OVER (PARTITION BY ${keys.join(', ')} ORDER BY _sluice_seq DESC) = 1)`;
      const match = keys.map((k) => `${this.#target}.${k} IS NOT DISTINCT FROM s.${k}`).join(' AND ');
      out.push(
        `DELETE FROM ${this.#target} USING ${last} AS s WHERE s._sluice_kind IN ${REMOVES} AND ${match}`,
      );
      const rest = this.#columns.filter((c) => !this.#key?.includes(c.name)).map((c) => quote(c.name));
      const action =
        rest.length === 0
          ? 'DO NOTHING'
          : `DO UPDATE SET ${rest.map((c) => `${c} = excluded.${c}`).join(', ')}`;
      out.push(
        `INSERT INTO ${this.#target} (${names}) SELECT ${names} FROM ${last} AS s WHERE s._sluice_kind NOT IN ${REMOVES} ORDER BY s._sluice_seq ON CONFLICT (${keys.join(', ')}) ${action}`,
      );
    }
    out.push(`DELETE FROM ${this.stage} WHERE ${where}`);
    return out;
  }

  /** Drops the staged changes no restored checkpoint covers (those after `checkpoint`, or all). */
  discardAfter(checkpoint: number | undefined): string {
    return checkpoint === undefined
      ? `DELETE FROM ${this.stage}`
      : `DELETE FROM ${this.stage} WHERE _sluice_checkpoint IS NULL OR _sluice_checkpoint > ${checkpoint}`;
  }
}

type FastType = 'int' | 'bigint' | 'double' | 'varchar' | 'boolean';

/** The column types whose values of the matching JavaScript type are appended by a typed call. */
const FAST_TYPES: { readonly [type: string]: FastType } = {
  INTEGER: 'int',
  BIGINT: 'bigint',
  DOUBLE: 'double',
  VARCHAR: 'varchar',
  BOOLEAN: 'boolean',
};

/**
 * Appends `value` by the Appender's typed call for a column of type `fast` when the value is of
 * the matching JavaScript type (no conversion to a DuckDB value and back); false otherwise, and
 * the caller takes the generic path, which casts.
 */
function appendFast(appender: DuckDBAppender, fast: FastType | undefined, value: unknown): boolean {
  switch (fast) {
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value) || value > 2147483647 || value < -2147483648)
        return false;
      appender.appendInteger(value);
      return true;
    case 'bigint':
      if (typeof value === 'bigint') appender.appendBigInt(value);
      else if (Number.isSafeInteger(value)) appender.appendBigInt(BigInt(value as number));
      else return false;
      return true;
    case 'double':
      if (typeof value !== 'number') return false;
      appender.appendDouble(value);
      return true;
    case 'varchar':
      if (typeof value !== 'string') return false;
      appender.appendVarchar(value);
      return true;
    case 'boolean':
      if (typeof value !== 'boolean') return false;
      appender.appendBoolean(value);
      return true;
    default:
      return false;
  }
}

/**
 * A record's field as a DuckDB parameter; DuckDB casts it to the column's type (and refuses what
 * does not cast). Integers go as BIGINT (so `5` into a VARCHAR column is '5'), arrays as lists
 * into a list column and as JSON text elsewhere, like other objects; dates as ISO text.
 */
export function toDuckdb(value: unknown, list: boolean): DuckDBValue {
  if (value === undefined || value === null) return null;
  switch (typeof value) {
    case 'number':
      return Number.isSafeInteger(value) ? BigInt(value) : value;
    case 'string':
    case 'boolean':
    case 'bigint':
      return value;
    default:
      if (value instanceof Date) return value.toISOString();
      if (list && Array.isArray(value)) return listValue(value.map((v) => toDuckdb(v, Array.isArray(v))));
      return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
  }
}
