/**
 * A view: the latest row per key of a stream, with a numbered log of its changes.
 *
 * Every change (an upsert or a delete of one key) gets the next offset, so offsets are a function
 * of the input alone: one per insert, update-after and delete, an update-before skipped when the
 * update-after right behind it keeps the key. The last `ringSize` changes stay in memory for
 * subscribers that resume (`changesFrom`); the rows and the newest changes are snapshotted at
 * each checkpoint by the `view` sink, so a restarted job serves the same view at the same offset
 * and subscribers resume across the restart.
 */

import { MemoryRows, type ViewRows } from './view-rows.ts';

/** One change of a view. */
export interface ViewChange {
  readonly offset: number;
  readonly op: 'upsert' | 'delete';
  /** The key as text (see `keyText`). */
  readonly key: string;
  /** The new row as JSON text (absent for a delete). */
  readonly json?: string;
}

/**
 * A row of a view as JSON text (rows are kept as text: a copy the runtime cannot change, written
 * to responses as it is), with the offset of the change that wrote it (its version, for ETags).
 */
export interface ViewRow {
  readonly key: string;
  readonly json: string;
  readonly offset: number;
}

/**
 * What a view's snapshot in a checkpoint holds: its offset, its rows (as JSON text) and — since
 * version 2 — its last changes, so that subscribers resume across a restart.
 *
 * `changes` are the changes at offsets `offset - changes.length + 1` to `offset`, oldest first:
 * `[key]` for a delete, `[key, json]` for an upsert, where `json` is `''` when the change wrote
 * the row the snapshot still holds (its text is then taken from `rows`, not written twice).
 */
export interface ViewSnapshot {
  readonly version: 1 | 2;
  readonly offset: number;
  readonly rows: readonly (readonly [key: string, json: string, offset: number])[];
  readonly changes?: readonly (readonly [key: string, json?: string])[];
}

/**
 * What a checkpoint holds of a view whose rows are in a store (`store: disk`): the offset and the
 * newest changes as in version 2, without the rows — the store holds them, committed under the
 * tag `checkpointId` (see `view-store.ts`).
 */
export interface ViewStoreSnapshot {
  readonly version: 3;
  readonly offset: number;
  readonly checkpointId: number;
  readonly changes: readonly (readonly [key: string, json?: string])[];
}

/** A change as the JSON object subscribers receive: `{ offset, op, key, row? }`. */
export function changeJson(c: ViewChange): string {
  const head = `{"offset":${c.offset},"op":"${c.op}","key":${JSON.stringify(c.key)}`;
  return c.json === undefined ? `${head}}` : `${head},"row":${c.json}}`;
}

/**
 * What a subscriber whose position left the ring receives instead of the changes it missed:
 * `{ op: "reset", offset, rows: [{ key, offset, row }] }`, the whole view at `offset` in key order;
 * changes after `offset` follow.
 */
export function resetJson(table: ViewTable): string {
  const rows = table.scan({ limit: Number.POSITIVE_INFINITY }).rows;
  return `{"op":"reset","offset":${table.offset},"rows":[${rows.map(rowJson).join(',')}]}`;
}

/** A row as the JSON object lookups and scans answer: `{ key, offset, row }`. */
export function rowJson(r: ViewRow): string {
  return `{"key":${JSON.stringify(r.key)},"offset":${r.offset},"row":${r.json}}`;
}

/**
 * The key of a row as text: the value of a single key field as a string, or the JSON array of
 * the values of several. `undefined` when a key field is missing or not a scalar.
 */
export function keyText(row: unknown, fields: readonly string[]): string | undefined {
  if (typeof row !== 'object' || row === null) return undefined;
  const values: unknown[] = [];
  for (const f of fields) {
    const v = (row as { [k: string]: unknown })[f];
    if (v === undefined || v === null || (typeof v === 'object' && v !== null)) return undefined;
    values.push(v);
  }
  return fields.length === 1 ? String(values[0]) : JSON.stringify(values);
}

/** What `ViewTable.scan` reads: a key range, a page, and an optional row filter. */
export interface ScanOptions {
  prefix?: string;
  /** First key of the range (inclusive). */
  start?: string;
  /** End of the range (exclusive). */
  end?: string;
  /** Continue after this key (exclusive): the `next` of the previous page. */
  after?: string;
  limit: number;
  /** Whether a row (its JSON text, and its key) belongs in the answer; may throw. */
  match?: (json: string, key: string) => boolean;
  /** Rows looked at, at most; default all in range. */
  maxExamined?: number;
}

/** Something told when a view has new changes. */
export type ViewListener = () => void;

/** The rows and the change log of one view. */
export class ViewTable {
  readonly name: string;
  readonly keyFields: readonly string[];
  readonly ringSize: number;
  readonly #rows: ViewRows;
  /** The last changes, oldest first; `#ring[0].offset === #offset - #ring.length + 1`. */
  #ring: ViewChange[] = [];
  #offset = 0;
  readonly #listeners = new Set<ViewListener>();

  /** A view named `name` keyed by `keyFields`, its rows in `rows` (in memory by default). */
  constructor(
    name: string,
    keyFields: readonly string[],
    ringSize: number,
    rows: ViewRows = new MemoryRows(),
  ) {
    this.name = name;
    this.keyFields = keyFields;
    this.ringSize = ringSize;
    this.#rows = rows;
  }

  /** The offset of the last change (0 before the first). */
  get offset(): number {
    return this.#offset;
  }

  /** How many rows the view holds. */
  get size(): number {
    return this.#rows.size;
  }

