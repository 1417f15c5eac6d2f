/**
 * The interval join: joins a left record at time t with the right records of the same key whose
 * times lie in [t + lower, t + upper] (Flink's `intervalJoin(...).between(lower, upper)`; in SQL,
 * `r.time BETWEEN l.time + lower AND l.time + upper`).
 *
 * Each side keeps its records per key until the watermark shows that no record of the other side
 * can still match them: a left record at t until the watermark reaches t + upper, a right record
 * at s until it reaches s − lower. So state stays bounded by the interval, whatever the length of
 * the input. A pair is emitted as soon as its second record arrives, at the later of the two
 * times. Outer joins emit a record that found no match, with NULL for the other side, when it
 * leaves the state, at the later of its own time and that bound (so that it is on time for the
 * steps after the join). Records at or behind the watermark are late, as in Flink.
 *
 * Results are appends, independent of batching: the operator advances to each record's
 * watermark (`Batch.watermarks`) before taking it, and expires entries in (time, key) order.
 *
 * The records are keyed state the runtime checkpoints by key group: one entry per key with both
 * sides' records (the view `records`); a restore hands back those of the groups this worker owns,
 * in no order, and the per-key lists and the expiry heaps are rebuilt from them.
 */

import { SluiceError, toSluiceError } from '../errors.ts';
import type { Operator, OperatorContext, Output } from '../operator.ts';
import type { Batch, Row } from '../record.ts';
import type { KeyedView, MemoryStateBackend } from '../state.ts';
import {
  flushResults,
  newResults,
  openJoinState,
  type PairOutput,
  pushResult,
  type Results,
} from './join-condition.ts';
import { TimerHeap } from './timer-heap.ts';

/** Which unmatched records an outer join keeps, padded with NULL for the other side. */
export type JoinKind = 'inner' | 'left' | 'right' | 'full';

export interface IntervalJoinOptions {
  readonly stepId: string;
  /** The keys, the rest of the condition and the output row. */
  readonly pairs: PairOutput;
  readonly kind: JoinKind;
  /** Bounds of right time − left time, ms, inclusive; lower ≤ upper. */
  readonly lower: number;
  readonly upper: number;
}

const SIDES = [0, 1] as const;

/** A record kept for matching. */
interface Entry {
  readonly row: Row;
  readonly time: number;
  /** When no record of the other side can match it any more (the watermark reaching this). */
  readonly expires: number;
  matched: boolean;
}

/**
 * A key's records on one side, sorted by time (arrival order among equal times) from `head` on:
 * the records before `head` have left. Their expiry is their time plus a constant of the side, so
 * the expired ones are always a prefix, and a match is a binary search for a time range.
 */
interface KeyRecords {
  entries: Entry[];
  head: number;
}

