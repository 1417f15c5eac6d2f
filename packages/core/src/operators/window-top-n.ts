/**
 * `window_top_n`: the first `n` rows of each window (and key) by an order, emitted once, when the
 * watermark passes the window's end — Flink SQL's window top-N and window deduplication
 * (`ROW_NUMBER() OVER (PARTITION BY window_start, window_end, … ORDER BY …) <= n` over a window
 * aggregation or a window table function's rows).
 */

import { SluiceError, toSluiceError } from '../errors.ts';
import type { Operator, OperatorContext, Output } from '../operator.ts';
import type { Batch, Row } from '../record.ts';
import { type KeyedMap, keyedBackend, type MemoryStateBackend, type StateBackend } from '../state.ts';
import { RESULT_BATCH_SIZE } from '../window/result-emitter.ts';
import { type OrderTerm, type Ranked, rankPosition, sortValues } from './rank-order.ts';
import { TimerHeap } from './timer-heap.ts';

export interface WindowTopNOptions {
  /** The step id; names the state in checkpoints and appears in errors. */
  readonly stepId: string;
  /** The partition key besides the window; absent: the window alone. */
  readonly keyFn?: (record: Row) => string;
  readonly orderBy: readonly OrderTerm[];
  readonly n: number;
  /** A field to write each row's rank (1 = first) into. */
  readonly rankField?: string;
  /** Of rows equal on every term, which ranks first: the earlier arrival (default) or the later. */
  readonly ties?: 'earlier' | 'later';
}

/** The checkpoint format's name (part of the on-disk format). */
const SNAPSHOT_FORMAT = 'sluice.window_top_n.v1';
/** The keyed map of each window and key's list (part of the checkpoint format). */
const WINDOWS_STATE = 'windows';

interface WindowTopNSnapshot {
  format: typeof SNAPSHOT_FORMAT;
  shape: string;
  watermark: number;
  keyed?: unknown;
}

/** One window and key's first rows, and the window's end (its rows come out at end - 1). */
interface WindowList {
  end: number;
  list: Ranked[];
}

/** Builds a window top-n operator; see the module comment and the step's description. */
export function createWindowTopN(options: WindowTopNOptions): Operator {
  return new WindowTopN(options);
}

class WindowTopN implements Operator {
  readonly absorbs = true;
  readonly #o: WindowTopNOptions;
  readonly #shape: string;
  #own: MemoryStateBackend | undefined;
  #windows!: KeyedMap<WindowList>;
  readonly #due = new TimerHeap();
  #watermark = Number.NEGATIVE_INFINITY;
  #out: Batch | null = null;

