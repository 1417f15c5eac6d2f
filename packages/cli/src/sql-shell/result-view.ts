/**
 * The result of a `SELECT` in the shell: its changelog as it arrives, the table it folds into,
 * and the text of both — a frame bounded to the terminal's height for the live views, and lines
 * with borders for the tableau form.
 */

import type { Row, RowKind } from '@sluice/core';

/** How the shell shows a query's result (Flink's `sql-client.execution.result-mode`). */
export type ResultMode = 'table' | 'changelog' | 'tableau';

export const RESULT_MODES: readonly ResultMode[] = ['table', 'changelog', 'tableau'];

/** The short names of the row kinds, as Flink's client prints them. */
export const KIND_LABELS = ['+I', '-U', '+U', '-D'] as const;

/** One change of the result: a row and what it does to the table. */
export interface Change {
  readonly kind: RowKind;
  readonly row: Row;
  /** The grouping key the pipeline gave the row, when it had one (`SinkBatch.keys`). */
  readonly key?: string;
}

/** A value as a cell: NULL, text as itself, anything else as JSON. */
export function cell(v: unknown): string {
  return v === null || v === undefined ? 'NULL' : typeof v === 'string' ? v : JSON.stringify(v);
}

/**
 * The changes of one query and the table they make. Rows keep their place when updated: an
 * UPDATE_BEFORE marks where its row was, and the UPDATE_AFTER that follows takes that place;
 * a change by key (an upsert, with no UPDATE_BEFORE) replaces the row of its key.
 */
export class ResultTable {
  /** The query's columns; more are added when rows carry fields not listed. */
  readonly columns: string[];
  readonly #changes: Change[] = [];
  readonly #rows: { row: Row; text: string; key?: string }[] = [];
  /** Where the row an UPDATE_BEFORE retracted was, for the UPDATE_AFTER that follows. */
  #hole: number | undefined;
  /** Changes kept for the changelog view; older ones are counted, not kept. */
  readonly #keep: number;
  #changeCount = 0;

  constructor(columns: readonly string[], keep = 10_000) {
    this.columns = [...columns];
    this.#keep = keep;
  }

  get changeCount(): number {
    return this.#changeCount;
  }

  get rowCount(): number {
    return this.#rows.length;
  }

  /** The last changes kept (at most `keep`), oldest first. */
  get changes(): readonly Change[] {
    return this.#changes;
  }

  /** The materialized rows, in their places. */
  get rows(): readonly Row[] {
    return this.#rows.map((r) => r.row);
  }

  /** Folds one change into the table and the changelog. */
  apply(change: Change): void {
    this.#changeCount++;
    this.#changes.push(change);
    if (this.#changes.length > this.#keep * 2) this.#changes.splice(0, this.#changes.length - this.#keep);
    for (const field of Object.keys(change.row)) if (!this.columns.includes(field)) this.columns.push(field);
    const text = this.#text(change.row);
    if (change.kind === 0 || change.kind === 2) {
      const entry = { row: change.row, text, ...(change.key !== undefined ? { key: change.key } : {}) };
      const hole = this.#hole;
      this.#hole = undefined;
      if (change.kind === 2 && hole !== undefined) this.#rows.splice(hole, 0, entry);
      else {
        const byKey = change.kind === 2 && change.key !== undefined ? this.#findKey(change.key) : -1;
        if (byKey >= 0) this.#rows[byKey] = entry;
        else this.#rows.push(entry);
      }
      return;
    }
    let at = this.#rows.findIndex((r) => r.text === text);
    if (at < 0 && change.key !== undefined) at = this.#findKey(change.key);
    if (at >= 0) this.#rows.splice(at, 1);
    this.#hole = change.kind === 1 && at >= 0 ? at : undefined;
  }

  #findKey(key: string): number {
    return this.#rows.findIndex((r) => r.key === key);
  }

  #text(row: Row): string {
    return JSON.stringify(this.columns.map((c) => row[c] ?? null));
  }
}

/** What a frame says under the rows: the query's state. */
export interface FrameStatus {
  readonly state: 'running' | 'completed' | 'stopped' | 'failed';
  readonly seconds: number;
}

/**
 * The live view of `mode` (`table` or `changelog`) as lines that fit `height` lines and `width`
 * columns: a header, at most `height - 3` rows (the table's first, or the changelog's last), and
 * a status line with the counts.
 */
export function frame(
  result: ResultTable,
  mode: 'table' | 'changelog',
  size: { readonly width: number; readonly height: number },
  status: FrameStatus,
): string[] {
  const room = Math.max(1, size.height - 3);
  const columns = mode === 'changelog' ? ['op', ...result.columns] : result.columns;
  let shown: string[][];
  let note: string;
  if (mode === 'table') {
    const rows = result.rows;
    shown = rows.slice(0, room).map((r) => result.columns.map((c) => cell(r[c])));
    note = `${rows.length} row${rows.length === 1 ? '' : 's'}${rows.length > room ? ` (showing the first ${room})` : ''}, ${result.changeCount} change${result.changeCount === 1 ? '' : 's'}`;
  } else {
    const changes = result.changes.slice(-room);
    shown = changes.map((c) => [KIND_LABELS[c.kind], ...result.columns.map((k) => cell(c.row[k]))]);
    const count = result.changeCount;
    note = `${count} change${count === 1 ? '' : 's'}${count > shown.length ? ` (showing the last ${shown.length})` : ''}`;
  }
  const widths = columns.map((c, i) => Math.max(c.length, ...shown.map((r) => r[i].length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i]))
      .join(' | ')
      .trimEnd();
  const state =
    status.state === 'running'
      ? 'running, Ctrl-C stops the query'
      : status.state === 'stopped'
        ? 'stopped'
        : status.state;
  const lines = [
    line(columns),
    widths.map((w) => '-'.repeat(w)).join('-+-'),
    ...shown.map(line),
    `${mode} mode: ${note} — ${state} (${status.seconds.toFixed(1)} s)`,
  ];
  const width = Math.max(10, size.width - 1);
  return lines.map((l) => (l.length > width ? `${l.slice(0, width - 1)}…` : l));
}

/**
 * The tableau form, printed as rows arrive (as Flink's client prints a streaming result): a
 * bordered header, then one bordered line per change with its `op`, then the closing border and
 * a count. Cells are padded to the width of their header (at least 12) and never cut.
 */
export class Tableau {
  readonly #columns: readonly string[];
  readonly #widths: readonly number[];

  constructor(columns: readonly string[]) {
    this.#columns = ['op', ...columns];
    this.#widths = this.#columns.map((c, i) => (i === 0 ? 2 : Math.max(12, c.length)));
  }

  border(): string {
    return `+${this.#widths.map((w) => '-'.repeat(w + 2)).join('+')}+\n`;
  }

  header(): string {
    return `${this.border()}${this.#line(this.#columns)}${this.border()}`;
  }

  row(change: Change): string {
    const values = this.#columns.slice(1).map((c) => cell(change.row[c]));
    return this.#line([KIND_LABELS[change.kind], ...values]);
  }

  #line(values: readonly string[]): string {
    return `|${values.map((v, i) => ` ${v.padStart(this.#widths[i])} `).join('|')}|\n`;
  }
}
