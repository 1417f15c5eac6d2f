/**
 * The temporal join: each left record joins the version of the right row, by key, that was valid
 * at the left record's event time — Flink SQL's event-time temporal join,
 * `JOIN rates FOR SYSTEM_TIME AS OF orders.order_time ON orders.currency = rates.currency`.
 *
 * The right input is a versioned table: each record is a new version of its key's row from its
 * event time on (an append stream read as upserts by key), and in a changelog an UPDATE_BEFORE or
 * DELETE ends the row at its time. A left record waits until the watermark reaches its time — by
 * then every version up to it has arrived — and is then joined with the latest version at or
 * before its time (of equal times, the one that arrived last), or, for a left join, emitted with
 * NULL for the right when there is none or the row was deleted. Results are appends at the left
 * record's time, in (time, arrival) order.
 *
 * Records at or behind the watermark are late: a left one could no longer wait, and a right
 * version would change results already emitted. State: the waiting left records, and per key the
 * versions newer than the watermark plus the latest one at or before it.
 *
 * That state is keyed state the runtime checkpoints by key group: one entry per key with its
 * waiting records (and where each stands among all of them) and its versions (the view `table`;
 * the left records whose key is NULL under the key null). A restore hands back those of the
 * groups this worker owns, in no order, and puts the waiting records back in order.
 */

import { SluiceError, toSluiceError } from '../errors.ts';
import type { Operator, OperatorContext, Output } from '../operator.ts';
import { type Batch, DELETE, INSERT, type Row, UPDATE_BEFORE } from '../record.ts';
import type { KeyedView, MemoryStateBackend } from '../state.ts';
import {
  flushResults,
  newResults,
  openJoinState,
  type PairOutput,
  pushResult,
  type Results,
} from './join-condition.ts';

export interface TemporalJoinOptions {
  readonly stepId: string;
  readonly pairs: PairOutput;
  /** `left`: a left record without a valid version is emitted with NULL for the right. */
  readonly keepUnmatched: boolean;
}

/** A version of a right row: valid from `time` until the next version of its key. */
interface Version {
  readonly row: Row | null;
  readonly time: number;
}

/** A left record waiting for the watermark to reach its time; `key` undefined: NULL (matches nothing). */
interface Waiting {
  readonly row: Row;
  readonly time: number;
  readonly key: string | undefined;
}

/**
 * A key's state as checkpointed: its waiting left records `[row, time, place]` (place: where it
 * stands among all the waiting records, the order they are joined in) and its versions.
 */
type SavedKey = [waiting: [Row, number, number][], versions: [Row | null, number][]];

/**
 * Checkpointed form. 2: the waiting records and the versions are the runtime's keyed state, one
 * entry per key (the view `table`; key null: the left records whose key is NULL), so `table` is
 * here only outside a job; 1 (older checkpoints): all of them.
 */
type TemporalJoinSnapshot =
  | { version: 2; watermark: number; keyed?: Map<string, Map<unknown, unknown>> }
  | {
      version: 1;
      watermark: number;
      waiting: [Row, number, string | null][];
      versions: [string, [Row | null, number][]][];
    };

