/**
 * The frame of an `over_aggregate` key: the rows between `n` preceding (or a time range before)
 * and the current row, and the accumulators of the step's aggregate calls over them.
 */

import type { AggregateField } from '../window/window-aggregate.ts';

/**
 * How far back a row's frame reaches: `rows` — the `preceding` rows before it (ties in time by
 * arrival); `range` — the rows whose time is at most `preceding` ms before its own, its peers (the
 * rows of the same time) included. `preceding` is Infinity for UNBOUNDED PRECEDING. The frame
 * always ends at the current row.
 */
export interface OverFrame {
  readonly unit: 'rows' | 'range';
  readonly preceding: number;
}

/**
 * One key's state, plain data for checkpoints. `accs` holds one accumulator per field over the
 * rows of the frame. A bounded frame also keeps those rows (their times and argument values,
 * oldest first from `head`), to take them back out as the frame moves on.
 */
export interface OverKeyState {
  accs: unknown[];
  times: number[];
  values: unknown[][];
  head: number;
  /** Per field, how many rows of the frame hold a value for it (not NULL; every row for `count(*)`). */
  held: number[];
}

/** A row's argument values, one per field (NULL for `count(*)`, which reads none). */
export type OverArgs = unknown[];

/**
 * The aggregate calls of a step over a frame. Without a bound the accumulators only add. Over a
 * bounded frame the accumulator of a function that can take a value back (`retract`: count, sum,
 * avg) follows the frame as rows come and go; the others (min, max, first, last, distinct
 * counts, percentiles) are rebuilt from the frame's rows for each row, which the frame keeps anyway.
 */
export class OverAggregates {
  readonly fields: readonly AggregateField[];
  readonly frame: OverFrame;
  readonly bounded: boolean;
  /** Per field, whether its accumulator follows a bounded frame (else it is rebuilt for each row). */
  readonly #follows: boolean[];

  constructor(fields: readonly AggregateField[], frame: OverFrame) {
    this.fields = fields;
    this.frame = frame;
    this.bounded = Number.isFinite(frame.preceding);
    this.#follows = fields.map((f) => f.fn.retract !== undefined);
  }

  /** A key's empty state. */
  create(): OverKeyState {
    return {
      accs: this.fields.map((f) => f.fn.create()),
      times: [],
      values: [],
      head: 0,
      held: this.fields.map(() => 0),
    };
  }

  /** The argument values of `record`; throws what an argument reader throws (a wrong type). */
  args(record: { readonly [field: string]: unknown }): OverArgs {
    const fields = this.fields;
    const args: OverArgs = new Array(fields.length);
    for (let f = 0; f < fields.length; f++) {
      const arg = fields[f].arg;
      const v = arg === undefined ? null : arg(record);
      args[f] = v === undefined ? null : v;
    }
    return args;
  }

  /**
   * Adds the row at `time` with `args` to `state`: the rows that fall out of the frame leave it.
   * Throws the SluiceError of a function's check (a sum beyond the range of a double, a string
   * into a min of numbers), leaving the frame's rows as they were for the rows to come.
   */
  admit(state: OverKeyState, time: number, args: OverArgs): void {
    const { fields, frame, bounded } = this;
    const rows = frame.unit === 'rows';
    if (bounded && !rows) this.#evictBefore(state, time - frame.preceding);
    // A ROWS frame keeps `preceding` rows before the current one: the rows beyond leave once it is in.
    const excess = bounded && rows ? Math.max(0, state.times.length - state.head - frame.preceding) : 0;
    if (bounded) {
      for (let f = 0; f < fields.length; f++) {
        if (this.#follows[f]) continue;
        const fn = fields[f].fn;
        let acc = fn.create();
        for (let r = state.head + excess; r < state.values.length; r++) acc = fn.add(acc, state.values[r][f]);
        state.accs[f] = acc;
      }
    }
    for (let f = 0; f < fields.length; f++) {
      const check = fields[f].fn.check;
      const v = args[f];
      if (check !== undefined && v !== null) check(state.accs[f], v);
    }
    for (let f = 0; f < fields.length; f++) {
      const field = fields[f];
      state.accs[f] = field.fn.add(state.accs[f], args[f]);
      if (args[f] !== null || field.arg === undefined) state.held[f]++;
    }
    if (!bounded) return;
    state.times.push(time);
    state.values.push(args);
    for (let i = 0; i < excess; i++) this.#evictOldest(state);
  }

  /** Writes the results of `state`'s accumulators into `row`, under the fields' names. */
  writeResults(state: OverKeyState, row: { [field: string]: unknown }): void {
    const fields = this.fields;
    for (let f = 0; f < fields.length; f++) {
      const v = fields[f].fn.result(state.accs[f]);
      row[fields[f].name] = v === undefined ? null : v;
    }
  }

  /** The time of the newest row of a bounded frame (undefined when it holds none). */
  newest(state: OverKeyState): number | undefined {
    return state.times.length > state.head ? state.times[state.times.length - 1] : undefined;
  }

  #evictBefore(state: OverKeyState, bound: number): void {
    while (state.head < state.times.length && state.times[state.head] < bound) this.#evictOldest(state);
  }

  #evictOldest(state: OverKeyState): void {
    const fields = this.fields;
    const values = state.values[state.head];
    for (let f = 0; f < fields.length; f++) {
      if (!this.#follows[f]) continue;
      const field = fields[f];
      const v = values[f];
      if (v === null && field.arg !== undefined) continue;
      // Once no row holds a value the accumulator starts afresh (a sum of nothing is NULL, not 0).
      if (--state.held[f] === 0) state.accs[f] = field.fn.create();
      else state.accs[f] = field.fn.retract!(state.accs[f], v);
    }
    state.head++;
    const n = state.times.length;
    if (state.head === n) {
      state.times = [];
      state.values = [];
      state.head = 0;
    } else if (state.head >= 64 && state.head * 2 >= n) {
      state.times = state.times.slice(state.head);
      state.values = state.values.slice(state.head);
      state.head = 0;
    }
  }
}