  constructor(options: WindowTopNOptions) {
    const { n, stepId } = options;
    if (!Number.isSafeInteger(n) || n < 1)
      throw new SluiceError('CONFIG_INVALID', `window_top_n 'n' must be a positive integer, got ${n}`, {
        step: stepId,
        path: 'n',
      });
    if (options.orderBy.length === 0)
      throw new SluiceError('CONFIG_INVALID', 'window_top_n needs at least one order_by term', {
        step: stepId,
        path: 'order_by',
      });
    this.#o = options;
    this.#shape = JSON.stringify({
      key: options.keyFn !== undefined,
      orderBy: options.orderBy.map((t) => [t.text, t.descending]),
      n,
      rankField: options.rankField ?? null,
      ...(options.ties === 'later' ? { ties: 'later' } : {}),
    });
    this.#attach(undefined);
  }

  #attach(state: StateBackend | undefined, saved?: unknown): void {
    const { backend, own } = keyedBackend(state, saved);
    this.#own = own;
    this.#windows = backend.map<WindowList>(WINDOWS_STATE);
  }

  open(ctx: OperatorContext): void {
    this.#watermark = ctx.watermark();
    const saved = ctx.restored as Partial<WindowTopNSnapshot> | null | undefined;
    const step = this.#o.stepId;
    if (saved !== undefined && (saved?.format !== SNAPSHOT_FORMAT || saved.shape !== this.#shape))
      throw new SluiceError(
        'CHECKPOINT_INCOMPATIBLE',
        `the checkpointed state of window_top_n step '${step}' was made with a different key, order, n or rank field; restart with --from-scratch to drop it`,
        { step },
      );
    this.#attach(ctx.state, saved?.keyed);
    if (saved === undefined) return;
    if (saved.watermark! > this.#watermark) this.#watermark = saved.watermark!;
    for (const [key, w] of this.#windows.entries()) this.#due.push(w.end - 1, key);
  }

  processBatch(batch: Batch, out: Output): void {
    const { records, watermarks } = batch;
    const { keyFn, n, orderBy, stepId } = this.#o;
    for (let i = 0; i < records.length; i++) {
      if (watermarks !== undefined && watermarks[i] > this.#watermark) this.#advance(watermarks[i], out);
      const record = records[i];
      let key: string;
      let end: number;
      let sort: Ranked['sort'];
      let list: Ranked[];
      let at: number;
      let w: WindowList | undefined;
      try {
        const start = record.window_start;
        end = record.window_end as number;
        if (typeof start !== 'number' || typeof end !== 'number')
          throw new SluiceError(
            'EXPR_EVAL',
            'window_top_n ranks the rows of windows: a record needs numbers in window_start and window_end (a window aggregate’s results, or rows with their windows’ bounds)',
            { path: 'window_end' },
          );
        key = `${start}/${end}/${keyFn === undefined ? '' : keyFn(record)}`;
        if (end - 1 <= this.#watermark) {
          out.late(
            batch,
            i,
            `its window [${start}, ${end}) closed when the watermark passed ${end - 1} (it stands at ${this.#watermark})`,
          );
          continue;
        }
        sort = sortValues(orderBy, record);
        w = this.#windows.get(key);
        list = w?.list ?? [];
        at = rankPosition(orderBy, list, sort, this.#o.ties === 'later');
      } catch (err) {
        out.deadLetter(batch, i, toSluiceError(err, 'EXPR_EVAL', { step: stepId }));
        continue;
      }
      if (at >= n) {
        out.filtered(1);
        continue;
      }
      if (w === undefined) {
        w = { end, list };
        this.#windows.set(key, w);
        this.#due.push(end - 1, key);
      }
      list.splice(at, 0, { row: record, sort });
      // A row pushed out of the first n can never come back: the input only adds rows.
      if (list.length > n) {
        list.pop();
        out.filtered(1);
      }
    }
  }

  onWatermark(watermark: number, out: Output): void {
    if (watermark > this.#watermark) this.#advance(watermark, out);
  }

  /** Moves the watermark: emits and forgets each window whose end - 1 it reaches, in (time, key) order. */
  #advance(watermark: number, out: Output): void {
    const before = this.#watermark;
    this.#watermark = watermark;
    const due = this.#due;
    const rankField = this.#o.rankField;
    while (due.size > 0 && due.topTime <= watermark) {
      const key = due.topKey;
      const time = due.topTime;
      due.pop();
      const w = this.#windows.get(key);
      if (w === undefined) continue;
      this.#windows.delete(key);
      let o = this.#out;
      if (o === null) {
        o = { records: [], times: [], watermarks: [] };
        this.#out = o;
      }
      for (let r = 0; r < w.list.length; r++) {
        const row = w.list[r].row;
        o.records.push(rankField === undefined ? row : { ...row, [rankField]: r + 1 });
        o.times.push(time);
        o.watermarks!.push(before);
      }
      if (o.records.length >= RESULT_BATCH_SIZE) this.#flush(out);
    }
    this.#flush(out);
  }

  #flush(out: Output): void {
    const o = this.#out;
    if (o === null) return;
    this.#out = null;
    out.emit(o);
  }

  snapshot(): WindowTopNSnapshot {
    const snapshot: WindowTopNSnapshot = {
      format: SNAPSHOT_FORMAT,
      shape: this.#shape,
      watermark: this.#watermark,
    };
    if (this.#own !== undefined) snapshot.keyed = this.#own.snapshot();
    return snapshot;
  }
}
