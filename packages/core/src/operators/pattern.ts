/**
 * `pattern`: complex event processing over a keyed stream in event-time order.
 *
 * Records wait in a buffer until the watermark passes them; then they are fed to the matcher of
 * their key sorted by event time (ties by arrival), so results do not depend on batch sizes or on
 * arrival order within the watermark's bound. `within` deadlines are events on the same time
 * line: before a record at time t, every deadline ≤ t is handled, so a partial match ends (and
 * times out) at the same point of the output whatever the steps the watermark took.
 */

import type { Logger } from '../connector.ts';
import { SluiceError, toSluiceError } from '../errors.ts';
import type { Operator, OperatorContext, Output } from '../operator.ts';
import type { Batch, Row } from '../record.ts';
import { keyedBackend, type MemoryStateBackend } from '../state.ts';
import type { Accumulators } from './pattern-accumulators.ts';
import { RecordBuffer } from './pattern-buffer.ts';
import type { Absence, MatchData, Measure, Stage } from './pattern-compile.ts';
import { type KeyState, Matcher, newKeyState, type Result, type SkipStrategy } from './pattern-nfa.ts';
import { TimerHeap } from './timer-heap.ts';

export interface PatternOptions {
  stepId: string;
  /** The positive stages. */
  stages: readonly Stage[];
  /** Absent stages by gap (`CompiledStages.absent`); none by default. */
  absent?: readonly (readonly Absence[])[];
  measures: readonly Measure[];
  /** Output fields holding the key, read from the first record of the match (aggregate-style). */
  keyFields?: readonly string[];
  /** Computes each record's key; without it the batch's keys (from an upstream `key_by`) are used. */
  keyFn?: (record: Row) => string;
  /** ms from the first record of a match; Infinity for no bound. */
  within: number;
  skip: SkipStrategy;
  /** Index of the stage `to_first` / `to_last` skip to. */
  skipStage?: number;
  /**
   * Timed-out partial matches: `side_output` — records on the side output `timeouts` (see
   * {@link TIMEOUTS_PORT}); `emit` — output records with `match: 'timeout'`; `drop` — not output.
   */
  timeouts: 'emit' | 'drop' | 'side_output';
  /** Keep every record a match takes, in order (`MatchData.trail`): conditions or measures read them. */
  keepRows?: boolean;
  /** The running accumulators of the conditions' aggregates (`CompiledStages.accumulators`). */
  accumulators?: Accumulators;
}

/** The side output timed-out partial matches go to with `timeouts: 'side_output'`. */
export const TIMEOUTS_PORT = 'timeouts';

/**
 * The checkpoint format's name: part of the on-disk format, changed with any change of shape an
 * earlier reader would misread.
 *
 * v2: the per-key state — threads, pending results, the records waiting for the watermark — is a
 * keyed view of the runtime's (`PATTERN_KEYED_STATE`), snapshotted by key group; the operator's
 * own snapshot keeps the watermark and its two counters (and, outside a job, its `MemoryStateBackend`'s snapshot).
 *
 * v1 (still read): everything in the operator's snapshot. A thread's optional `guard` (absent
 * stages) kept that name: only a pattern with absent stages writes one, and no earlier version
 * accepts such a pattern, while snapshots written before it are read unchanged.
 */
export const PATTERN_STATE_FORMAT = 'sluice.pattern.v2';
const PATTERN_STATE_V1 = 'sluice.pattern.v1';

/** The name of the keyed view holding each key's state: part of the checkpoint format. */
export const PATTERN_KEYED_STATE = 'pattern-keys';

/** Records waiting for the watermark, in parallel arrays, in no particular order. */
interface Pending {
  records: Row[];
  times: number[];
  seqs: number[];
}

/**
 * One key's state in a checkpoint: its matcher state (absent when it has no partial match or
 * pending result) and its records waiting for the watermark (absent when none).
 */
export interface PatternKeyEntry {
  state?: KeyState;
  pending?: Pending;
}

interface PatternSnapshot {
  format: typeof PATTERN_STATE_FORMAT;
  watermark: number;
  /** Next arrival sequence number and next feed position. */
  seq: number;
  pos: number;
  /** The keyed state, only when no runtime holds it (an operator outside a job). */
  keyed?: Map<string, Map<unknown, unknown>>;
}

