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

/** A row of the table in its slot. */
interface Slot {
  readonly row: Row;
  /** Its values as JSON, which a retraction is matched by. */
  readonly text: string;
  readonly key?: string;
}

/**
 * The changes of one query and the table they make. Rows keep their place when updated: an
 * UPDATE_BEFORE empties the slot of its row, and the UPDATE_AFTER that follows fills that slot;
 * a change by key (an upsert, with no UPDATE_BEFORE) replaces the row of its key. Each change
 * costs a map lookup, not a scan of the table.
 */
export class ResultTable {
  /** The query's columns; more are added when rows carry fields not listed. */
  readonly columns: string[];
  readonly #changes: Change[] = [];
  /** The rows in order; an empty slot is a row removed (compacted away now and then). */
  #slots: (Slot | undefined)[] = [];
  /** The slots of the rows with each text. */
  #byText = new Map<string, number[]>();
  /** The slot of the row of each key, for upserts. */
  #byKey = new Map<string, number>();
  #live = 0;
  /** The slot an UPDATE_BEFORE emptied, for the UPDATE_AFTER that follows. */
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
    return this.#live;
  }

  /** The last changes kept (at most `keep`), oldest first. */
  get changes(): readonly Change[] {
    return this.#changes;
  }

  /** The materialized rows, in their places. */
  get rows(): Row[] {
    return this.firstRows(this.#live);
  }

  /** The first `n` rows, in their places. */
  firstRows(n: number): Row[] {
    const out: Row[] = [];
    for (const slot of this.#slots) {
      if (out.length >= n) break;
      if (slot !== undefined) out.push(slot.row);
    }
    return out;
  }

  /** Folds one change into the table and the changelog. */
  apply(change: Change): void {
    this.#changeCount++;
    this.#changes.push(change);
    if (this.#changes.length > this.#keep * 2) this.#changes.splice(0, this.#changes.length - this.#keep);
    for (const field of Object.keys(change.row)) if (!this.columns.includes(field)) this.columns.push(field);
    const text = JSON.stringify(this.columns.map((c) => change.row[c] ?? null));
    const hole = this.#hole;
    this.#hole = undefined;
    if (change.kind === 0 || change.kind === 2) {
      const slot: Slot = { row: change.row, text, ...(change.key !== undefined ? { key: change.key } : {}) };
      if (change.kind === 2 && hole !== undefined) this.#place(hole, slot);
      else {
        const byKey = change.kind === 2 && change.key !== undefined ? this.#byKey.get(change.key) : undefined;
        if (byKey !== undefined) {
          this.#remove(byKey);
          this.#place(byKey, slot);
        } else this.#place(this.#slots.length, slot);
      }
      this.#compact();
      return;
    }
    let at = this.#byText.get(text)?.[0];
    if (at === undefined && change.key !== undefined) at = this.#byKey.get(change.key);
    if (at !== undefined) this.#remove(at);
    if (change.kind === 1 && at !== undefined) this.#hole = at;
  }

  #place(at: number, slot: Slot): void {
    this.#slots[at] = slot;
    const same = this.#byText.get(slot.text);
    if (same === undefined) this.#byText.set(slot.text, [at]);
    else same.push(at);
    if (slot.key !== undefined) this.#byKey.set(slot.key, at);
    this.#live++;
  }

  #remove(at: number): void {
    const slot = this.#slots[at];
    if (slot === undefined) return;
    this.#slots[at] = undefined;
    const same = this.#byText.get(slot.text) ?? [];
    const rest = same.filter((i) => i !== at);
    if (rest.length > 0) this.#byText.set(slot.text, rest);
    else this.#byText.delete(slot.text);
    if (slot.key !== undefined && this.#byKey.get(slot.key) === at) this.#byKey.delete(slot.key);
    this.#live--;
  }

  /** Drops the empty slots once they are most of the table (never while a hole waits). */
  #compact(): void {
    if (this.#slots.length < 1024 || this.#live * 2 > this.#slots.length) return;
    const slots = this.#slots.filter((x): x is Slot => x !== undefined);
    this.#slots = [];
    this.#byText = new Map();
    this.#byKey = new Map();
    this.#live = 0;
    slots.forEach((slot, i) => {
      this.#place(i, slot);
    });
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
    const count = result.rowCount;
    shown = result.firstRows(room).map((r) => result.columns.map((c) => cell(r[c])));
    note = `${count} row${count === 1 ? '' : 's'}${count > room ? ` (showing the first ${room})` : ''}, ${result.changeCount} change${result.changeCount === 1 ? '' : 's'}`;
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
