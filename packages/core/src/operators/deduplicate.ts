/**
 * `deduplicate`: the first or the last row per key — what
 * `ROW_NUMBER() OVER (PARTITION BY key ORDER BY time ASC|DESC) = 1` gives in Flink SQL.
 *
 * Keep first emits each key's first row once, as an insert (append-only). Keep last emits a
 * retract changelog: each row that replaces the key's row is an UPDATE_BEFORE of the old one and
 * an UPDATE_AFTER of the new one. In processing time "first" and "last" are by arrival; in event
 * time by event time, and keep first then waits for the watermark to pass a row before emitting it,
 * as current Flink does (FLINK-37005), so that its output stays append-only.
 */

import { SluiceError, toSluiceError } from '../errors.ts';
import type { Operator, OperatorContext, Output } from '../operator.ts';
import {
  type Batch,
  type ChangeBatch,
  emptyBatchLike,
  emptyChangeBatch,
  INSERT,
  pushChange,
  pushFrom,
  type Row,
  UPDATE_AFTER,
  UPDATE_BEFORE,
} from '../record.ts';
import { type KeyedMap, keyedBackend, type MemoryStateBackend, type StateBackend } from '../state.ts';
import { type Clock, systemClock } from '../time.ts';
import { RESULT_BATCH_SIZE, sameResult } from '../window/result-emitter.ts';
import { keysOf, registerTtl, StateTtl } from './state-ttl.ts';
import { TimerHeap } from './timer-heap.ts';

export interface DeduplicateOptions {
  /** The step id; names the state in checkpoints and appears in errors. */
  readonly stepId: string;
  /** The key of a record; absent: the batch's `key_by` keys, else one key for the whole stream. */
  readonly keyFn?: (record: Row) => string;
  /** Which row of each key to keep. */
  readonly keep: 'first' | 'last';
  /** `event`: first and last by event time; `processing`: by arrival. */
  readonly time: 'event' | 'processing';
  /** State time-to-live in ms of processing time; absent: keys are kept for the life of the job. */
  readonly ttl?: number;
}

/** A row kept for a key, with its event time. */
interface Kept {
  row: Row;
  time: number;
}

/**
 * v2: the keys' state is keyed state (`OperatorContext.state`), snapshotted by key group — maps
 * `kept` (keep last: each key's row), `pending` (keep first in event time: each key's earliest
 * row, waiting for the watermark) and `emitted` (keep first: the keys whose first row was
 * emitted, each `true`), and with a ttl the view `written` of each key's last write. v1 held them
 * in the operator's snapshot; it is still read.
 */
const SNAPSHOT_FORMAT = 'sluice.deduplicate.v2';
const SNAPSHOT_FORMAT_V1 = 'sluice.deduplicate.v1';

interface DeduplicateSnapshot {
  format: typeof SNAPSHOT_FORMAT;
  /** What the state was built for: a restore refuses state of a different step. */
  shape: string;
  keyedInput: boolean;
  watermark: number;
  /** The keyed state, when no runtime holds it (an operator opened without `OperatorContext.state`). */
  keyed?: unknown;
}

/** The operator's snapshot in v1: all of its state. */
interface DeduplicateSnapshotV1 {
  format: typeof SNAPSHOT_FORMAT_V1;
  shape: string;
  keyedInput: boolean;
  watermark: number;
  /** Keep last: each key's row. */
  kept: Map<string, Kept>;
  /** Keep first in event time: each key's earliest row, waiting for the watermark. */
  pending: Map<string, Kept>;
  /** Keep first: the keys whose first row was emitted. */
  emitted: Set<string>;
  /** With a ttl: processing time each key's state was last written, oldest first; null without. */
  written: Map<string, number> | null;
}

/** The key of the one partition when there is neither a key nor a `key_by`. */
const GLOBAL = '';