/** v1: the whole state in the operator's snapshot. */
interface PatternSnapshotV1 {
  format: typeof PATTERN_STATE_V1;
  watermark: number;
  seq: number;
  pos: number;
  pending: Pending & { keys: string[] };
  keys: Map<string, KeyState>;
}

/**
 * Builds a pattern operator. Output records hold the key fields, `match_start` and `match_end`
 * (event times of the first and last record of the match), the measures, and with
 * `timeouts: 'emit'` a `match` field (`complete` or `timeout`); with `timeouts: 'side_output'`
 * timed-out partial matches, the same but without `match`, go to the side output `timeouts`
 * (after the batch of complete matches the same watermark made final). An output record's event time is
 * when the result became known: the time of the record (or `within` deadline) that decided it.
 */
export function createPatternOperator(options: PatternOptions): Operator {
  return new PatternOperator(options);
}

class PatternOperator implements Operator {
  readonly absorbs = true;
  readonly #o: PatternOptions;
  readonly #matcher: Matcher;
  #log: Logger | undefined;
  #watermark = Number.NEGATIVE_INFINITY;
  #seq = 0;
  #pos = 0;
  readonly #pending = new RecordBuffer();
  readonly #keys = new Map<string, KeyState>();
  /** Outside a job (no `OperatorContext.state`): the keyed state, which `snapshot` then carries. */
  #own: MemoryStateBackend | undefined;
  readonly #deadlines = new TimerHeap();
  #scratch: KeyState = newKeyState();
  readonly #warned = new Set<string>();
  #out: Batch | null = null;
  /** Timed-out partial matches for the side output, emitted after `#out`. */
  #side: Batch | null = null;

