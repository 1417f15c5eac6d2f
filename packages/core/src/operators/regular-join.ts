/**
 * The regular join: a `join` with no time bound (neither `between` nor `window`), as Flink SQL's
 * streaming join (`StreamingJoinOperator`) runs `a JOIN b ON …`. Both sides are kept in state per
 * join key, and the output is the changelog of the join of the two input tables.
 *
 * Each input may be a retract changelog. A record that adds a row (insert, update-after) is kept
 * and joins the other side's rows of its key; one that removes a row (update-before, delete)
 * leaves the state and retracts the pairs it made. The kinds of the output are Flink's: an inner
 * join forwards the input record's kind to its pairs; an outer join emits inserts and deletes
 * only — a row of an outer side first emitted padded with NULL is deleted when its first match
 * arrives (then the pair inserted), and inserted again padded when its last match goes (after
 * the pair's delete). Every change takes the event time (and `watermarks` entry) of the input
 * record that caused it; with no time bound, no record is ever late.
 *
 * Work per record is the rows of its key on the other side (and, for a retraction, the rows of its
 * key on its own side, to find the one it removes). Pairs come per key in arrival order, so the
 * output for one input record is deterministic and, per input, independent of batching.
 *
 * The state is the runtime's keyed map `rows`: one entry per join key with both sides' rows (and,
 * with a ttl, when each side's were last written), checkpointed by key group; each side's order
 * of last writes, which the ttl forgets from, is rebuilt from those times at a restore.
 */

import { isDeepStrictEqual } from 'node:util';
import { SluiceError, toSluiceError } from '../errors.ts';
import type { Operator, OperatorContext, Output } from '../operator.ts';
import {
  type Batch,
  DELETE,
  INSERT,
  type Row,
  type RowKind,
  UPDATE_AFTER,
  UPDATE_BEFORE,
} from '../record.ts';
import type { StepChangelog } from '../spec.ts';
import { type KeyedMap, MemoryStateBackend, restoreMaps, type StateBackend } from '../state.ts';
import type { Clock } from '../time.ts';
import { RESULT_BATCH_SIZE } from '../window/result-emitter.ts';
import type { JoinKind } from './interval-join.ts';
import type { PairOutput } from './join-condition.ts';
import { StateTtl } from './state-ttl.ts';

/** What a regular join is built from: the compiled `on` and `fields`, the kind and the ttl. */
export interface RegularJoinOptions {
  readonly stepId: string;
  /** The keys, the rest of the condition and the output rows. */
  readonly pairs: PairOutput;
  readonly kind: JoinKind;
  /**
   * Milliseconds of processing time after which the state of a key on one side, written to by
   * no record since, is forgotten (Flink's `table.exec.state.ttl`); absent: kept for the life of
   * the job.
   */
  readonly ttl?: number;
}

/**
 * What a regular join takes and gives as a changelog: appends and retract streams in; an inner
 * join gives the mode of its inputs (append-only when both are), an outer join a retract stream.
 */
export function regularJoinChangelog(kind: JoinKind): StepChangelog {
  if (kind === 'inner') return { consumes: ['append', 'retract'], produces: 'input' };
  return {
    consumes: ['append', 'retract'],
    produces: 'retract',
    reason: `a ${kind} join without \`between\` or \`window\` emits a row without a match at once, padded with NULL, and deletes it when its first match arrives; write the output to a sink with a \`changelog\` option, use an inner join, or bound the join in time with \`between\``,
  };
}

/** The rows of one side with one join key. Plain data: checkpointed as it is. */
interface KeyRows {
  /** In arrival order. */
  rows: Row[];
  /** On an outer side, per row: how many rows of the other side it matches now; else null. */
  matches: number[] | null;
}

type Side = 0 | 1;

/**
 * Both sides' state of one join key, an entry of the runtime's keyed map `rows`: each side's
 * rows (null: none), and with a ttl, the processing time each side's rows were last written
 * (null: not known — kept without a ttl, or none).
 */