/** First index in `list` whose time is > `time` (arrival order kept among equal times). */
function upperBound<T extends { readonly time: number }>(list: readonly T[], time: number, from = 0): number {
  let lo = from;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid].time <= time) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class TemporalJoinOperator implements Operator {
  readonly absorbs = true;
  readonly #options: TemporalJoinOptions;
  /** Left records by time, from `#head` on. */
  #waiting: Waiting[] = [];
  #head = 0;
  /** Each key's versions by time. */
  readonly #versions = new Map<string, Version[]>();
  #watermark = Number.NEGATIVE_INFINITY;
  /** Each key's waiting records and versions, as the runtime checkpoints them. */
  readonly #keyed: KeyedView<string | null, SavedKey> = {
    entries: () => this.#savedKeys(),
    restore: (key, [waiting, versions]) => {
      for (const [row, time, place] of waiting)
        this.#restoring.push([place, { row, time, key: key ?? undefined }]);
      if (versions.length > 0 && key !== null)
        this.#versions.set(
          key,
          versions.map(([row, time]) => ({ row, time })),
        );
    },
  };
  /** Outside a job (no `OperatorContext.state`): the keyed state, kept in the operator's own snapshot. */
  #own: MemoryStateBackend | undefined;
  /** Waiting records restored, with their places, until they are put in that order. */
  #restoring: [number, Waiting][] = [];

  constructor(options: TemporalJoinOptions) {
    this.#options = options;
  }

  /** Left records waiting and right versions kept, for tests of state cleanup. */
  get stateSize(): { waiting: number; versions: number } {
    let versions = 0;
    for (const list of this.#versions.values()) versions += list.length;
    return { waiting: this.#waiting.length - this.#head, versions };
  }

  open(ctx: OperatorContext): void {
    this.#options.pairs.open(ctx.log);
    this.#watermark = ctx.watermark();
    const { own, saved: s } = openJoinState(
      ctx,
      this.#options.stepId,
      'a temporal join',
      'table',
      this.#keyed,
      (x: Partial<Extract<TemporalJoinSnapshot, { version: 1 }>>) =>
        Array.isArray(x.waiting) && Array.isArray(x.versions),
    );
    this.#own = own;
    if (s !== undefined) {
      if (s.watermark > this.#watermark) this.#watermark = s.watermark;
      if (s.version === 1) {
        this.#waiting = (s.waiting ?? []).map(([row, time, key]) => ({ row, time, key: key ?? undefined }));
        for (const [key, list] of s.versions ?? [])
          this.#versions.set(
            key,
            list.map(([row, time]) => ({ row, time })),
          );
      }
    }
    // Restored keys' waiting records, in no order: back in the order they are joined in.
    if (this.#restoring.length > 0) {
      this.#restoring.sort((a, b) => a[0] - b[0]);
      this.#waiting = this.#restoring.map(([, w]) => w);
      this.#head = 0;
      this.#restoring = [];
    }
  }

  /** Each key's waiting records and versions, for the runtime's keyed state. */
  #savedKeys(): Iterable<readonly [string | null, SavedKey]> {
    const byKey = new Map<string | null, SavedKey>();
    const waiting = this.#waiting;
    const head = this.#head;
    for (let i = head; i < waiting.length; i++) {
      const { row, time, key } = waiting[i];
      const k = key ?? null;
      const saved = byKey.get(k);
      if (saved === undefined) byKey.set(k, [[[row, time, i - head]], []]);
      else saved[0].push([row, time, i - head]);
    }
    for (const [key, list] of this.#versions) {
      const versions = list.map((v): [Row | null, number] => [v.row, v.time]);
      const saved = byKey.get(key);
      if (saved === undefined) byKey.set(key, [[], versions]);
      else saved[1] = versions;
    }
    return byKey;
  }

  processBatch(batch: Batch, out: Output, input = 0): void {
    const left = input === 0;
    const { condition } = this.#options.pairs;
    const keyOf = left ? condition.leftKey : condition.rightKey;
    const { records, times, watermarks, kinds } = batch;
    const results = newResults(watermarks !== undefined);
    for (let i = 0; i < records.length; i++) {
      if (watermarks !== undefined && watermarks[i] > this.#watermark) this.#advance(watermarks[i], results);
      const time = times[i];
      const kind = kinds === undefined ? INSERT : kinds[i];
      if (left && kind !== INSERT) {
        flushResults(results, out);
        out.deadLetter(
          batch,
          i,
          new SluiceError(
            'PLAN_CHANGELOG_MISMATCH',
            'the left input of a temporal join must be append-only: an update or delete of a record that was already joined cannot be taken back',
            { step: this.#options.stepId },
          ),
        );
        continue;
      }
      if (!(time > this.#watermark)) {
        flushResults(results, out);
        out.late(
          batch,
          i,
          left
            ? `record time ${time} is at or behind the watermark ${this.#watermark}: the records joined at that time have been emitted`
            : `version time ${time} is at or behind the watermark ${this.#watermark}: left records at that time were joined with the version before it`,
        );
        continue;
      }
      let key: string | undefined;
      try {
        key = keyOf(records[i]);
      } catch (err) {
        flushResults(results, out);
        out.deadLetter(batch, i, toSluiceError(err, 'EXPR_EVAL', { step: this.#options.stepId }));
        continue;
      }
      if (left) this.#wait({ row: records[i], time, key });
      else if (key !== undefined) {
        const ends = kind === UPDATE_BEFORE || kind === DELETE;
        this.#addVersion(key, { row: ends ? null : records[i], time });
      }
    }
    flushResults(results, out);
  }

  #wait(entry: Waiting): void {
    const waiting = this.#waiting;
    if (waiting.length === this.#head || waiting[waiting.length - 1].time <= entry.time) waiting.push(entry);
    else waiting.splice(upperBound(waiting, entry.time, this.#head), 0, entry);
  }

  #addVersion(key: string, version: Version): void {
    const list = this.#versions.get(key);
    if (list === undefined) {
      this.#versions.set(key, [version]);
      return;
    }
    if (list[list.length - 1].time <= version.time) list.push(version);
    else list.splice(upperBound(list, version.time), 0, version);
    this.#prune(key);
  }

  onWatermark(watermark: number, out: Output): void {
    if (!(watermark > this.#watermark)) return;
    const results = newResults(false);
    this.#advance(watermark, results);
    flushResults(results, out);
  }

  /** Joins the left records the watermark has reached, in time order, then forgets versions no one can need. */
  #advance(watermark: number, results: Results): void {
    const before = this.#watermark;
    this.#watermark = watermark;
    const waiting = this.#waiting;
    const { pairs, keepUnmatched } = this.#options;
    let head = this.#head;
    // Allocated only when a record is joined: most advances (one per record that moves the
    // watermark) join none.
    let touched: Set<string> | undefined;
    while (head < waiting.length && waiting[head].time <= watermark) {
      const { row, time, key } = waiting[head++];
      let version: Version | undefined;
      if (key !== undefined) {
        const list = this.#versions.get(key);
        if (list !== undefined) {
          const at = upperBound(list, time) - 1;
          if (at >= 0) version = list[at];
          touched ??= new Set();
          touched.add(key);
        }
      }
      const right = version?.row ?? null;
      if (right !== null) {
        const pair = pairs.pair(row, right);
        if (pairs.matches(pair)) {
          pushResult(results, pairs.row(pair), time, before);
          continue;
        }
      }
      if (keepUnmatched) pushResult(results, pairs.row(pairs.pair(row, null)), time, before);
    }
    if (head === waiting.length) {
      this.#waiting = [];
      this.#head = 0;
    } else if (head > 64 && head * 2 > waiting.length) {
      this.#waiting = waiting.slice(head);
      this.#head = 0;
    } else this.#head = head;
    // Every left record still waiting is later than the watermark: of each key's versions at or
    // before it, only the latest can still be needed. Pruned where a left record looked, and
    // where a version is added: a key's versions are those newer than the watermark, plus one.
    if (touched !== undefined) for (const key of touched) this.#prune(key);
  }

  /** Drops the versions of `key` older than its latest one at or before the watermark. */
  #prune(key: string): void {
    const list = this.#versions.get(key)!;
    const at = upperBound(list, this.#watermark) - 1;
    if (at > 0) list.splice(0, at);
    // Only a deletion at or before the watermark left: the key has no row for anyone waiting.
    if (list.length === 1 && list[0].row === null && list[0].time <= this.#watermark)
      this.#versions.delete(key);
  }

  snapshot(): TemporalJoinSnapshot {
    const keyed = this.#own?.snapshot();
    return keyed === undefined
      ? { version: 2, watermark: this.#watermark }
      : { version: 2, watermark: this.#watermark, keyed };
  }
}
