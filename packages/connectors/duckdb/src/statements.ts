/**
 * The SQL of the `duckdb` sink: the target table, its staging table (the writes of checkpoints
 * not yet published), the table of published checkpoints, and the statements between them.
 */

import { type DuckDBValue, listValue } from '@duckdb/node-api';
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
  /** Whether each column is a DuckDB list (`T[]`), which takes a JS array as a list. */
  readonly #lists: readonly boolean[];

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
    this.#lists = columns.map((c) => /\[\d*\]$/.test(c.type));
  }

  /**
   * The staging table: the target's columns with its types, each NOT NULL column checked for
   * every change but a removal (which carries only its key), then the write's sequence number,
   * the change's row kind and the checkpoint it belongs to (NULL until `prepareCommit`).
   */
  createStage(): string {
    const cols = this.#columns.map((c) => `${quote(c.name)} ${c.type}`);
    const checks = this.#columns
      .filter((c) => !c.nullable)
      .map((c) => `CHECK (_sluice_kind IN ${REMOVES} OR ${quote(c.name)} IS NOT NULL)`);
    return `CREATE TABLE IF NOT EXISTS ${this.stage} (${[
      ...cols,
      '_sluice_seq BIGINT NOT NULL',
      '_sluice_kind TINYINT NOT NULL',
      '_sluice_checkpoint BIGINT',
      ...checks,
    ].join(', ')})`;
  }

  /** A multi-row INSERT of `rows` changes into the staging table. */
  stageInsert(rows: number): string {
    const width = this.#columns.length + 2;
    const tuples: string[] = [];
    for (let r = 0; r < rows; r++) {
      const params: string[] = [];
      for (let c = 1; c <= width; c++) params.push(`$${r * width + c}`);
      tuples.push(`(${params.join(', ')}, NULL)`);
    }
    return `INSERT INTO ${this.stage} VALUES ${tuples.join(', ')}`;
  }

  /** The parameters of `stageInsert` for `records[indexes]`, with their sequence numbers and kinds. */
  stageValues(
    records: readonly Row[],
    indexes: readonly number[],
    seqs: readonly number[],
    kinds: readonly number[],
  ) {
    const values: DuckDBValue[] = [];
    for (let n = 0; n < indexes.length; n++) {
      const record = records[indexes[n]];
      for (let c = 0; c < this.#columns.length; c++)
        values.push(toDuckdb(record[this.#columns[c].name], this.#lists[c]));
      values.push(BigInt(seqs[n]), kinds[n]);
    }
    return values;
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