/**
 * Builds a deduplicate operator. Records are taken in input order, each decided against the state
 * its key has at that moment, so the output does not depend on how the input is batched.
 *
 * - Keep first, processing time: a key's first record passes unchanged (with its offset, key and
 *   text); later records of the key are counted as filtered.
 * - Keep first, event time: a record at or behind the watermark it met (`Batch.watermarks`) goes
 *   to `out.late`; otherwise it waits as its key's candidate if it is earlier than the candidate
 *   (ties: the earlier arrival stays), and the one it replaces, or the record itself if it is not
 *   earlier, is counted as filtered. When the watermark reaches a candidate's time, no record that
 *   is not late can come before it: it is emitted as an INSERT with its own event time (candidates
 *   due together in order of time, then key), carrying the watermark before the advance. Records
 *   of a key whose row was emitted are counted as filtered. At the end of input every candidate is
 *   emitted.
 * - Keep last: a key's first record is an INSERT; a later one (processing time), or one whose
 *   event time is not before the kept row's (event time; ties: the later arrival wins), replaces
 *   it — an UPDATE_BEFORE of the old row and an UPDATE_AFTER of the new, in one batch, with the
 *   new record's time; nothing when the rows are equal. A record earlier than the kept row is
 *   counted as filtered. No record is late: the kept row is there to compare with.
 *
 * With `ttl`, a key whose state was not written for `ttl` ms of processing time is forgotten,
 * silently: its next record starts afresh. Writes: keep first, the emitted row (so duplicates do
 * not keep a key alive); keep last, each row that replaces. Candidates waiting for the watermark
 * are not subject to it. A record whose key throws, or, in event time, whose time is not a finite
 * number, goes to the dead-letter output.
 */
export function createDeduplicate(options: DeduplicateOptions): Operator {
  return new Deduplicate(options);
}

class Deduplicate implements Operator {
  readonly absorbs = true;
  readonly #options: DeduplicateOptions;
  readonly #shape: string;
  readonly #event: boolean;
  readonly #ttl: StateTtl<string> | undefined;
  #clock: Clock = systemClock;
  #keyedInput = false;
  #watermark = Number.NEGATIVE_INFINITY;
  /** The keyed state when no runtime holds it; it then goes into `snapshot`. */
  #own: MemoryStateBackend | undefined;
  #kept!: KeyedMap<Kept>;
  #pending!: KeyedMap<Kept>;
  #emitted!: KeyedMap<true>;
  /** Due times of the candidates (stale entries are skipped when popped). */
  readonly #due = new TimerHeap();

  constructor(options: DeduplicateOptions) {
    const { stepId, keep, time } = options;
    if (keep !== 'first' && keep !== 'last') {
      throw new SluiceError('CONFIG_INVALID', `deduplicate 'keep' must be 'first' or 'last', got '${keep}'`, {
        step: stepId,
        path: 'keep',
      });
    }
    if (time !== 'event' && time !== 'processing') {
      throw new SluiceError(
        'CONFIG_INVALID',
        `deduplicate 'time' must be 'event' or 'processing', got '${time}'`,
        { step: stepId, path: 'time' },
      );
    }
    this.#options = options;
    this.#event = time === 'event';
    this.#shape = JSON.stringify({ key: options.keyFn !== undefined, keep, time });
    if (options.ttl !== undefined) this.#ttl = new StateTtl(options.ttl);
    this.#attach(undefined);
  }

  /** Takes its keyed state from `state`, or keeps it itself (restored from `own`) without one. */
  #attach(state: StateBackend | undefined, saved?: unknown): void {
    const { backend, own } = keyedBackend(state, saved);
    this.#own = own;
    this.#kept = backend.map<Kept>('kept');
    this.#pending = backend.map<Kept>('pending');
    this.#emitted = backend.map<true>('emitted');
    registerTtl(backend, this.#ttl);
  }

