/**
 * The window join: records of the two inputs join when they fall into the same window and have
 * the same key (Flink SQL's window join over TUMBLE, HOP or CUMULATE windows). Each window's
 * records are kept per side and key until the watermark passes the window's end; then its pairs
 * are emitted, and for an outer join the records of the kept side that found no partner, with
 * NULL for the other. Each result has the window's bounds (`window_start`, `window_end`) and
 * `window_end − 1` as its event time, like a window aggregate's results.
 *
 * A record none of whose windows is still open is late. Windows fire in end order; within one,
 * left keys in order of first arrival, rows in arrival order — so results depend on the input
 * alone. State is the open windows' records: bounded by the window size, not the input length.
 *
 * The records are keyed state the runtime checkpoints by key group: one entry per key with its
 * rows in each open window and where it came among the window's keys (the view `windows`; the
 * rows whose key is NULL under the key null). A restore hands back those of the groups this
 * worker owns, in no order, and puts each window's keys back in the order they came.
 */

import { SluiceError, toSluiceError } from '../errors.ts';
import type { Operator, OperatorContext, Output } from '../operator.ts';
import type { Batch, Row } from '../record.ts';
import type { KeyedView, MemoryStateBackend } from '../state.ts';
import { createWindowAssigner, type WindowAssigner } from '../window/window-assigner.ts';
import type { WindowSpec } from '../window/window-spec.ts';
import type { JoinKind } from './interval-join.ts';
import {
  flushResults,
  newResults,
  openJoinState,
  type PairOutput,
  pushResult,
  type Results,
} from './join-condition.ts';
import { TimerHeap } from './timer-heap.ts';

export interface WindowJoinOptions {
  readonly stepId: string;
  /** The keys, the rest of the condition and the output row. */
  readonly pairs: PairOutput;
  readonly kind: JoinKind;
  readonly window: WindowSpec;
}

/** One open window: each side's records by key, and those whose key is NULL (they match nothing). */
interface OpenWindow {
  readonly start: number;
  readonly end: number;
  readonly sides: readonly [Map<string, Row[]>, Map<string, Row[]>];
  readonly unkeyed: readonly [Row[], Row[]];
}

type SavedSide = [string, Row[]][];

/**
 * A key's rows in one open window, as checkpointed: the window, each side's rows (null for none)
 * and where the key came on each side among the window's keys (the order a window fires in).
 */
type SavedWindow = [
  start: number,
  end: number,
  left: Row[] | null,
  right: Row[] | null,
  leftAt: number,
  rightAt: number,
];

/**
 * Checkpointed form. 2: the open windows' rows are the runtime's keyed state, one entry per key
 * (the view `windows`; key null: the rows whose key is NULL), so `windows` is here only outside a
 * job; 1 (older checkpoints): the open windows with all their rows.
 */
type WindowJoinSnapshot =
  | { version: 2; watermark: number; keyed?: Map<string, Map<unknown, unknown>> }
  | {
      version: 1;
      watermark: number;
      windows: [
        start: number,
        end: number,
        left: SavedSide,
        right: SavedSide,
        unkeyedLeft: Row[],
        unkeyedRight: Row[],
      ][];
    };

/** A restored window's keys of each side with where they came, until they are put in that order. */
type Restoring = [[number, string, Row[]][], [number, string, Row[]][]];

