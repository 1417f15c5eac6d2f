/**
 * Where a view keeps its rows: `MemoryRows` (a Map, the default) or `StoreRows` (an embedded
 * SQLite database, `view-store.ts`). `ViewTable` keeps the offset, the change ring and the
 * listeners and asks one of these for rows, so both kinds answer lookups, scans and changes alike.
 */

/** A stored row: its JSON text and the offset of the change that wrote it. */
export interface StoredRow {
  readonly json: string;
  readonly offset: number;
}

/** The rows of one view, by key. */
export interface ViewRows {
  /** Whether the rows live outside the checkpoint (so a snapshot carries no rows). */
  readonly external: boolean;
  /** How many rows are held. */
  readonly size: number;
  get(key: string): StoredRow | undefined;
  set(key: string, json: string, offset: number): void;
  /** Removes the row of `key`; whether there was one. */
  delete(key: string): boolean;
  /**
   * Rows in key order (by UTF-16 code unit, as `<` compares strings) from `from` on — inclusive,
   * or exclusive when `exclusive` — as `[key, json, offset]`. The caller stops early by
   * returning from the iteration; the rows must not change while it runs.
   */
  from(from: string, exclusive: boolean): Iterable<readonly [string, string, number]>;
  /** Every row, in no particular order. */
  all(): Iterable<readonly [string, string, number]>;
  /** Replaces every row with `rows` (a restored in-memory snapshot). */
  replaceAll(rows: Iterable<readonly [string, string, number]>): void;
  /** Releases what the rows hold (a database handle); reads fail afterwards. */
  dispose(): void;
}

/** Rows in a Map, with a sorted key array rebuilt on the first scan after a key came or went. */
export class MemoryRows implements ViewRows {
  readonly external = false;
  readonly #rows = new Map<string, StoredRow>();
  #sorted: string[] | undefined;

  get size(): number {
    return this.#rows.size;
  }

  get(key: string): StoredRow | undefined {
    return this.#rows.get(key);
  }

  set(key: string, json: string, offset: number): void {
    if (!this.#rows.has(key)) this.#sorted = undefined;
    this.#rows.set(key, { json, offset });
  }

  delete(key: string): boolean {
    const had = this.#rows.delete(key);
    if (had) this.#sorted = undefined;
    return had;
  }

  *from(from: string, exclusive: boolean): Iterable<readonly [string, string, number]> {
    this.#sorted ??= [...this.#rows.keys()].sort();
    const keys = this.#sorted;
    let i = lowerBound(keys, from);
    if (exclusive && keys[i] === from) i++;
    for (; i < keys.length; i++) {
      const row = this.#rows.get(keys[i])!;
      yield [keys[i], row.json, row.offset];
    }
  }

  *all(): Iterable<readonly [string, string, number]> {
    for (const [key, row] of this.#rows) yield [key, row.json, row.offset];
  }

  replaceAll(rows: Iterable<readonly [string, string, number]>): void {
    this.#rows.clear();
    for (const [key, json, offset] of rows) this.#rows.set(key, { json, offset });
    this.#sorted = undefined;
  }

  dispose(): void {}
}

function lowerBound(keys: readonly string[], target: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid] < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