  /** Where the rows are kept. */
  get rows(): ViewRows {
    return this.#rows;
  }

  /** The oldest offset still in the change ring (`offset + 1` when the ring is empty). */
  get oldestKept(): number {
    return this.#ring.length === 0 ? this.#offset + 1 : this.#ring[0].offset;
  }

  /** Sets the row of `key` (as JSON text); records the change. */
  upsert(key: string, json: string): void {
    const offset = ++this.#offset;
    this.#rows.set(key, json, offset);
    this.#record({ offset, op: 'upsert', key, json });
  }

  /** Removes the row of `key`; records the change (even when there was none, so offsets stay a function of the input). */
  delete(key: string): void {
    const offset = ++this.#offset;
    this.#rows.delete(key);
    this.#record({ offset, op: 'delete', key });
  }

  #record(change: ViewChange): void {
    this.#ring.push(change);
    if (this.#ring.length >= 2 * this.ringSize) this.#ring = this.#ring.slice(-this.ringSize);
  }

  /** Tells the listeners that changes were made (once per written batch). */
  notify(): void {
    for (const l of this.#listeners) l();
  }

  /** Calls `listener` after each batch of changes until the returned function is called. */
  subscribe(listener: ViewListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The row of `key`, or undefined. */
  get(key: string): ViewRow | undefined {
    const entry = this.#rows.get(key);
    return entry && { key, json: entry.json, offset: entry.offset };
  }

  /**
   * Rows in key order (by code unit) whose key starts with `prefix`, from `start` (inclusive) up
   * to `end` (exclusive), after the key `after` (exclusive, to continue a page), and — when
   * `match` is given — for which `match(row JSON)` is true, at most `limit` of them. At most
   * `maxExamined` rows are looked at, so that a filter matching few rows costs a bounded amount
   * per page: a page may then hold fewer than `limit` rows (even none). `next` is the key to pass
   * as `after` for the following page; absent when the range has been read to its end.
   */
  scan(options: ScanOptions): { rows: ViewRow[]; next?: string } {
    const prefix = options.prefix ?? '';
    const { after, end, match } = options;
    const maxExamined = options.maxExamined ?? Number.POSITIVE_INFINITY;
    let from = prefix;
    if (options.start !== undefined && options.start > from) from = options.start;
    const exclusive = after !== undefined && after >= from;
    if (exclusive) from = after;
    const inRange = (key: string) => key.startsWith(prefix) && (end === undefined || key < end);
    const rows: ViewRow[] = [];
    let examined = 0;
    let last: string | undefined;
    let more = false;
    for (const [key, json, offset] of this.#rows.from(from, exclusive)) {
      if (!inRange(key)) break;
      if (rows.length >= options.limit || examined >= maxExamined) {
        more = true;
        break;
      }
      examined++;
      last = key;
      if (match === undefined || match(json, key)) rows.push({ key, json, offset });
    }
    return more && last !== undefined ? { rows, next: last } : { rows };
  }

  /**
   * The changes from offset `from` (inclusive) on, or `undefined` when some of them are no longer
   * kept (the subscriber must read the view again).
   */
  changesFrom(from: number): readonly ViewChange[] | undefined {
    if (from > this.#offset) return [];
    if (from < this.oldestKept) return undefined;
    return this.#ring.slice(from - this.oldestKept);
  }

  /** The whole view — rows, offset and the last `changes` changes (at most) — as a version 2 snapshot. */
  snapshot(changes = this.ringSize): ViewSnapshot {
    return {
      version: 2,
      offset: this.#offset,
      rows: [...this.#rows.all()],
      changes: this.#keptChanges(changes),
    };
  }

  /**
   * What a checkpoint holds of the view: `snapshot(changes)` when the rows are in memory; the
   * offset and changes without the rows (version 3, tagged `checkpointId`) when they are in a
   * store, which the caller has committed under that tag.
   */
  checkpoint(changes: number, checkpointId: number): ViewSnapshot | ViewStoreSnapshot {
    if (!this.#rows.external) return this.snapshot(changes);
    return { version: 3, offset: this.#offset, checkpointId, changes: this.#keptChanges(changes) };
  }

  #keptChanges(changes: number): (readonly [string, string?])[] {
    const kept: (readonly [string, string?])[] = [];
    const ring = this.#ring;
    for (let i = Math.max(0, ring.length - changes); i < ring.length; i++) {
      const c = ring[i];
      if (c.json === undefined) kept.push([c.key]);
      else kept.push([c.key, this.#rows.get(c.key)?.offset === c.offset ? '' : c.json]);
    }
    return kept;
  }

  /**
   * Takes a snapshot's offset and change ring, and its rows when it has them (versions 1 and 2;
   * a version 3 snapshot's rows are already in the store, opened at its checkpoint). A version 1
   * snapshot has no changes: the ring starts empty.
   */
  restore(snapshot: ViewSnapshot | ViewStoreSnapshot): void {
    if (snapshot.version !== 3) this.#rows.replaceAll(snapshot.rows);
    this.#offset = snapshot.offset;
    const changes = snapshot.changes ?? [];
    const first = snapshot.offset - changes.length + 1;
    this.#ring = changes.map(([key, json], i): ViewChange => {
      const offset = first + i;
      if (json === undefined) return { offset, op: 'delete', key };
      return { offset, op: 'upsert', key, json: json === '' ? this.#rows.get(key)!.json : json };
    });
  }

  /** Releases the rows' store (a later job in this process opens its own). */
  dispose(): void {
    this.#rows.dispose();
  }
}
