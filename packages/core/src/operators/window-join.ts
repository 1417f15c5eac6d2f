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
 */

import { SluiceError, toSluiceError } from '../errors.ts';
import type { Operator, OperatorContext, Output } from '../operator.ts';
import type { Batch, Row } from '../record.ts';
import { createWindowAssigner, type WindowAssigner } from '../window/window-assigner.ts';
import type { WindowSpec } from '../window/window-spec.ts';
import type { JoinKind } from './interval-join.ts';
import { flushResults, newResults, type PairOutput, pushResult, type Results } from './join-condition.ts';
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
/** Checkpointed form: the open windows and the watermark. */
interface WindowJoinSnapshot {
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
}

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
    if (ctx.restored === undefined) return;
    const s = ctx.restored as Partial<WindowJoinSnapshot> | null;
    if (
      typeof s !== 'object' ||
      s === null ||
      s.version !== 1 ||
      typeof s.watermark !== 'number' ||
      !Array.isArray(s.windows)
    ) {
      throw new SluiceError(
        'CHECKPOINT_INCOMPATIBLE',
        `the checkpoint's state for step '${this.#options.stepId}' is not a window join's state; the step changed since the checkpoint was taken: restart with --from-scratch`,
        { step: this.#options.stepId },
      );
    }
    if (s.watermark > this.#watermark) this.#watermark = s.watermark;
    for (const [start, end, left, right, unkeyedLeft, unkeyedRight] of s.windows) {
      this.#windows.set(end, {
        start,
        end,
        sides: [new Map(left), new Map(right)],
        unkeyed: [unkeyedLeft, unkeyedRight],
      });
      this.#due.push(end, '');
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
    const windows: WindowJoinSnapshot['windows'] = [];
    for (const w of this.#windows.values())
      windows.push([w.start, w.end, [...w.sides[0]], [...w.sides[1]], [...w.unkeyed[0]], [...w.unkeyed[1]]]);
    return { version: 1, watermark: this.#watermark, windows };
  }
}
