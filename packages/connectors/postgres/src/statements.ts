/**
 * The statements a `postgres` sink sends for a run of records: the COPY text of an append, the
 * `INSERT … ON CONFLICT` of upserts and the `DELETE` of removed keys, each over the records at
 * some indexes of a batch.
 */

import type { Row } from '@sluice/core';
import { type BinaryRows, type FieldWriter, fieldWriter, writeBinaryRows } from './copy-binary.ts';
import { type ColumnShape, columnText, copyField, quoteIdent, quoteTable } from './encode.ts';
import type { Column } from './table.ts';

/** PostgreSQL's limit on the parameters of one statement. */
const MAX_PARAMETERS = 65_535;

/** The statements of one table and column list, built once when the sink opens. */
export class Statements {
  readonly copy: string;
  /**
   * The COPY of the binary format, when every column has a binary writer (`copy-binary.ts`);
   * undefined when the table is written as text.
   */
  readonly copyBinary: string | undefined;
  readonly #writers: readonly FieldWriter[] | undefined;
  readonly #columns: readonly Column[];
  readonly #names: readonly string[];
  readonly #key: readonly Column[];
  readonly #table: string;
  readonly #columnList: string;
  readonly #conflict: string;

  constructor(table: string, columns: readonly Column[], key: readonly string[] | undefined) {
    this.#columns = columns;
    this.#names = columns.map((c) => c.name);
    this.#table = quoteTable(table);
    this.#columnList = columns.map((c) => quoteIdent(c.name)).join(', ');
    this.copy = `COPY ${this.#table} (${this.#columnList}) FROM STDIN`;
    const writers = columns.map((c) => fieldWriter(c.type));
    this.#writers = writers.every((w) => w !== undefined) ? writers : undefined;
    this.copyBinary = this.#writers === undefined ? undefined : `${this.copy} (FORMAT binary)`;
    this.#key = (key ?? []).map((k) => {
      const column = columns.find((c) => c.name === k);
      if (!column) throw new Error(`key column '${k}' is not written`);
      return column;
    });
    const keyList = this.#key.map((c) => quoteIdent(c.name)).join(', ');
    const updated = columns.filter((c) => !this.#key.includes(c));
    this.#conflict =
      updated.length === 0
        ? `ON CONFLICT (${keyList}) DO NOTHING`
        : `ON CONFLICT (${keyList}) DO UPDATE SET ${updated.map((c) => `${quoteIdent(c.name)} = EXCLUDED.${quoteIdent(c.name)}`).join(', ')}`;
  }

  /** Most records one INSERT may carry within the parameter limit. */
  get insertLimit(): number {
    return Math.max(1, Math.floor(MAX_PARAMETERS / this.#columns.length));
  }

  /** Most keys one DELETE may carry within the parameter limit. */
  get deleteLimit(): number {
    return Math.max(1, Math.floor(MAX_PARAMETERS / Math.max(1, this.#key.length)));
  }

  /**
   * COPY's text format for the records at `indexes`: one line each, fields tab-separated. Each
   * line is built on its own and then appended (fewer, larger pieces for the text to join); a
   * string without special characters and a finite number skip `columnText`'s dispatch, with
   * the same text.
   */
  copyText(records: readonly Row[], indexes: readonly number[]): string {
    const columns = this.#columns;
    const names = this.#names;
    const n = columns.length;
    let text = '';
    for (const i of indexes) {
      const record = records[i];
      let line = copyValue(record[names[0]], columns[0].shape);
      for (let c = 1; c < n; c++) line += `\t${copyValue(record[names[c]], columns[c].shape)}`;
      text += `${line}\n`;
    }
    return text;
  }

  /**
   * The records at `indexes` in COPY's binary format, appended to `rows`; false (and `rows` as it
   * was) when the table is written as text or a value has no binary form — the text then.
   */
  copyRows(rows: BinaryRows, records: readonly Row[], indexes: readonly number[]): boolean {
    const writers = this.#writers;
    return writers !== undefined && writeBinaryRows(rows, records, indexes, this.#names, writers);
  }

  /** The text of a record's key, equal for two records exactly when their key columns are. */
  keyText(record: Row): string {
    return JSON.stringify(this.#key.map((c) => columnText(record[c.name], c.shape)));
  }

  /** The temporary table upserts are staged in without `ON CONFLICT` (the `redshift` dialect). */
  static readonly STAGE = quoteIdent('sluice_stage');

  /** Creates the stage (a session's temporary table shaped as the target) unless it exists. */
  get createStage(): string {
    return `CREATE TEMP TABLE IF NOT EXISTS ${Statements.STAGE} (LIKE ${this.#table})`;
  }

  /**
   * The statements that apply the staged rows: the stage emptied, the target's rows of the
   * staged keys deleted, the staged rows inserted (delete-then-insert, no unique index needed).
   */
  get applyStage(): { clear: string; remove: string; insert: string } {
    const stage = Statements.STAGE;
    const match = this.#key
      .map((c) => `${this.#table}.${quoteIdent(c.name)} = ${stage}.${quoteIdent(c.name)}`)
      .join(' AND ');
    return {
      clear: `DELETE FROM ${stage}`,
      remove: `DELETE FROM ${this.#table} USING ${stage} WHERE ${match}`,
      insert: `INSERT INTO ${this.#table} (${this.#columnList}) SELECT ${this.#columnList} FROM ${stage}`,
    };
  }

  /** A multi-row `INSERT` of the records at `indexes` into `into` (default the target table). */
  insert(
    records: readonly Row[],
    indexes: readonly number[],
    into = this.#table,
  ): { text: string; values: (string | null)[] } {
    const { tuples, values } = this.#tuples(records, indexes);
    return { text: `INSERT INTO ${into} (${this.#columnList}) VALUES ${tuples}`, values };
  }

  /** `INSERT … ON CONFLICT (key) DO UPDATE` of the records at `indexes` (distinct keys). */
  upsert(records: readonly Row[], indexes: readonly number[]): { text: string; values: (string | null)[] } {
    const { tuples, values } = this.#tuples(records, indexes);
    const text = `INSERT INTO ${this.#table} (${this.#columnList}) VALUES ${tuples} ${this.#conflict}`;
    return { text, values };
  }

  /** The `($1, $2), ($3, $4)` of the records at `indexes`, and their values. */
  #tuples(
    records: readonly Row[],
    indexes: readonly number[],
  ): { tuples: string; values: (string | null)[] } {
    const columns = this.#columns;
    const values: (string | null)[] = [];
    const tuples: string[] = [];
    for (const i of indexes) {
      const record = records[i];
      const slots: string[] = [];
      for (const c of columns) {
        values.push(columnText(record[c.name], c.shape));
        slots.push(`$${values.length}`);
      }
      tuples.push(`(${slots.join(', ')})`);
    }
    return { tuples: tuples.join(', '), values };
  }

  /** `DELETE` of the rows whose keys the records at `indexes` hold. */
  delete(records: readonly Row[], indexes: readonly number[]): { text: string; values: (string | null)[] } {
    const key = this.#key;
    const values: (string | null)[] = [];
    const tuples: string[] = [];
    for (const i of indexes) {
      const slots: string[] = [];
      for (const c of key) {
        values.push(columnText(records[i][c.name], c.shape));
        slots.push(`$${values.length}`);
      }
      tuples.push(key.length === 1 ? slots[0] : `(${slots.join(', ')})`);
    }
    const target =
      key.length === 1 ? quoteIdent(key[0].name) : `(${key.map((c) => quoteIdent(c.name)).join(', ')})`;
    return { text: `DELETE FROM ${this.#table} WHERE ${target} IN (${tuples.join(', ')})`, values };
  }
}

/** Escapes the COPY text format needs in a string: backslash, newline, carriage return, tab. */
const SPECIAL = /[\\\n\r\t]/;

/** One field of COPY's text format: `copyField(columnText(value, shape))`, common cases first. */
function copyValue(value: unknown, shape: ColumnShape): string {
  if (typeof value === 'string') return SPECIAL.test(value) ? copyField(value) : value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return copyField(columnText(value, shape));
}