type KeyState = [
  left: KeyRows | null,
  right: KeyRows | null,
  leftWritten: number | null,
  rightWritten: number | null,
];

const SNAPSHOT_FORMAT = 'sluice.regular_join.v2';
const SNAPSHOT_FORMAT_V1 = 'sluice.regular_join.v1';

/**
 * Checkpointed form. v2: the rows are the runtime's keyed state (`rows`), so `state` is here only
 * outside a job; v1 (older checkpoints): each side's rows by key, and with a ttl each key's last
 * write per side.
 */
type RegularJoinSnapshot =
  | { format: typeof SNAPSHOT_FORMAT; kind: JoinKind; state?: unknown }
  | {
      format: typeof SNAPSHOT_FORMAT_V1;
      kind: JoinKind;
      left: Map<string, KeyRows>;
      right: Map<string, KeyRows>;
      written: [Map<string, number>, Map<string, number>] | null;
    };

/** Output changes under construction; `kinds` only when some change may not be an insert. */
interface Changes {
  records: Row[];
  times: number[];
  kinds?: RowKind[];
  watermarks?: number[];
}

/**
 * The regular join operator. `processBatch` takes input 0 as the left side and 1 as the right. A
 * record whose key fails goes to the dead letters and changes nothing; a residual condition or a
 * field that fails on a pair counts as not met, or is NULL, with a warning (`PairOutput`). With a
 * `ttl`, processing time is read at each batch and tick (`onProcessingTime`). `snapshot()`
 * returns live references to the state: the runtime must encode it before the next call. `open`
 * throws CHECKPOINT_INCOMPATIBLE for the state of another kind of join.
 */
export class RegularJoinOperator implements Operator {
  readonly absorbs = true;
  readonly #options: RegularJoinOptions;
  readonly #pairs: PairOutput;
  readonly #left: string;
  readonly #right: string;
  /** Whether the condition has more than the key, checked on each pair. */
  readonly #residual: boolean;
  /** Whether output rows are built from `fields` (else each pair is a new output row). */
  readonly #fields: boolean;
  readonly #inner: boolean;
  /** Whether each side's rows appear without a match (padded with NULL). */
  readonly #outer: readonly [boolean, boolean];
  /** With a ttl: when each side's keys were last written. */
  readonly #ttl: readonly [StateTtl<string>, StateTtl<string>] | undefined;
  #backend: StateBackend = new MemoryStateBackend();
  /** Whether the state lives here (no runtime holds it): then it goes into `snapshot`. */
  #ownState = true;
  /** Both sides' rows by join key. */
  #keys: KeyedMap<KeyState> = this.#backend.map<KeyState>('rows');
  /** The pair the residual and the `fields` read; reused, never emitted. */
  readonly #probe: Row = {};
  /** Indexes of the other side's rows that pass the residual, for the record at hand. */
  readonly #hits: number[] = [];
  #clock: Clock | undefined;
  /** Processing time of the batch at hand (with a ttl). */
  #now = 0;

  constructor(options: RegularJoinOptions) {
    this.#options = options;
    const { pairs, kind, ttl } = options;
    this.#pairs = pairs;
    this.#left = pairs.condition.left;
    this.#right = pairs.condition.right;
    this.#residual = pairs.condition.residual !== undefined;
    this.#fields = pairs.hasFields;
    this.#inner = kind === 'inner';
    this.#outer = [kind === 'left' || kind === 'full', kind === 'right' || kind === 'full'];
    this.#ttl = ttl === undefined ? undefined : [new StateTtl(ttl), new StateTtl(ttl)];
    this.#probe[this.#left] = null;
    this.#probe[this.#right] = null;
  }

