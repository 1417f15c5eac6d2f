/**
 * `over_aggregate`: for each record, aggregates over the rows of its key that precede it in time
 * (a ROWS or RANGE frame ending at the record) — Flink SQL's OVER aggregation on a stream.
 *
 * In event time a record waits until the watermark passes it; then the records of each key are
 * taken in time order (ties by arrival), so a result never depends on batch sizes or on arrival
 * order within the watermark's bound. In a RANGE frame the records of one key and one time are
 * peers: all of them are in each one's frame. A record at or behind the watermark is late.
 */

import { SluiceError, toSluiceError } from '../errors.ts';
import type { Operator, OperatorContext, Output } from '../operator.ts';
import type { Batch, Row } from '../record.ts';
import { type KeyedMap, keyedBackend, type MemoryStateBackend, type StateBackend } from '../state.ts';
import { type Clock, systemClock } from '../time.ts';
import { RESULT_BATCH_SIZE } from '../window/result-emitter.ts';
import type { AggregateField } from '../window/window-aggregate.ts';
import { OverAggregates, type OverArgs, type OverFrame, type OverKeyState } from './over-frame.ts';
import { RecordBuffer } from './pattern-buffer.ts';
import { keysOf, registerTtl, StateTtl } from './state-ttl.ts';
import { TimerHeap } from './timer-heap.ts';

export interface OverAggregateOptions {
  /** The step id; names the state in checkpoints and appears in errors. */
  readonly stepId: string;
  /** The partition key of a record; absent: the batch's `key_by` keys, else one partition. */
  readonly keyFn?: (record: Row) => string;
  /** The output fields, each one aggregate call. */
  readonly fields: readonly AggregateField[];
  readonly frame: OverFrame;
  /** `event`: ordered by event time, emitted as the watermark passes; `processing`: by arrival, at once. */
  readonly time: 'event' | 'processing';
  /** State time-to-live in ms of processing time; absent: keys are kept (within their frame). */
  readonly ttl?: number;
}

/** The checkpoint format's name (part of the on-disk format). */
const SNAPSHOT_FORMAT = 'sluice.over_aggregate.v1';
/** The keyed map of each key's frame, and the keyed view of the records waiting for the watermark. */
const FRAMES_STATE = 'frames';
const WAITING_STATE = 'waiting';

interface OverSnapshot {
  format: typeof SNAPSHOT_FORMAT;
  shape: string;
  watermark: number;
  seq: number;
  keyedInput: boolean;
  /** The keyed state, when no runtime holds it (an operator opened without `OperatorContext.state`). */
  keyed?: unknown;
}

/** A record waiting for the watermark, with its argument values. */
interface Waiting {
  row: Row;
  args: OverArgs;
}

/** One key's records waiting for the watermark in a checkpoint, in parallel arrays, in no order. */
interface WaitingEntry {
  rows: Row[];
  args: OverArgs[];
  times: number[];
  seqs: number[];
}

/**
 * The records of one instant, taken into their frames together, in parallel arrays reused from
 * one instant to the next (nothing allocated per record): each one's key, record, argument
 * values, event time (the output's) and index in the batch it came in (processing time; -1 once
 * it waited), and whether it went into its frame.
 */
class Run {
  keys: string[] = [];
  rows: Row[] = [];
  args: OverArgs[] = [];
  times: number[] = [];
  indexes: number[] = [];
  admitted: boolean[] = [];
  size = 0;

  push(key: string, row: Row, args: OverArgs, time: number, index: number): void {
    const n = this.size++;
    this.keys[n] = key;
    this.rows[n] = row;
    this.args[n] = args;
    this.times[n] = time;
    this.indexes[n] = index;
  }

  /** Empties it, letting go of the records. */
  clear(): void {
    for (let i = 0; i < this.size; i++) {
      this.rows[i] = EMPTY;
      this.args[i] = NO_ARGS;
    }
    this.size = 0;
  }
}

const EMPTY: Row = {};
const NO_ARGS: OverArgs = [];

const GLOBAL = '';

/** Builds an over-aggregate operator; see the module comment and the step's description. */
export function createOverAggregate(options: OverAggregateOptions): Operator {
  return new OverAggregate(options);
}