  open(ctx: OperatorContext): void {
    this.#clock = ctx.clock;
    this.#watermark = ctx.watermark();
    const saved = ctx.restored as
      | Partial<DeduplicateSnapshot>
      | Partial<DeduplicateSnapshotV1>
      | null
      | undefined;
    if (saved === undefined) {
      this.#attach(ctx.state);
      return;
    }
    const step = this.#options.stepId;
    const v1 = saved?.format === SNAPSHOT_FORMAT_V1;
    if (
      (saved?.format !== SNAPSHOT_FORMAT && !v1) ||
      saved.shape !== this.#shape ||
      (v1 &&
        (!(saved.kept instanceof Map) ||
          !(saved.pending instanceof Map) ||
          !(saved.emitted instanceof Set))) ||
      typeof saved.watermark !== 'number'
    ) {
      throw new SluiceError(
        'CHECKPOINT_INCOMPATIBLE',
        `the checkpointed state of deduplicate step '${step}' was made with a different key, keep or time; restart with --from-scratch to drop it`,
        { step },
      );
    }
    this.#attach(ctx.state, v1 ? undefined : (saved as Partial<DeduplicateSnapshot>).keyed);
    let written: Map<string, number> | undefined;
    if (v1) {
      // Version 1 held the keys' state itself: it moves into the keyed state.
      const old = saved as DeduplicateSnapshotV1;
      for (const [key, row] of old.kept) this.#kept.set(key, row);
      for (const [key, row] of old.pending) this.#pending.set(key, row);
      for (const key of old.emitted) this.#emitted.set(key, true);
      if (old.written instanceof Map) written = old.written;
    }
    this.#keyedInput = saved.keyedInput === true;
    if (saved.watermark > this.#watermark) this.#watermark = saved.watermark;
    const times: number[] = [];
    const keys: string[] = [];
    for (const [key, candidate] of this.#pending.entries()) {
      times.push(candidate.time);
      keys.push(key);
    }
    this.#due.rebuild(times, keys);
    const live = keysOf<string>(
      this.#options.keep === 'last' ? this.#kept.entries() : this.#emitted.entries(),
    );
    this.#ttl?.restore(written, live, this.#ttl.now(ctx.clock.now()));
  }

  processBatch(batch: Batch, out: Output): void {
    if (batch.records.length === 0) return;
    if (batch.keys !== undefined) this.#keyedInput = true;
    const ttl = this.#ttl;
    const now = ttl === undefined ? 0 : ttl.now(this.#clock.now());
    if (ttl !== undefined) this.#expire(now);
    if (this.#options.keep === 'last') this.#keepLast(batch, out, now);
    else if (this.#event) this.#keepFirstByTime(batch, out, now);
    else this.#keepFirstByArrival(batch, out, now);
  }

  /** The key of record `i`, or undefined after dead-lettering a record whose key or time fails. */
  #keyOf(batch: Batch, i: number, out: Output): string | undefined {
    if (this.#event && !Number.isFinite(batch.times[i])) {
      out.deadLetter(
        batch,
        i,
        new SluiceError(
          'EVENT_TIME_INVALID',
          `record has no valid event time (${String(batch.times[i])}); deduplicate in event time needs epoch milliseconds`,
          { step: this.#options.stepId },
        ),
      );
      return undefined;
    }
    const keyFn = this.#options.keyFn;
    if (keyFn === undefined) return batch.keys !== undefined ? batch.keys[i] : GLOBAL;
    try {
      return keyFn(batch.records[i]);
    } catch (err) {
      out.deadLetter(batch, i, toSluiceError(err, 'USER_FUNCTION_FAILED', { step: this.#options.stepId }));
      return undefined;
    }
  }

  /** Whether results carry batch keys: the input is keyed by `key_by` and no `key` replaces it. */
  get #keyedOutput(): boolean {
    return this.#keyedInput && this.#options.keyFn === undefined;
  }

  #keepFirstByArrival(batch: Batch, out: Output, now: number): void {
    const n = batch.records.length;
    const emitted = this.#emitted;
    const ttl = this.#ttl;
    const kept = emptyBatchLike(batch);
    let filtered = 0;
    for (let i = 0; i < n; i++) {
      const key = this.#keyOf(batch, i, out);
      if (key === undefined) continue;
      if (emitted.has(key)) {
        filtered++;
        continue;
      }
      emitted.set(key, true);
      if (ttl !== undefined) ttl.touch(key, now);
      pushFrom(kept, batch, i, batch.records[i]);
    }
    if (filtered > 0) out.filtered(filtered);
    if (kept.records.length > 0) out.emit(kept);
  }

  #keepFirstByTime(batch: Batch, out: Output, now: number): void {
    const n = batch.records.length;
    const { records, times, watermarks } = batch;
    const emitted = this.#emitted;
    const pending = this.#pending;
    let result: Batch | null = null;
    let filtered = 0;
    for (let i = 0; i < n; i++) {
      if (watermarks !== undefined && watermarks[i] > this.#watermark) {
        result = this.#advance(watermarks[i], result, now, out);
      }
      const key = this.#keyOf(batch, i, out);
      if (key === undefined) continue;
      const time = times[i];
      if (time <= this.#watermark) {
        out.late(
          batch,
          i,
          `record time ${time} is not after the watermark ${this.#watermark}: the first row of its key may already have been emitted`,
        );
        continue;
      }
      if (emitted.has(key)) {
        filtered++;
        continue;
      }
      const candidate = pending.get(key);
      if (candidate !== undefined && !(time < candidate.time)) {
        filtered++;
        continue;
      }
      // The candidate it replaces is dropped; a stale entry in the heap is skipped when popped.
      if (candidate !== undefined) filtered++;
      pending.set(key, { row: records[i], time });
      this.#due.push(time, key);
    }
    if (filtered > 0) out.filtered(filtered);
    if (result !== null) out.emit(result);
  }

  onWatermark(watermark: number, out: Output): void {
    if (!this.#event || !(watermark > this.#watermark)) return;
    if (this.#options.keep === 'last') {
      this.#watermark = watermark;
      return;
    }
    const now = this.#ttl === undefined ? 0 : this.#ttl.now(this.#clock.now());
    const result = this.#advance(watermark, null, now, out);
    if (result !== null) out.emit(result);
  }

  /**
   * Moves event time to `watermark` and adds the candidates it makes due to `result` (created
   * when needed; emitted when full), in order of time, then key, each carrying the watermark
   * before the advance. Returns the batch being filled.
   */
  #advance(watermark: number, result: Batch | null, now: number, out: Output): Batch | null {
    const before = this.#watermark;
    this.#watermark = watermark;
    const due = this.#due;
    const pending = this.#pending;
    const keyed = this.#keyedOutput;
    let batch = result;
    while (due.size > 0 && due.topTime <= watermark) {
      const time = due.topTime;
      const key = due.topKey;
      due.pop();
      const candidate = pending.get(key);
      if (candidate === undefined || candidate.time !== time) continue;
      pending.delete(key);
      this.#emitted.set(key, true);
      if (this.#ttl !== undefined) this.#ttl.touch(key, now);
      if (batch === null) {
        batch = { records: [], times: [], watermarks: [] };
        if (keyed) batch.keys = [];
      }
      batch.records.push(candidate.row);
      batch.times.push(time);
      batch.watermarks!.push(before);
      if (batch.keys) batch.keys.push(key);
      if (batch.records.length >= RESULT_BATCH_SIZE) {
        out.emit(batch);
        batch = null;
      }
    }
    return batch;
  }

  #keepLast(batch: Batch, out: Output, now: number): void {
    const n = batch.records.length;
    const { records, times } = batch;
    const kept = this.#kept;
    const ttl = this.#ttl;
    const event = this.#event;
    const keyed = this.#keyedOutput;
    let result: ChangeBatch = emptyChangeBatch(batch, keyed);
    let filtered = 0;
    for (let i = 0; i < n; i++) {
      const key = this.#keyOf(batch, i, out);
      if (key === undefined) continue;
      const record = records[i];
      const time = times[i];
      const previous = kept.get(key);
      if (previous === undefined) {
        kept.set(key, { row: record, time });
        pushChange(result, batch, i, INSERT, record, key);
      } else if (!event || time >= previous.time) {
        if (!sameRow(previous.row, record)) {
          pushChange(result, batch, i, UPDATE_BEFORE, previous.row, key);
          pushChange(result, batch, i, UPDATE_AFTER, record, key);
        }
        kept.set(key, { row: record, time });
      } else {
        filtered++;
        continue;
      }
      if (ttl !== undefined) ttl.touch(key, now);
      if (result.records.length >= RESULT_BATCH_SIZE) {
        out.emit(result);
        result = emptyChangeBatch(batch, keyed);
      }
    }
    if (filtered > 0) out.filtered(filtered);
    if (result.records.length > 0) out.emit(result);
  }

  onProcessingTime(now: number): void {
    if (this.#ttl !== undefined) this.#expire(this.#ttl.now(now));
  }

  /** Forgets the keys whose time-to-live is up at `now`. */
  #expire(now: number): void {
    const kept = this.#kept;
    const emitted = this.#emitted;
    this.#ttl!.expire(now, (key) => {
      kept.delete(key);
      emitted.delete(key);
    });
  }

  snapshot(): DeduplicateSnapshot {
    const snapshot: DeduplicateSnapshot = {
      format: SNAPSHOT_FORMAT,
      shape: this.#shape,
      keyedInput: this.#keyedInput,
      watermark: this.#watermark,
    };
    if (this.#own !== undefined) snapshot.keyed = this.#own.snapshot();
    return snapshot;
  }
}

/** Whether two rows hold the same fields with the same values (objects compared as JSON text). */
function sameRow(a: Row, b: Row): boolean {
  if (a === b) return true;
  let fields = 0;
  for (const _ in b) fields++;
  for (const _ in a) fields--;
  return fields === 0 && sameResult(a, b);
}