  /** Rows kept per side and keys per side, for tests of state size. */
  get stateSize(): { left: number; right: number; leftKeys: number; rightKeys: number } {
    const size = { left: 0, right: 0, leftKeys: 0, rightKeys: 0 };
    for (const [, [left, right]] of this.#keys.entries()) {
      if (left !== null) {
        size.left += left.rows.length;
        size.leftKeys++;
      }
      if (right !== null) {
        size.right += right.rows.length;
        size.rightKeys++;
      }
    }
    return size;
  }

  open(ctx: OperatorContext): void {
    this.#clock = ctx.clock;
    this.#pairs.open(ctx.log);
    this.#backend = ctx.state ?? new MemoryStateBackend();
    this.#ownState = ctx.state === undefined;
    this.#keys = this.#backend.map<KeyState>('rows');
    if (ctx.restored !== undefined) {
      const s = ctx.restored as Partial<RegularJoinSnapshot> | null;
      const step = this.#options.stepId;
      if (
        s?.kind !== this.#options.kind ||
        !(s.format === SNAPSHOT_FORMAT
          ? s.state === undefined || restoreMaps(s.state, this.#backend)
          : s.format === SNAPSHOT_FORMAT_V1 && s.left instanceof Map && s.right instanceof Map)
      ) {
        throw new SluiceError(
          'CHECKPOINT_INCOMPATIBLE',
          `the checkpoint's state for step '${step}' is not the state of a ${this.#options.kind} regular join; the step changed since the checkpoint was taken: restart with --from-scratch`,
          { step },
        );
      }
      if (s.format === SNAPSHOT_FORMAT_V1) this.#restoreV1(s.left!, s.right!, s.written);
    }
    if (this.#ttl !== undefined) this.#restoreTtl(ctx.clock.now());
    // Writes are not timed without a ttl: times kept from a run with one would be stale if a ttl came back.
    else for (const [, entry] of this.#keys.entries()) entry[2] = entry[3] = null;
  }

  /** Moves the state of a version-1 snapshot (each side's rows by key, their last writes) into `rows`. */
  #restoreV1(
    left: Map<string, KeyRows>,
    right: Map<string, KeyRows>,
    written: [Map<string, number>, Map<string, number>] | null | undefined,
  ): void {
    const keys = this.#keys;
    const at = (side: Side, key: string): number | null => {
      const time =
        Array.isArray(written) && written[side] instanceof Map ? written[side].get(key) : undefined;
      return typeof time === 'number' ? time : null;
    };
    for (const [key, rows] of left) keys.set(key, [rows, null, at(0, key), null]);
    for (const [key, rows] of right) {
      const entry = keys.get(key);
      if (entry === undefined) keys.set(key, [null, rows, null, at(1, key)]);
      else {
        entry[1] = rows;
        entry[3] = at(1, key);
      }
    }
  }

  /**
   * Rebuilds each side's write order (oldest first) from the restored keys' write times. A key
   * whose time is not known (kept without a ttl) lives `ttl` from the restore, at `clockNow`.
   */
  #restoreTtl(clockNow: number): void {
    const ttl = this.#ttl!;
    for (const side of [0, 1] as const) {
      const now = ttl[side].now(clockNow);
      const written: [string, number][] = [];
      for (const [key, entry] of this.#keys.entries()) {
        if (entry[side] === null) continue;
        const at = entry[2 + side];
        written.push([key, typeof at === 'number' ? at : now]);
      }
      written.sort((a, b) => a[1] - b[1]);
      for (const [key, at] of written) {
        ttl[side].now(at);
        ttl[side].touch(key, at);
      }
    }
  }

  processBatch(batch: Batch, out: Output, input = 0): void {
    const n = batch.records.length;
    if (n === 0) return;
    const side: Side = input === 0 ? 0 : 1;
    if (this.#ttl !== undefined) this.#expire(this.#clock!.now());
    const { condition } = this.#pairs;
    const keyOf = side === 0 ? condition.leftKey : condition.rightKey;
    const records = batch.records;
    const kinds = batch.kinds;
    let changes = this.#changes(batch);
    for (let i = 0; i < n; i++) {
      const kind: RowKind = kinds === undefined ? INSERT : kinds[i];
      let key: string | undefined;
      try {
        key = keyOf(records[i]);
      } catch (err) {
        out.deadLetter(batch, i, toSluiceError(err, 'EXPR_EVAL', { step: this.#options.stepId }));
        continue;
      }
      this.#apply(side, key, batch, i, kind, kind === INSERT || kind === UPDATE_AFTER, changes);
      // An update-before's changes stay in one batch with its update-after's.
      if (changes.records.length >= RESULT_BATCH_SIZE && kind !== UPDATE_BEFORE) {
        out.emit(changes);
        changes = this.#changes(batch);
      }
    }
    if (changes.records.length > 0) out.emit(changes);
  }

  onProcessingTime(now: number): void {
    if (this.#ttl !== undefined) this.#expire(now);
  }

  snapshot(): RegularJoinSnapshot {
    const snapshot: RegularJoinSnapshot = { format: SNAPSHOT_FORMAT, kind: this.#options.kind };
    if (this.#ownState) snapshot.state = this.#backend.snapshot();
    return snapshot;
  }

  /** An empty output batch for the changes `batch` causes. */
  #changes(batch: Batch): Changes {
    const changes: Changes = { records: [], times: [] };
    // An inner join of inserts gives inserts only: an append-only stream carries no kinds.
    if (!this.#inner || batch.kinds !== undefined) changes.kinds = [];
    if (batch.watermarks !== undefined) changes.watermarks = [];
    return changes;
  }

  /** Adds `row` as a change of `kind` caused by record `i` of `batch`. */
  #push(changes: Changes, batch: Batch, i: number, kind: RowKind, row: Row): void {
    changes.records.push(row);
    changes.times.push(batch.times[i]);
    if (changes.kinds !== undefined) changes.kinds.push(kind);
    if (changes.watermarks !== undefined) changes.watermarks.push(batch.watermarks![i]);
  }

  /**
   * The rows of `others` the record `row` of `side` matches: their count; their indexes are in
   * `#hits` when there is a residual condition (without one, every row of the key matches).
   */
  #match(side: Side, row: Row, others: KeyRows | undefined): number {
    if (others === undefined) return 0;
    if (!this.#residual) return others.rows.length;
    const pairs = this.#pairs;
    const probe = this.#probe;
    const rows = others.rows;
    const hits = this.#hits;
    hits.length = 0;
    const own = side === 0 ? this.#left : this.#right;
    const other = side === 0 ? this.#right : this.#left;
    probe[own] = row;
    for (let j = 0; j < rows.length; j++) {
      probe[other] = rows[j];
      if (pairs.matches(probe)) hits.push(j);
    }
    return hits.length;
  }

  /** The output row of a pair (`left` or `right` null for a row without a match). */
  #row(left: Row | null, right: Row | null): Row {
    if (!this.#fields) return this.#pairs.pair(left, right);
    const probe = this.#probe;
    probe[this.#left] = left;
    probe[this.#right] = right;
    return this.#pairs.row(probe);
  }

  /** The output row of `row` of `side` paired with `other`. */
  #pair(side: Side, row: Row, other: Row | null): Row {
    return side === 0 ? this.#row(row, other) : this.#row(other, row);
  }

  /**
   * Record `i` joins the other side's rows of `key` and is kept (`adding`: an insert or
   * update-after), or leaves the state and retracts the pairs it made (an update-before or
   * delete). For an outer side, a row's first match deletes its NULL-padded row just before the
   * pair, and its last match going inserts the padded row again just after.
   */
  #apply(
    side: Side,
    key: string | undefined,
    batch: Batch,
    i: number,
    kind: RowKind,
    adding: boolean,
    changes: Changes,
  ): void {
    const row = batch.records[i];
    const inputOuter = this.#outer[side];
    const alone = adding ? INSERT : DELETE;
    if (key === undefined) {
      // A NULL key matches nothing (SQL); such a row needs no state.
      if (inputOuter) this.#push(changes, batch, i, alone, this.#pair(side, row, null));
      return;
    }
    const otherSide: Side = side === 0 ? 1 : 0;
    const keys = this.#keys;
    let entry = keys.get(key);
    const others = entry?.[otherSide] ?? undefined;
    const hits = this.#match(side, row, others);
    const indexed = this.#residual;
    const otherOuter = this.#outer[otherSide];
    if (hits === 0) {
      if (inputOuter) this.#push(changes, batch, i, alone, this.#pair(side, row, null));
    } else {
      const rows = others!.rows;
      const matches = others!.matches;
      const pairKind = this.#inner ? kind : alone;
      for (let h = 0; h < hits; h++) {
        const j = indexed ? this.#hits[h] : h;
        const other = rows[j];
        if (adding && otherOuter) {
          if (matches![j] === 0) this.#push(changes, batch, i, DELETE, this.#pair(otherSide, other, null));
          matches![j]++;
        }
        this.#push(changes, batch, i, pairKind, this.#pair(side, row, other));
        // A retraction of a row that was never kept (forgotten by the ttl) finds counts at 0.
        if (!adding && otherOuter && matches![j] > 0) {
          if (matches![j] === 1) this.#push(changes, batch, i, INSERT, this.#pair(otherSide, other, null));
          matches![j]--;
        }
      }
      if (otherOuter) this.#touch(otherSide, key, entry!);
    }
    if (!adding) {
      if (entry !== undefined) this.#remove(side, key, entry, row);
      return;
    }
    if (entry === undefined) {
      const rows: KeyRows = { rows: [row], matches: inputOuter ? [hits] : null };
      entry = side === 0 ? [rows, null, null, null] : [null, rows, null, null];
      keys.set(key, entry);
    } else {
      const mine = entry[side];
      if (mine === null) entry[side] = { rows: [row], matches: inputOuter ? [hits] : null };
      else {
        mine.rows.push(row);
        if (mine.matches !== null) mine.matches.push(hits);
      }
    }
    this.#touch(side, key, entry);
  }

  /** Removes one row equal to `row` from `side`'s rows of `key` (the latest such), if any. */
  #remove(side: Side, key: string, entry: KeyState, row: Row): void {
    const mine = entry[side];
    if (mine === null) return;
    const rows = mine.rows;
    let at = rows.lastIndexOf(row);
    if (at < 0) {
      for (let j = rows.length - 1; j >= 0; j--) {
        if (isDeepStrictEqual(rows[j], row)) {
          at = j;
          break;
        }
      }
      if (at < 0) return;
    }
    if (rows.length === 1) {
      this.#forget(side, key, entry);
      this.#ttl?.[side].remove(key);
      return;
    }
    rows.splice(at, 1);
    mine.matches?.splice(at, 1);
    this.#touch(side, key, entry);
  }

  /** Drops `side`'s rows of `key`, and the key's entry when the other side has none either. */
  #forget(side: Side, key: string, entry: KeyState): void {
    entry[side] = null;
    entry[2 + side] = null;
    if (entry[side === 0 ? 1 : 0] === null) this.#keys.delete(key);
  }

  /** Notes that `side`'s state of `key` was written now (with a ttl). */
  #touch(side: Side, key: string, entry: KeyState): void {
    const ttl = this.#ttl;
    if (ttl === undefined) return;
    ttl[side].touch(key, this.#now);
    entry[2 + side] = this.#now;
  }

  /** Forgets the keys of each side not written for `ttl` at processing time `clockNow`. */
  #expire(clockNow: number): void {
    const ttl = this.#ttl!;
    const now = Math.max(ttl[0].now(clockNow), ttl[1].now(clockNow));
    this.#now = now;
    const keys = this.#keys;
    for (const side of [0, 1] as const)
      ttl[side].expire(now, (key) => {
        const entry = keys.get(key);
        if (entry !== undefined) this.#forget(side, key, entry);
      });
  }
}