export class WindowJoinOperator implements Operator {
  readonly absorbs = true;
  readonly #options: WindowJoinOptions;
  readonly #assigner: WindowAssigner;
  readonly #starts: Float64Array;
  readonly #ends: Float64Array;
  /** Open windows by end (one window per end for the kinds a window join takes). */
  readonly #windows = new Map<number, OpenWindow>();
  /** Ends of the open windows, to fire them in order. */
  readonly #due = new TimerHeap();
  readonly #keepUnmatched: readonly [boolean, boolean];
  #watermark = Number.NEGATIVE_INFINITY;
  /** Each key's rows in the open windows, as the runtime checkpoints them. */
  readonly #keyed: KeyedView<string | null, SavedWindow[]> = {
    entries: () => this.#savedKeys(),
    restore: (key, windows) => this.#restoreKey(key, windows),
  };
  /** Outside a job (no `OperatorContext.state`): the keyed state, kept in the operator's own snapshot. */
  #own: MemoryStateBackend | undefined;
  /** The keys restored into each window (by end), while restoring. */
  readonly #restoring = new Map<number, Restoring>();

  constructor(options: WindowJoinOptions) {
    const assigner = createWindowAssigner(options.window);
    if (assigner.merging) {
      throw new SluiceError(
        'CONFIG_INVALID',
        'a window join takes tumbling, hopping or cumulative windows; session windows merge per key and side, so the two inputs would not share them',
        { step: options.stepId, path: 'window.type' },
      );
    }
    this.#options = options;
    this.#assigner = assigner;
    this.#starts = new Float64Array(assigner.maxWindows);
    this.#ends = new Float64Array(assigner.maxWindows);
    const { kind } = options;
    this.#keepUnmatched = [kind === 'left' || kind === 'full', kind === 'right' || kind === 'full'];
  }

  /** Records kept in open windows, for tests of state cleanup. */
  get stateSize(): number {
    let n = 0;
    for (const w of this.#windows.values()) {
      for (const side of w.sides) for (const rows of side.values()) n += rows.length;
      n += w.unkeyed[0].length + w.unkeyed[1].length;
    }
    return n;
  }

  open(ctx: OperatorContext): void {
    this.#options.pairs.open(ctx.log);
    this.#watermark = ctx.watermark();
    const { own, saved: s } = openJoinState(
      ctx,
      this.#options.stepId,
      'a window join',
      'windows',
      this.#keyed,
      (x: Partial<Extract<WindowJoinSnapshot, { version: 1 }>>) => Array.isArray(x.windows),
    );
    this.#own = own;
    if (s !== undefined) {
      if (s.watermark > this.#watermark) this.#watermark = s.watermark;
      if (s.version === 1) {
        for (const [start, end, left, right, unkeyedLeft, unkeyedRight] of s.windows ?? []) {
          this.#windows.set(end, {
            start,
            end,
            sides: [new Map(left), new Map(right)],
            unkeyed: [unkeyedLeft, unkeyedRight],
          });
          this.#due.push(end, '');
        }
      }
    }
    // Restored keys, in no order: into each window in the order they came.
    for (const [end, sides] of this.#restoring) {
      const open = this.#windows.get(end)!;
      for (const side of [0, 1] as const) {
        sides[side].sort((a, b) => a[0] - b[0]);
        for (const [, key, rows] of sides[side]) open.sides[side].set(key, rows);
      }
    }
    this.#restoring.clear();
  }

  /** Each key's rows in the open windows, for the runtime's keyed state. */
  #savedKeys(): Iterable<readonly [string | null, SavedWindow[]]> {
    const byKey = new Map<string | null, SavedWindow[]>();
    // This window's entry of `key`: the last of its list, as windows are taken one after another.
    const entry = (w: OpenWindow, key: string | null): SavedWindow => {
      let list = byKey.get(key);
      if (list === undefined) {
        list = [];
        byKey.set(key, list);
      }
      let saved = list[list.length - 1];
      if (saved === undefined || saved[1] !== w.end) {
        saved = [w.start, w.end, null, null, 0, 0];
        list.push(saved);
      }
      return saved;
    };
    for (const w of this.#windows.values()) {
      for (const side of [0, 1] as const) {
        let at = 0;
        for (const [key, rows] of w.sides[side]) {
          const saved = entry(w, key);
          saved[2 + side] = rows;
          saved[4 + side] = at++;
        }
        if (w.unkeyed[side].length > 0) entry(w, null)[2 + side] = w.unkeyed[side];
      }
    }
    return byKey;
  }

  /** Takes back a key's rows in the open windows (key null: rows whose key is NULL). */
  #restoreKey(key: string | null, windows: SavedWindow[]): void {
    for (const [start, end, left, right, leftAt, rightAt] of windows) {
      const open = this.#window(start, end);
      if (key === null) {
        if (left !== null) for (const row of left) open.unkeyed[0].push(row);
        if (right !== null) for (const row of right) open.unkeyed[1].push(row);
        continue;
      }
      let restoring = this.#restoring.get(end);
      if (restoring === undefined) {
        restoring = [[], []];
        this.#restoring.set(end, restoring);
      }
      if (left !== null) restoring[0].push([leftAt, key, left]);
      if (right !== null) restoring[1].push([rightAt, key, right]);
    }
  }

  processBatch(batch: Batch, out: Output, input = 0): void {
    const side: 0 | 1 = input === 0 ? 0 : 1;
    const { condition } = this.#options.pairs;
    const keyOf = side === 0 ? condition.leftKey : condition.rightKey;
    const records = batch.records;
    const times = batch.times;
    const watermarks = batch.watermarks;
    const results = newResults(watermarks !== undefined);
    const starts = this.#starts;
    const ends = this.#ends;
    for (let i = 0; i < records.length; i++) {
      if (watermarks !== undefined && watermarks[i] > this.#watermark) this.#advance(watermarks[i], results);
      const row = records[i];
      let key: string | undefined;
      try {
        key = keyOf(row);
      } catch (err) {
        flushResults(results, out);
        out.deadLetter(batch, i, toSluiceError(err, 'EXPR_EVAL', { step: this.#options.stepId }));
        continue;
      }
      const n = this.#assigner.assign(times[i], starts, ends);
      let kept = false;
      for (let w = 0; w < n; w++) {
        const end = ends[w];
        // A window fires when the watermark reaches end − 1: one that has fired takes nothing.
        if (end - 1 <= this.#watermark) continue;
        kept = true;
        const open = this.#window(starts[w], end);
        if (key === undefined) open.unkeyed[side].push(row);
        else {
          const rows = open.sides[side].get(key);
          if (rows === undefined) open.sides[side].set(key, [row]);
          else rows.push(row);
        }
      }
      if (!kept) {
        flushResults(results, out);
        out.late(
          batch,
          i,
          `record time ${times[i]} is too late: the watermark ${this.#watermark} passed the end of its window(s)`,
        );
      }
    }
    flushResults(results, out);
  }

  #window(start: number, end: number): OpenWindow {
    let open = this.#windows.get(end);
    if (open === undefined) {
      open = { start, end, sides: [new Map(), new Map()], unkeyed: [[], []] };
      this.#windows.set(end, open);
      this.#due.push(end, '');
    }
    return open;
  }

  onWatermark(watermark: number, out: Output): void {
    if (!(watermark > this.#watermark)) return;
    const results = newResults(false);
    this.#advance(watermark, results);
    flushResults(results, out);
  }

  /** Moves to `watermark`, firing the windows it closes in end order; their results carry the watermark before. */
  #advance(watermark: number, results: Results): void {
    const before = this.#watermark;
    this.#watermark = watermark;
    const due = this.#due;
    while (due.size > 0 && due.topTime - 1 <= watermark) {
      const end = due.topTime;
      due.pop();
      const open = this.#windows.get(end);
      if (open === undefined) continue;
      this.#windows.delete(end);
      this.#fire(open, before, results);
    }
  }

  /** Emits a window's pairs (left keys in order of arrival) and, for an outer join, its unmatched rows. */
  #fire(open: OpenWindow, watermark: number, results: Results): void {
    const [lefts, rights] = open.sides;
    const [keepLeft, keepRight] = this.#keepUnmatched;
    const { pairs } = this.#options;
    const time = open.end - 1;
    const matchedRight = keepRight ? new Set<Row>() : undefined;
    for (const [key, leftRows] of lefts) {
      const rightRows = rights.get(key);
      for (let l = 0; l < leftRows.length; l++) {
        let matched = false;
        if (rightRows !== undefined) {
          for (let r = 0; r < rightRows.length; r++) {
            const pair = this.#pair(open, leftRows[l], rightRows[r]);
            if (!pairs.matches(pair)) continue;
            matched = true;
            matchedRight?.add(rightRows[r]);
            this.#push(results, pair, time, watermark);
          }
        }
        if (!matched && keepLeft) this.#push(results, this.#pair(open, leftRows[l], null), time, watermark);
      }
    }
    if (keepLeft)
      for (const row of open.unkeyed[0]) this.#push(results, this.#pair(open, row, null), time, watermark);
    if (keepRight) {
      for (const rightRows of rights.values())
        for (const row of rightRows)
          if (!matchedRight!.has(row)) this.#push(results, this.#pair(open, null, row), time, watermark);
      for (const row of open.unkeyed[1]) this.#push(results, this.#pair(open, null, row), time, watermark);
    }
  }

  #pair(open: OpenWindow, left: Row | null, right: Row | null): Row {
    const pair = this.#options.pairs.pair(left, right);
    pair.window_start = open.start;
    pair.window_end = open.end;
    return pair;
  }

  #push(results: Results, pair: Row, time: number, watermark: number): void {
    pushResult(results, this.#options.pairs.row(pair), time, watermark);
  }

  snapshot(): WindowJoinSnapshot {
    const keyed = this.#own?.snapshot();
    return keyed === undefined
      ? { version: 2, watermark: this.#watermark }
      : { version: 2, watermark: this.#watermark, keyed };
  }
}
