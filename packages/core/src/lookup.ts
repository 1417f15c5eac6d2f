/**
 * The lookup contract: how the `lookup` step reads rows by key from a table outside the stream
 * (a file, an HTTP API, Redis, PostgreSQL, Cassandra) — Flink SQL's lookup table source, Kafka
 * Streams' GlobalKTable, Redpanda Connect's `cached` + `http` processors.
 *
 * A lookup is batched: one `get` takes many keys, so a store that can answer them together (Redis
 * `MGET`, PostgreSQL `WHERE (k) = ANY($1)`, a Cassandra `IN`) does one round trip per batch. The
 * step in front of it dedupes the keys of a batch, answers what its cache holds, splits the rest
 * into calls of at most `maxKeys`, and runs those calls under its `concurrency`, `timeout` and
 * `retries` — so a lookup neither caches, nor retries, nor limits itself.
 */

import type { Logger } from './connector.ts';
import type { SluiceError } from './errors.ts';
import type { Row } from './record.ts';
import type { Clock } from './time.ts';

/**
 * The values of one key: one per key expression of the step, in order (`key: [region, id]`
 * gives `['eu', 42]`). Never empty; no value is NULL (a record whose key has a NULL is a miss
 * without a call, as a NULL matches nothing in SQL). Values keep their types: 42 and '42' are
 * different keys.
 */
export type LookupKey = readonly unknown[];

/**
 * What a lookup answers for one key:
 * - a `Row` — the table's row for the key. The step and the steps after it never change it, so
 *   a lookup may hand out the same object again (the `file` lookup hands out its own rows);
 * - `null` — the table has no row for it: a miss, which the step's `on_miss` decides about
 *   (and which its cache keeps, like a row);
 * - a `SluiceError` — this key failed and the others did not. A retryable code
 *   (`LOOKUP_UNAVAILABLE`, `ASYNC_TIMEOUT`) means it may pass on another try: the step asks again
 *   for that key, up to its `retries`; any other code (`LOOKUP_FAILED`) is final, and the records
 *   with that key go to the dead letters with its message.
 */
export type LookupAnswer = Row | null | SluiceError;

/** What a lookup gets when the job opens it. */
export interface LookupContext {
  /** The id of the step reading the lookup (for log lines and errors). */
  readonly id: string;
  readonly clock: Clock;
  /** Folder relative paths in the config resolve against (the pipeline file's folder). */
  readonly baseDir: string;
  /** Never pass secrets (header values, passwords) in its fields. */
  readonly log: Logger;
  /** Aborted when the job stops or fails: end background work (reloads, reconnects) then. */
  readonly signal: AbortSignal;
}

/** What a lookup type's factory is told about the step that will read it. */
export interface LookupInfo {
  /** How many values each key has (the step's key expressions): check the config against it. */
  readonly keyLength: number;
}

/**
 * A table read by key. Opened once when the job opens (before any record), closed once when it
 * ends, cleanly or not; `get` is called only in between, possibly several times at once.
 */
export interface Lookup {
  /** Most keys one `get` takes; the step splits larger sets. Absent: no limit. */
  readonly maxKeys?: number;
  /**
   * Connects, loads, checks credentials. A rejection fails the job's start, so a wrong address
   * or a missing file is reported before any record is read. Absent: nothing to open.
   */
  open?(ctx: LookupContext): Promise<void>;
  /**
   * Answers each of `keys` (distinct, at most `maxKeys`): resolves with one `LookupAnswer` per
   * key, in the same order. Rejecting means every key failed with that error — a retryable
   * SluiceError (the store is unreachable, a transient 5xx) is tried again, anything else sends
   * the records of every key to the dead letters. `signal` aborts on the step's `timeout` and
   * when the job stops: stop waiting then. Must not keep or change `keys`.
   */
  get(keys: readonly LookupKey[], signal: AbortSignal): Promise<LookupAnswer[]>;
  /**
   * Releases connections and timers; called once when the job ends, after `open` (also after
   * one that rejected) and after the last `get` has settled or been abandoned. Should not throw.
   */
  close?(): Promise<void>;
}

/**
 * Asks `get` for every key at once; when that fails for a reason one key's value can cause
 * (`byKey(err)`: a value its column cannot take fails the whole query), asks for each key alone,
 * so that the key at fault gets its own error (`toError`) and the others their answers. Any other
 * failure is thrown as `toError` makes it. For lookups that answer a batch with one query.
 */
export async function getOrBisectByKey(
  keys: readonly LookupKey[],
  get: (keys: readonly LookupKey[]) => Promise<LookupAnswer[]>,
  byKey: (err: unknown) => boolean,
  toError: (err: unknown) => SluiceError,
): Promise<LookupAnswer[]> {
  try {
    return await get(keys);
  } catch (err) {
    if (!byKey(err) || keys.length === 1) throw toError(err);
    const answers: LookupAnswer[] = [];
    for (const key of keys) {
      try {
        answers.push(...(await get([key])));
      } catch (one) {
        if (!byKey(one)) throw toError(one);
        answers.push(toError(one));
      }
    }
    return answers;
  }
}