  constructor(options: PatternOptions) {
    this.#o = options;
    this.#matcher = new Matcher(
      options.stages,
      options.skip,
      options.skipStage ?? 0,
      options.within,
      options.absent,
      options.keepRows === true,
      options.accumulators,
    );
  }

  open(ctx: OperatorContext): void {
    this.#log = ctx.log;
    this.#watermark = ctx.watermark();
    // Restored entries, in no order: pending records are re-sorted once all have come.
    const pending: Pending & { keys: string[] } = { records: [], times: [], seqs: [], keys: [] };
    const restore = (key: string, entry: PatternKeyEntry) => {
      if (entry.state !== undefined) this.#keys.set(key, entry.state);
      const p = entry.pending;
      if (p === undefined) return;
      for (let i = 0; i < p.times.length; i++) {
        pending.records.push(p.records[i]);
        pending.times.push(p.times[i]);
        pending.seqs.push(p.seqs[i]);
        pending.keys.push(key);
      }
    };
    const { backend, own } = keyedBackend(
      ctx.state,
      (ctx.restored as { keyed?: unknown } | undefined)?.keyed,
    );
    this.#own = own;
    backend.keyed<string, PatternKeyEntry>(PATTERN_KEYED_STATE, {
      entries: () => this.#entries(),
      restore,
    });
    if (ctx.restored !== undefined) {
      const s = ctx.restored as Partial<PatternSnapshot> | Partial<PatternSnapshotV1> | null;
      if (typeof s === 'object' && s !== null && s.format === PATTERN_STATE_FORMAT) {
        // The keyed state came back through the view above.
      } else if (
        typeof s === 'object' &&
        s !== null &&
        s.format === PATTERN_STATE_V1 &&
        s.keys instanceof Map
      ) {
        // v1 held everything itself: its keys and pending records now go where v2 keeps them.
        for (const [key, ks] of s.keys) this.#keys.set(key, ks);
        const p = s.pending!;
        for (let i = 0; i < p.times.length; i++) {
          pending.records.push(p.records[i]);
          pending.times.push(p.times[i]);
          pending.seqs.push(p.seqs[i]);
          pending.keys.push(p.keys[i]);
        }
      } else {
        throw new SluiceError(
          'CHECKPOINT_INCOMPATIBLE',
          `the checkpoint's state for step '${this.#o.stepId}' is not a pattern step's state (${PATTERN_STATE_FORMAT} or ${PATTERN_STATE_V1}); ` +
            'the step changed since the checkpoint was taken: restart with --from-scratch',
          { step: this.#o.stepId },
        );
      }
      if (s.watermark! > this.#watermark) this.#watermark = s.watermark!;
      this.#seq = s.seq!;
      this.#pos = s.pos!;
    }
    const order = pending.times
      .map((_, i) => i)
      .sort((a, b) => pending.times[a] - pending.times[b] || pending.seqs[a] - pending.seqs[b]);
    for (const i of order)
      this.#pending.push(pending.times[i], pending.seqs[i], pending.records[i], pending.keys[i]);
    for (const [key, ks] of this.#keys) if (ks.deadline >= 0) this.#deadlines.push(ks.deadline, key);
  }

  /** One entry per key with a partial match, a pending result or a record waiting: the keyed view. */
  #entries(): Map<string, PatternKeyEntry> {
    const entries = new Map<string, PatternKeyEntry>();
    for (const [key, state] of this.#keys) entries.set(key, { state });
    const p = this.#pending.entries();
    for (let i = 0; i < p.times.length; i++) {
      const key = p.keys[i];
      let entry = entries.get(key);
      if (entry === undefined) {
        entry = {};
        entries.set(key, entry);
      }
      let mine = entry.pending;
      if (mine === undefined) {
        mine = { records: [], times: [], seqs: [] };
        entry.pending = mine;
      }
      mine.records.push(p.records[i]);
      mine.times.push(p.times[i]);
      mine.seqs.push(p.seqs[i]);
    }
    return entries;
  }

  processBatch(batch: Batch, out: Output): void {
    const n = batch.records.length;
    if (n === 0) return;
    const keyFn = this.#o.keyFn;
    const keys = batch.keys;
    if (!keyFn && !keys) {
      throw new SluiceError('CONFIG_INVALID', 'pattern needs a key: put key_by before it or set a key', {
        step: this.#o.stepId,
      });
    }
    const records = batch.records;
    const times = batch.times;
    const watermarks = batch.watermarks;
    for (let i = 0; i < n; i++) {
      if (watermarks !== undefined && watermarks[i] > this.#watermark) this.#advance(watermarks[i], out);
      let key: string;
      if (keyFn) {
        try {
          key = keyFn(records[i]);
        } catch (err) {
          out.deadLetter(batch, i, toSluiceError(err, 'EXPR_EVAL', { step: this.#o.stepId }));
          continue;
        }
      } else key = keys![i];
      const time = times[i];
      if (time <= this.#watermark) {
        out.late(
          batch,
          i,
          `record time ${time} is not after the watermark ${this.#watermark}: the records after it in event time were already matched`,
        );
        continue;
      }
      this.#pending.push(time, this.#seq++, records[i], key);
    }
  }

  onWatermark(watermark: number, out: Output): void {
    if (watermark > this.#watermark) this.#advance(watermark, out);
  }

  snapshot(): PatternSnapshot {
    const snapshot: PatternSnapshot = {
      format: PATTERN_STATE_FORMAT,
      watermark: this.#watermark,
      seq: this.#seq,
      pos: this.#pos,
    };
    const keyed = this.#own?.snapshot();
    if (keyed !== undefined) snapshot.keyed = keyed;
    return snapshot;
  }

  /** Moves the watermark to `watermark`: feeds every record and deadline at or before it, in time order. */
  #advance(watermark: number, out: Output): void {
    const before = this.#watermark;
    this.#watermark = watermark;
    const pending = this.#pending;
    const deadlines = this.#deadlines;
    for (;;) {
      const hasRecord = pending.top() && pending.topTime <= watermark;
      const hasDeadline = deadlines.size > 0 && deadlines.topTime <= watermark;
      if (!hasRecord && !hasDeadline) break;
      if (hasDeadline && (!hasRecord || deadlines.topTime <= pending.topTime)) {
        const time = deadlines.topTime;
        const key = deadlines.topKey;
        deadlines.pop();
        const ks = this.#keys.get(key);
        if (ks === undefined || ks.deadline !== time) continue;
        ks.deadline = -1;
        this.#matcher.expire(ks, time);
        this.#after(key, ks, time, before);
      } else {
        const time = pending.topTime;
        const key = pending.topKey;
        const record = pending.topRecord;
        pending.pop();
        this.#feed(key, record, time, before, out);
      }
    }
    if (watermark === Number.POSITIVE_INFINITY) {
      for (const [key, ks] of this.#keys) {
        this.#matcher.end(ks);
        this.#after(key, ks, Number.NaN, before);
      }
    }
    if (this.#out !== null) {
      out.emit(this.#out);
      this.#out = null;
    }
    if (this.#side !== null) {
      const side = this.#side;
      this.#side = null;
      if (out.emitTo === undefined)
        throw new SluiceError('INTERNAL', 'the pattern step was given an output without side outputs', {
          step: this.#o.stepId,
        });
      out.emitTo(TIMEOUTS_PORT, side);
    }
  }

  #feed(key: string, record: Row, time: number, before: number, out: Output): void {
    const matcher = this.#matcher;
    let ks = this.#keys.get(key);
    const fresh = ks === undefined;
    if (ks === undefined) ks = this.#scratch;
    matcher.failure = undefined;
    matcher.feed(ks, record, time, this.#pos++);
    if (matcher.failure !== undefined) {
      const batch: Batch = { records: [record], times: [time], keys: [key] };
      out.deadLetter(batch, 0, toSluiceError(matcher.failure, 'EXPR_EVAL', { step: this.#o.stepId }));
    }
    if (fresh) {
      if (ks.threads.length === 0 && ks.results.length === 0 && matcher.ready.length === 0) return;
      this.#keys.set(key, ks);
      this.#scratch = newKeyState();
    }
    this.#after(key, ks, time, before);
  }

  /** Emits what became final for `key`, schedules its next deadline, frees its state when empty. */
  #after(key: string, ks: KeyState, now: number, before: number): void {
    const ready = this.#matcher.ready;
    if (ready.length > 0) {
      for (let i = 0; i < ready.length; i++) this.#result(key, ready[i], now, before);
      ready.length = 0;
    }
    if (ks.threads.length === 0 && ks.results.length === 0) {
      this.#keys.delete(key);
      return;
    }
    const within = this.#matcher.within;
    if (within !== Number.POSITIVE_INFINITY && ks.threads.length > 0) {
      const due = ks.threads[0].match.startTime + within;
      if (ks.deadline !== due) {
        ks.deadline = due;
        this.#deadlines.push(due, key);
      }
    }
  }

  #result(key: string, result: Result, now: number, before: number): void {
    const o = this.#o;
    const timeout = result.kind === 'timeout';
    // A dropped timeout is no input record: the records of its partial match were taken in
    // (the step absorbs), so it is not counted as filtered, which would break in = out +
    // filtered + dead + late.
    if (timeout && o.timeouts === 'drop') return;
    const match = result.match;
    const row: Row = {};
    const keyFields = o.keyFields;
    if (keyFields) {
      const first = firstRecord(match);
      for (const f of keyFields) row[f] = first[f] ?? null;
    }
    row.match_start = match.startTime;
    row.match_end = match.endTime;
    for (const m of o.measures) {
      let value: unknown;
      try {
        value = m.evaluate(match);
      } catch (err) {
        value = null;
        this.#warn(m, err);
      }
      row[m.name] = value === undefined ? null : value;
    }
    if (o.timeouts === 'emit') row.match = timeout ? 'timeout' : 'complete';
    // At end of input no record decides: the result is known once the last watermark has passed.
    const time = Number.isNaN(now) ? Math.max(match.endTime, before + 1) : now;
    const side = timeout && o.timeouts === 'side_output';
    let batch = side ? this.#side : this.#out;
    if (batch === null) {
      batch = { records: [], times: [], keys: [], watermarks: [] };
      if (side) this.#side = batch;
      else this.#out = batch;
    }
    batch.records.push(row);
    batch.times.push(time);
    batch.keys!.push(key);
    batch.watermarks!.push(before);
  }

  #warn(measure: Measure, err: unknown): void {
    if (this.#warned.has(measure.name)) return;
    this.#warned.add(measure.name);
    const message = err instanceof Error ? err.message : String(err);
    this.#log?.warn(`pattern measure '${measure.name}' (${measure.text}) failed, so it is NULL: ${message}`, {
      step: this.#o.stepId,
    });
  }
}

function firstRecord(match: MatchData): Row {
  const marks = match.marks;
  for (let s = 0; s < marks.length / 3; s++) {
    if (marks[3 * s + 2] > 0 && marks[3 * s] === match.start) return match.rows[2 * s]!;
  }
  return {};
}