class OverAggregate implements Operator {
  readonly absorbs = true;
  readonly #o: OverAggregateOptions;
  readonly #aggs: OverAggregates;
  readonly #shape: string;
  readonly #ttl: StateTtl<string> | undefined;
  #clock: Clock = systemClock;
  #own: MemoryStateBackend | undefined;
  #frames!: KeyedMap<OverKeyState>;
  readonly #waiting = new RecordBuffer<Waiting>();
  /** Bounded RANGE frames: when each key's rows have all left its frame (lazy: stale entries are skipped). */
  readonly #cleanup = new TimerHeap();
  #watermark = Number.NEGATIVE_INFINITY;
  /** Processing time, never going back. */
  #now = Number.NEGATIVE_INFINITY;
  #seq = 0;
  #keyedInput = false;
  #out: Batch | null = null;
  #before = Number.NEGATIVE_INFINITY;
  readonly #run = new Run();

  constructor(options: OverAggregateOptions) {
    const { frame, stepId } = options;
    if (options.fields.length === 0)
      throw new SluiceError('CONFIG_INVALID', 'over_aggregate needs at least one entry in `fields`', {
        step: stepId,
        path: 'fields',
      });
    if (!(frame.preceding >= 0))
      throw new SluiceError('CONFIG_INVALID', `the frame must reach back 0 or more, got ${frame.preceding}`, {
        step: stepId,
        path: frame.unit,
      });
    this.#o = options;
    this.#aggs = new OverAggregates(options.fields, frame);
    this.#shape = JSON.stringify({
      key: options.keyFn !== undefined,
      frame: [frame.unit, Number.isFinite(frame.preceding) ? frame.preceding : 'unbounded'],
      time: options.time,
      fields: options.fields.map((f) => [f.name, f.fn.name]),
    });
    if (options.ttl !== undefined) this.#ttl = new StateTtl(options.ttl);
    this.#attach(undefined);
  }

  #attach(state: StateBackend | undefined, saved?: unknown): Map<string, WaitingEntry> {
    const { backend, own } = keyedBackend(state, saved);
    this.#own = own;
    this.#frames = backend.map<OverKeyState>(FRAMES_STATE);
    const restored = new Map<string, WaitingEntry>();
    backend.keyed<string, WaitingEntry>(WAITING_STATE, {
      entries: () => this.#waitingEntries(),
      restore: (key, entry) => restored.set(key, entry),
    });
    registerTtl(backend, this.#ttl);
    return restored;
  }

  open(ctx: OperatorContext): void {
    this.#clock = ctx.clock;
    this.#watermark = ctx.watermark();
    const saved = ctx.restored as Partial<OverSnapshot> | null | undefined;
    const step = this.#o.stepId;
    if (saved !== undefined && (saved?.format !== SNAPSHOT_FORMAT || saved.shape !== this.#shape)) {
      throw new SluiceError(
        'CHECKPOINT_INCOMPATIBLE',
        `the checkpointed state of over_aggregate step '${step}' was made with a different key, frame, time or fields; restart with --from-scratch to drop it`,
        { step },
      );
    }
    const waiting = this.#attach(ctx.state, saved?.keyed);
    if (saved === undefined) return;
    if (saved.watermark! > this.#watermark) this.#watermark = saved.watermark!;
    this.#seq = saved.seq!;
    this.#keyedInput = saved.keyedInput === true;
    // Restored in no order: the waiting records go back in (time, arrival) order.
    const all: { key: string; w: Waiting; time: number; seq: number }[] = [];
    for (const [key, e] of waiting)
      for (let i = 0; i < e.times.length; i++)
        all.push({ key, w: { row: e.rows[i], args: e.args[i] }, time: e.times[i], seq: e.seqs[i] });
    all.sort((a, b) => a.time - b.time || a.seq - b.seq);
    for (const x of all) this.#waiting.push(x.time, x.seq, x.w, x.key);
    for (const [key, state] of this.#frames.entries()) this.#schedule(key, state);
    this.#ttl?.restore(undefined, keysOf(this.#frames.entries()), this.#ttl.now(ctx.clock.now()));
  }

  #waitingEntries(): Map<string, WaitingEntry> {
    const entries = new Map<string, WaitingEntry>();
    const p = this.#waiting.entries();
    for (let i = 0; i < p.times.length; i++) {
      const key = p.keys[i];
      let e = entries.get(key);
      if (e === undefined) {
        e = { rows: [], args: [], times: [], seqs: [] };
        entries.set(key, e);
      }
      e.rows.push(p.records[i].row);
      e.args.push(p.records[i].args);
      e.times.push(p.times[i]);
      e.seqs.push(p.seqs[i]);
    }
    return entries;
  }

  processBatch(batch: Batch, out: Output): void {
    const n = batch.records.length;
    if (n === 0) return;
    const { keyFn, stepId } = this.#o;
    const keys = batch.keys;
    if (keys !== undefined) this.#keyedInput = true;
    const records = batch.records;
    const processing = this.#o.time === 'processing';
    const run = this.#run;
    const watermarks = batch.watermarks;
    if (processing) this.#tick(this.#clock.now());
    for (let i = 0; i < n; i++) {
      if (!processing && watermarks !== undefined && watermarks[i] > this.#watermark)
        this.#advance(watermarks[i], out);
      const row = records[i];
      let key: string;
      let args: OverArgs;
      try {
        key = keyFn !== undefined ? keyFn(row) : keys !== undefined ? keys[i] : GLOBAL;
        args = this.#aggs.args(row);
      } catch (err) {
        out.deadLetter(batch, i, toSluiceError(err, 'EXPR_EVAL', { step: stepId }));
        continue;
      }
      if (processing) {
        run.push(key, row, args, batch.times[i], i);
        continue;
      }
      const time = batch.times[i];
      if (time <= this.#watermark) {
        out.late(
          batch,
          i,
          `record time ${time} is not after the watermark ${this.#watermark}: the rows after it in event time were already aggregated and emitted`,
        );
        continue;
      }
      this.#waiting.push(time, this.#seq++, { row, args }, key);
    }
    if (processing && run.size > 0) {
      // Rows read at one instant of processing time are peers.
      this.#before = this.#watermark;
      this.#take(this.#now, out, batch);
      this.#flush(out);
    }
  }

  onWatermark(watermark: number, out: Output): void {
    if (this.#o.time === 'processing') {
      if (watermark > this.#watermark) this.#watermark = watermark;
      return;
    }
    if (watermark > this.#watermark) this.#advance(watermark, out);
  }

  onProcessingTime(now: number, out: Output): void {
    if (this.#o.time === 'processing' || this.#ttl !== undefined) this.#tick(now);
    this.#flush(out);
  }

  /** Moves processing time to `now`: forgets keys whose ttl is up and, in processing time, frames passed. */
  #tick(clockNow: number): void {
    if (clockNow > this.#now) this.#now = clockNow;
    const ttl = this.#ttl;
    if (ttl !== undefined) ttl.expire(ttl.now(clockNow), (key) => this.#frames.delete(key));
    // A later row has a later instant, so a frame whose newest row is before now - preceding is empty for it.
    if (this.#o.time === 'processing') this.#dropPassed(this.#now - 1);
  }

  /** Moves the watermark to `watermark`: every waiting record at or before it, in time order. */
  #advance(watermark: number, out: Output): void {
    this.#before = this.#watermark;
    this.#watermark = watermark;
    if (this.#ttl !== undefined) this.#tick(this.#clock.now());
    const waiting = this.#waiting;
    const run = this.#run;
    let runTime = Number.NaN;
    while (waiting.top() && waiting.topTime <= watermark) {
      const time = waiting.topTime;
      if (time !== runTime && run.size > 0) this.#take(runTime, out, undefined);
      runTime = time;
      const w = waiting.topRecord;
      run.push(waiting.topKey, w.row, w.args, time, -1);
      waiting.pop();
    }
    if (run.size > 0) this.#take(runTime, out, undefined);
    // A later row is after the watermark, so a frame whose newest row is at or before
    // watermark - preceding is empty for it.
    this.#dropPassed(watermark);
    this.#flush(out);
  }

  /**
   * Takes the records of the run (one instant; `at`: their time in the frame's order) into their
   * frames and emits each with its results: in a ROWS frame as it comes in, in a RANGE frame once
   * all its peers are in (each peer then reads the same results). Empties the run.
   */
  #take(at: number, out: Output, batch: Batch | undefined): void {
    const aggs = this.#aggs;
    const run = this.#run;
    const rows = this.#o.frame.unit === 'rows';
    const ttl = this.#ttl;
    const now = ttl === undefined ? 0 : ttl.now(this.#clock.now());
    for (let r = 0; r < run.size; r++) {
      const key = run.keys[r];
      let state = this.#frames.get(key);
      const fresh = state === undefined;
      if (state === undefined) state = aggs.create();
      const newest = aggs.newest(state);
      try {
        aggs.admit(state, at, run.args[r]);
      } catch (err) {
        run.admitted[r] = false;
        this.#deadLetter(r, batch, out, err);
        continue;
      }
      run.admitted[r] = true;
      if (fresh) this.#frames.set(key, state);
      if (ttl !== undefined) ttl.touch(key, now);
      if (newest !== at) this.#schedule(key, state);
      if (rows) this.#emit(r, state, batch, out);
    }
    if (!rows)
      for (let r = 0; r < run.size; r++)
        if (run.admitted[r]) this.#emit(r, this.#frames.get(run.keys[r])!, batch, out);
    run.clear();
  }

  /** For a bounded RANGE frame: when the watermark (or clock) passing it leaves the key's frame empty. */
  #schedule(key: string, state: OverKeyState): void {
    const { frame } = this.#o;
    if (frame.unit !== 'range' || !Number.isFinite(frame.preceding)) return;
    const newest = this.#aggs.newest(state);
    if (newest !== undefined) this.#cleanup.push(newest + frame.preceding, key);
  }

  /** Drops the bounded RANGE frames whose newest row is at or before `limit` - preceding. */
  #dropPassed(limit: number): void {
    const cleanup = this.#cleanup;
    const preceding = this.#o.frame.preceding;
    while (cleanup.size > 0 && cleanup.topTime <= limit) {
      const key = cleanup.topKey;
      cleanup.pop();
      const state = this.#frames.get(key);
      if (state === undefined) continue;
      const newest = this.#aggs.newest(state);
      if (newest !== undefined && newest + preceding > limit) continue;
      this.#frames.delete(key);
      this.#ttl?.remove(key);
    }
  }

  /** Emits record `r` of the run with the results of `state`, its key's frame. */
  #emit(r: number, state: OverKeyState, batch: Batch | undefined, out: Output): void {
    const run = this.#run;
    const row: Row = { ...run.rows[r] };
    this.#aggs.writeResults(state, row);
    let o = this.#out;
    const keyed = this.#keyedInput && this.#o.keyFn === undefined;
    if (o === null) {
      o = { records: [], times: [], watermarks: [] };
      if (keyed) o.keys = [];
      this.#out = o;
    }
    o.records.push(row);
    o.times.push(run.times[r]);
    if (keyed) o.keys!.push(run.keys[r]);
    // Emitted while handling a record of `batch` (processing time): the watermark that record met.
    o.watermarks!.push(batch?.watermarks !== undefined ? batch.watermarks[run.indexes[r]] : this.#before);
    if (o.records.length >= RESULT_BATCH_SIZE) this.#flush(out);
  }

  #flush(out: Output): void {
    const o = this.#out;
    if (o === null) return;
    this.#out = null;
    out.emit(o);
  }

  #deadLetter(r: number, batch: Batch | undefined, out: Output, err: unknown): void {
    const error = toSluiceError(err, 'EXPR_EVAL', { step: this.#o.stepId });
    const run = this.#run;
    if (batch !== undefined) {
      out.deadLetter(batch, run.indexes[r], error);
      return;
    }
    const one: Batch = { records: [run.rows[r]], times: [run.times[r]], keys: [run.keys[r]] };
    out.deadLetter(one, 0, error);
  }

  snapshot(): OverSnapshot {
    const snapshot: OverSnapshot = {
      format: SNAPSHOT_FORMAT,
      shape: this.#shape,
      watermark: this.#watermark,
      seq: this.#seq,
      keyedInput: this.#keyedInput,
    };
    if (this.#own !== undefined) snapshot.keyed = this.#own.snapshot();
    return snapshot;
  }
}
