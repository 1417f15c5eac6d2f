/**
 * The `lookup` step's cache: what a lookup table answered for each key — its row, or that it has
 * none (a miss) — for a time to live counted from the answer (Flink's `expire-after-write`), at
 * most `maxEntries` entries, the least recently used evicted first.
 *
 * A Map in use order: a hit moves its key to the end (delete, set), so the least recently used
 * key is always the first. An expired entry is dropped when it is read, or when it reaches the
 * front; the cache never holds more than `maxEntries`.
 */

import type { Row } from '../record.ts';

export interface LookupCacheOptions {
  /** How long a row is kept, in ms; 0 keeps none. */
  readonly ttl: number;
  /** How long a miss is kept, in ms; 0 keeps none. */
  readonly missTtl: number;
  readonly maxEntries: number;
}

interface Entry {
  readonly row: Row | null;
  /** Clock reading at which the entry is gone. */
  readonly expires: number;
}

export class LookupCache {
  readonly #options: LookupCacheOptions;
  readonly #entries = new Map<string, Entry>();

  constructor(options: LookupCacheOptions) {
    this.#options = options;
  }

  /** Entries held (some may have expired and not been dropped yet). */
  get size(): number {
    return this.#entries.size;
  }

  /** The cached answer for `key` at clock reading `now`: a row, null for a miss, undefined when not cached. */
  get(key: string, now: number): Row | null | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    if (now >= entry.expires) return undefined;
    this.#entries.set(key, entry);
    return entry.row;
  }

  /** Keeps what the table answered for `key` at clock reading `now` (a row, or null: no row). */
  set(key: string, row: Row | null, now: number): void {
    const ttl = row === null ? this.#options.missTtl : this.#options.ttl;
    if (ttl <= 0 || this.#options.maxEntries <= 0) return;
    this.#entries.delete(key);
    this.#entries.set(key, { row, expires: now + ttl });
    const entries = this.#entries;
    while (entries.size > this.#options.maxEntries) {
      const oldest = entries.keys().next().value;
      if (oldest === undefined) break;
      entries.delete(oldest);
    }
  }
}
