/**
 * State time-to-live per key in processing time, as Flink's `table.exec.state.ttl`: a key whose
 * state no record has written for `ttl` is forgotten. Shared by the updating aggregate, `top_n`
 * and `deduplicate`.
 */

import { SluiceError } from '../errors.ts';
import type { KeyedView, StateBackend } from '../state.ts';
import { parseDuration } from '../time.ts';

/** The name of the keyed view holding each key's last write (the same in every step that has a ttl). */
export const WRITTEN_STATE = 'written';

/**
 * The last write of each key, in write order.
 *
 * A Map keeps insertion order, and a write moves its key to the end (delete, then set), so the
 * keys whose time is up are always at the front: `expire` looks at no key it does not forget but
 * one. A key written again at the same time stays where it is, so a batch (one clock reading)
 * moves each key at most once. Times come from the job clock made monotone (`now`), so a clock stepping back cannot break
 * that order; it only makes keys live a little longer. A checkpoint holds the times by key (the
 * keyed view {@link register} adds) and hands them back in no order: {@link restore} re-sorts them.
 */
export class StateTtl<K> {
  /** The time-to-live in ms (> 0). */
  readonly ttl: number;
  #written = new Map<K, number>();
  /** Times handed back by the keyed view, until {@link restore} puts them in order. */
  #restored = new Map<K, number>();
  #now = Number.NEGATIVE_INFINITY;

  constructor(ttl: number) {
    this.ttl = ttl;
  }

  /** The processing time for writes and expiry: `clockNow`, or the latest time seen if the clock went back. */
  now(clockNow: number): number {
    if (clockNow > this.#now) this.#now = clockNow;
    return this.#now;
  }

  /** Records that the state of `key` was written at `now` (a value from {@link now}). */
  touch(key: K, now: number): void {
    const written = this.#written;
    const at = written.get(key);
    // Written at `now` already: it is in the last run of keys, which all share the latest time.
    if (at === now) return;
    if (at !== undefined) written.delete(key);
    written.set(key, now);
  }

  /** Stops tracking `key`, whose state the operator dropped on its own. */
  remove(key: K): void {
    this.#written.delete(key);
  }

  /**
   * Forgets every key last written at or before `now - ttl`: calls `forget(key)` for each, oldest
   * first, and stops tracking it.
   */
  expire(now: number, forget: (key: K) => void): void {
    const bound = now - this.ttl;
    for (const [key, at] of this.#written) {
      if (at > bound) return;
      this.#written.delete(key);
      forget(key);
    }
  }

  /** How many keys are tracked. */
  get size(): number {
    return this.#written.size;
  }

  /**
   * The keyed view of the last writes (see {@link registerTtl}): one entry per tracked key; what
   * it takes back waits for {@link restore}.
   */
  view(): KeyedView<K, number> {
    return {
      entries: () => this.#written.entries(),
      restore: (key, at) => {
        if (typeof at === 'number') this.#restored.set(key, at);
      },
    };
  }

  /** The last write of each tracked key, for a checkpoint (a live reference: serialize it before the next call). */
  snapshot(): Map<K, number> {
    return this.#written;
  }

  /**
   * Restores the bookkeeping of `keys`, the keys in the restored state: each takes its time from
   * `saved` (a {@link snapshot}, in an operator snapshot of an older format), else from what the
   * keyed view took back, else `now` — state from a checkpoint written without a time-to-live, or
   * by an older snapshot version, lives `ttl` from the restore. Call it once the state is restored.
   */
  restore(saved: Map<K, number> | undefined, keys: Iterable<K>, now: number): void {
    const entries: [K, number][] = [];
    const viewed = this.#restored;
    for (const key of keys) {
      const at = saved?.get(key) ?? viewed.get(key);
      entries.push([key, typeof at === 'number' ? at : now]);
    }
    entries.sort((a, b) => a[1] - b[1]);
    this.#restored = new Map();
    this.#written = new Map(entries);
    const last = entries.length > 0 ? entries[entries.length - 1][1] : Number.NEGATIVE_INFINITY;
    if (last > this.#now) this.#now = last;
  }
}

/**
 * Registers in `state` the keyed view {@link WRITTEN_STATE} of `ttl`'s times (its times restored
 * go to `ttl.restore`), or, for a step without a ttl, an empty one: times a checkpoint holds from
 * when the step had a ttl are then dropped rather than carried from checkpoint to checkpoint.
 */
export function registerTtl<K>(state: StateBackend, ttl: StateTtl<K> | undefined): void {
  state.keyed<K, number>(WRITTEN_STATE, ttl === undefined ? NO_TIMES : ttl.view());
}

/** The keys of `entries` (of a keyed map), for {@link StateTtl.restore}. */
export function* keysOf<K>(entries: Iterable<readonly [K, unknown]>): Iterable<K> {
  for (const [key] of entries) yield key;
}

const NO_TIMES: KeyedView<never, number> = { entries: () => [], restore: () => {} };

/**
 * The `ttl` option of a step as ms, or undefined without one. Throws CONFIG_INVALID for a duration
 * that does not parse or is 0 (leave the option out to keep state for the life of the job).
 */
export function parseTtl(text: string | undefined, step: string): number | undefined {
  if (text === undefined) return undefined;
  let ttl: number;
  try {
    ttl = parseDuration(text, 'ttl');
  } catch (err) {
    throw new SluiceError('CONFIG_INVALID', err instanceof Error ? err.message : String(err), {
      step,
      path: 'ttl',
      cause: err,
    });
  }
  if (!(ttl > 0) || !Number.isFinite(ttl)) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `ttl must be a positive duration, got '${text}'; leave it out to keep every key's state for the life of the job`,
      { step, path: 'ttl' },
    );
  }
  return ttl;
}

/** The description of a step's `ttl` option; `forgetting` says what forgetting a key means for its results. */
export function ttlDescription(forgetting: string): string {
  return `State time-to-live, in processing time (as Flink's \`table.exec.state.ttl\`): a key whose state no record has written for this long is forgotten, so state stays bounded over an unbounded stream of keys. ${forgetting} The time of each key's last write is kept in checkpoints, and a restored key lives until its time is up. Default: keep every key for the life of the job.`;
}