/** First index in [head, length) whose time is ≥ `time` (with `after`: > `time`). */
function search(list: KeyRecords, time: number, after: boolean): number {
  const entries = list.entries;
  let lo = list.head;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const t = entries[mid].time;
    if (t < time || (after && t === time)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * One side's state: its records per key, and a heap holding, for each key, when its first record
 * expires — one entry per key, so expiring costs O(log keys) per key and nothing per record.
 */
class JoinSide {
  readonly byKey = new Map<string, KeyRecords>();
  readonly expiry = new TimerHeap();
  size = 0;

  add(key: string, entry: Entry): void {
    this.size++;
    const list = this.byKey.get(key);
    if (list === undefined) {
      this.byKey.set(key, { entries: [entry], head: 0 });
      this.expiry.push(entry.expires, key);
      return;
    }
    const entries = list.entries;
    if (entries[entries.length - 1].time <= entry.time) {
      entries.push(entry);
      return;
    }
    // Out of order: into its place by time; a new first record expires before the key's entry.
    const at = search(list, entry.time, true);
    entries.splice(at, 0, entry);
    if (at === list.head) this.expiry.push(entry.expires, key);
  }
}

/** A key's records on one side as checkpointed: `[row, time, matched]` in time order. */
type SavedRecords = [Row, number, boolean][];

/** A key's state in the runtime's keyed state (the view `records`): each side's records, null for none. */
type SavedKey = [left: SavedRecords | null, right: SavedRecords | null];

/**
 * Checkpointed form. 2: the records are the runtime's keyed state, one entry per key (`records`),
 * so `records` is here only outside a job; 1 (older checkpoints): per side, `[key, records]`.
 */
type IntervalJoinSnapshot =
  | { version: 2; watermark: number; keyed?: Map<string, Map<unknown, unknown>> }
  | { version: 1; watermark: number; left: [string, SavedRecords][]; right: [string, SavedRecords][] };

export class IntervalJoinOperator implements Operator {
  readonly absorbs = true;
  readonly #options: IntervalJoinOptions;
  readonly #sides: readonly [JoinSide, JoinSide] = [new JoinSide(), new JoinSide()];
  /** Whether each side's unmatched records are emitted (outer join). */
  readonly #keepUnmatched: readonly [boolean, boolean];
  #watermark = Number.NEGATIVE_INFINITY;
  /** Both sides' records of each key, as the runtime checkpoints them. */
  readonly #keyed: KeyedView<string, SavedKey> = {
    entries: () => this.#savedKeys(),
    restore: (key, [left, right]) => {
      if (left !== null) this.#restoreRecords(0, key, left);
      if (right !== null) this.#restoreRecords(1, key, right);
    },
  };
  /** Outside a job (no `OperatorContext.state`): the keyed state, kept in the operator's own snapshot. */
  #own: MemoryStateBackend | undefined;

  constructor(options: IntervalJoinOptions) {
    const { lower, upper, stepId } = options;
    if (!(lower <= upper)) {
      throw new SluiceError(
        'CONFIG_INVALID',
        `between: the lower bound (${lower} ms) is after the upper bound (${upper} ms); write [lower, upper] with lower ≤ upper`,
        { step: stepId, path: 'between' },
      );
    }
    this.#options = options;
    const { kind } = options;
    this.#keepUnmatched = [kind === 'left' || kind === 'full', kind === 'right' || kind === 'full'];
  }

  /** Records kept per side, for tests of state cleanup. */
  get stateSize(): { left: number; right: number } {
    return { left: this.#sides[0].size, right: this.#sides[1].size };
  }

  open(ctx: OperatorContext): void {
    this.#options.pairs.open(ctx.log);
    this.#watermark = ctx.watermark();
    const { own, saved: s } = openJoinState(
      ctx,
      this.#options.stepId,
      'an interval join',
      'records',
      this.#keyed,
      (x: Partial<Extract<IntervalJoinSnapshot, { version: 1 }>>) =>
        Array.isArray(x.left) && Array.isArray(x.right),
    );
    this.#own = own;
    if (s === undefined) return;
    if (s.watermark > this.#watermark) this.#watermark = s.watermark;
    if (s.version === 1) {
      for (const [key, saved] of s.left ?? []) this.#restoreRecords(0, key, saved);
      for (const [key, saved] of s.right ?? []) this.#restoreRecords(1, key, saved);
    }
  }

  /** Takes back a key's records of one side, saved in time order. */
  #restoreRecords(side: 0 | 1, key: string, saved: SavedRecords): void {
    for (const [row, time, matched] of saved)
      this.#sides[side].add(key, { row, time, expires: this.#expiresAt(side, time), matched });
  }

  /** Each key's records of both sides, for the runtime's keyed state. */
  *#savedKeys(): Iterable<readonly [string, SavedKey]> {
    const [left, right] = this.#sides;
    for (const [key, list] of left.byKey) {
      const other = right.byKey.get(key);
      yield [key, [savedRecords(list), other === undefined ? null : savedRecords(other)]];
    }
    for (const [key, list] of right.byKey) if (!left.byKey.has(key)) yield [key, [null, savedRecords(list)]];
  }

  /** Left records wait for right records up to t + upper; right ones for left ones from s − lower. */
  #expiresAt(side: 0 | 1, time: number): number {
    return side === 0 ? time + this.#options.upper : time - this.#options.lower;
  }

  processBatch(batch: Batch, out: Output, input = 0): void {
    const side: 0 | 1 = input === 0 ? 0 : 1;
    const { condition } = this.#options.pairs;
    const keyOf = side === 0 ? condition.leftKey : condition.rightKey;
    const records = batch.records;
    const times = batch.times;
    const watermarks = batch.watermarks;
    const results = newResults(watermarks !== undefined);
    for (let i = 0; i < records.length; i++) {
      if (watermarks !== undefined && watermarks[i] > this.#watermark) this.#advance(watermarks[i], results);
      const time = times[i];
      if (!(time > this.#watermark)) {
        flushResults(results, out);
        out.late(
          batch,
          i,
          `record time ${time} is at or behind the watermark ${this.#watermark}: no record of the other side can be joined with it any more`,
        );
        continue;
      }
      const row = records[i];
      let key: string | undefined;
      try {
        key = keyOf(row);
      } catch (err) {
        flushResults(results, out);
        out.deadLetter(batch, i, toSluiceError(err, 'EXPR_EVAL', { step: this.#options.stepId }));
        continue;
      }
      const entry: Entry = { row, time, expires: this.#expiresAt(side, time), matched: false };
      if (key !== undefined) this.#match(side, key, entry, results);
      if (key !== undefined && entry.expires > this.#watermark) this.#sides[side].add(key, entry);
      else if (!entry.matched && this.#keepUnmatched[side]) this.#emitUnmatched(side, entry, results);
    }
    flushResults(results, out);
  }

  /** Emits the pairs `entry` makes with the other side's records of `key` inside the interval. */
  #match(side: 0 | 1, key: string, entry: Entry, results: Results): void {
    const others = this.#sides[1 - side].byKey.get(key);
    if (others === undefined) return;
    const entries = others.entries;
    const { lower, upper, pairs } = this.#options;
    // For a left record at t: right times in [t + lower, t + upper]; for a right one at s: left
    // times in [s − upper, s − lower].
    const from = side === 0 ? entry.time + lower : entry.time - upper;
    const to = side === 0 ? entry.time + upper : entry.time - lower;
    for (let j = search(others, from, false); j < entries.length; j++) {
      const other = entries[j];
      if (other.time > to) break;
      const pair = side === 0 ? pairs.pair(entry.row, other.row) : pairs.pair(other.row, entry.row);
      if (!pairs.matches(pair)) continue;
      entry.matched = true;
      other.matched = true;
      pushResult(results, pairs.row(pair), Math.max(entry.time, other.time), this.#watermark);
    }
  }

  /** An outer join's row for a record that found no match, emitted with the watermark before it left. */
  #emitUnmatched(side: 0 | 1, entry: Entry, results: Results, watermark = this.#watermark): void {
    const { pairs } = this.#options;
    const pair = side === 0 ? pairs.pair(entry.row, null) : pairs.pair(null, entry.row);
    pushResult(results, pairs.row(pair), Math.max(entry.expires, entry.time), watermark);
  }

  onWatermark(watermark: number, out: Output): void {
    if (!(watermark > this.#watermark)) return;
    const results = newResults(false);
    this.#advance(watermark, results);
    flushResults(results, out);
  }

  /**
   * Moves to `watermark`, dropping the records no record of the other side can match any more,
   * in (expiry, key) order, and emitting those an outer join keeps that never matched.
   */
  #advance(watermark: number, results: Results): void {
    const before = this.#watermark;
    this.#watermark = watermark;
    for (const side of SIDES) {
      const state = this.#sides[side];
      const heap = state.expiry;
      while (heap.size > 0 && heap.topTime <= watermark) {
        const due = heap.topTime;
        const key = heap.topKey;
        heap.pop();
        const list = state.byKey.get(key);
        // A stale entry: the key's first record changed since (left, or one came before it).
        if (list === undefined || list.entries[list.head].expires !== due) continue;
        const entries = list.entries;
        let head = list.head;
        while (head < entries.length && entries[head].expires <= watermark) {
          const entry = entries[head++];
          state.size--;
          if (!entry.matched && this.#keepUnmatched[side]) this.#emitUnmatched(side, entry, results, before);
        }
        if (head === entries.length) {
          state.byKey.delete(key);
          continue;
        }
        if (head > 16 && head * 2 > entries.length) {
          entries.splice(0, head);
          head = 0;
        }
        list.head = head;
        heap.push(entries[head].expires, key);
      }
    }
  }

  snapshot(): IntervalJoinSnapshot {
    const keyed = this.#own?.snapshot();
    return keyed === undefined
      ? { version: 2, watermark: this.#watermark }
      : { version: 2, watermark: this.#watermark, keyed };
  }
}

function savedRecords(list: KeyRecords): SavedRecords {
  const saved: SavedRecords = [];
  const entries = list.entries;
  for (let i = list.head; i < entries.length; i++)
    saved.push([entries[i].row, entries[i].time, entries[i].matched]);
  return saved;
}
