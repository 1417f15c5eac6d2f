/**
 * One source of a running job: its readers, positions and counters, and how a batch it reads
 * becomes a `Batch` with event times (records without a valid time become dead letters).
 */

import type { SourceBatch, SourceLag, SourceReader } from '../connector.ts';
import { SluiceError, toSluiceError } from '../errors.ts';
import type { PlanSource } from '../plan/plan.ts';
import type { Batch, DeadLetter, Offset, Row } from '../record.ts';
import type { Clock } from '../time.ts';
import { type TimeAssigner, timeAssigner } from './event-time.ts';
import type { SourceCounters } from './job-counters.ts';

export class SourceRuntime implements SourceCounters {
  readonly plan: PlanSource;
  readonly readers: readonly SourceReader[];
  /** Position of each reader after the last batch pushed through the graph. */
  readonly positions: { [partition: string]: unknown };
  in = 0;
  dead = 0;
  /** The last lag each reader reported (`SourceReader.lag`), by reader partition id. */
  readonly lags = new Map<string, SourceLag>();
  readonly #assign: TimeAssigner;
  /** The next record's place in this source's input (`Batch.seqs`); restarts at 0 with the job. */
  #seq = 0;

  constructor(
    plan: PlanSource,
    readers: readonly SourceReader[],
    positions: { [partition: string]: unknown },
    clock: Clock,
  ) {
    this.plan = plan;
    this.readers = readers;
    this.positions = positions;
    this.#assign = timeAssigner(plan, clock);
  }

  get id(): string {
    return this.plan.id;
  }

  /**
   * The lag of every upstream partition its readers last reported, and its unit (the first
   * reader's); undefined when none has.
   */
  lag(): { lag: { [partition: string]: number }; unit: SourceLag['unit'] } | undefined {
    let unit: SourceLag['unit'] | undefined;
    const lag: { [partition: string]: number } = {};
    for (const l of this.lags.values()) {
      unit ??= l.unit;
      Object.assign(lag, l.partitions);
    }
    return unit === undefined ? undefined : { lag, unit };
  }

  /** The places of the next `n` records in this source's input (`Batch.seqs`). */
  sequence(n: number): number[] {
    const seqs = new Array<number>(n);
    for (let i = 0; i < n; i++) seqs[i] = this.#seq++;
    return seqs;
  }

  /**
   * Turns what a reader returned into a batch with event times, sending decode failures and
   * records without a valid event time to `deadLetter`. Returns the batch (undefined when no
   * record is left) and the greatest event time in it (-∞ when none).
   */
  ingest(
    partition: string,
    input: SourceBatch,
    now: number,
    deadLetter: (letter: DeadLetter) => void,
  ): { batch: Batch | undefined; maxTime: number } {
    const sourceId = this.plan.id;
    const fail = (code: string, message: string, payload: unknown, offset: Offset | undefined) => {
      this.dead++;
      const letter: DeadLetter = {
        step: sourceId,
        code,
        message,
        payload,
        source: sourceId,
        partition,
        failedAt: now,
      };
      if (offset !== undefined) letter.offset = offset;
      deadLetter(letter);
    };
    if (input.failures) {
      this.in += input.failures.length;
      for (const f of input.failures) fail('DECODE_FAILED', f.message, f.payload, f.offset);
    }
    const n = input.records.length;
    this.in += n;
    const { records, offsets, texts } = input;
    const times: number[] = new Array(n);
    /** Positions of records without a valid time (dead letters), ascending. */
    let failed: number[] | undefined;
    let maxTime = Number.NEGATIVE_INFINITY;
    const assign = this.#assign;
    const sourceTimes = input.times;
    for (let i = 0; i < n; i++) {
      const r = records[i];
      let t: number;
      try {
        t = assign(r, sourceTimes?.[i]);
      } catch (err) {
        const e = toSluiceError(err, 'EXPR_EVAL', { step: sourceId });
        fail(e.code, e.message, r, offsets?.[i]);
        failed ??= [];
        failed.push(i);
        continue;
      }
      if (!Number.isFinite(t)) {
        const e = this.#timeError(r);
        fail(e.code, e.message, r, offsets?.[i]);
        failed ??= [];
        failed.push(i);
        continue;
      }
      if (t > maxTime) maxTime = t;
      times[i] = t;
    }
    // The reader's arrays are the batch's (the runtime owns them once `read` returns); new ones
    // only when some records were dead letters.
    const batch: Batch =
      failed === undefined
        ? { records, times, source: sourceId, partition }
        : withoutFailed(input, times, failed, sourceId, partition);
    if (batch.records.length === 0) return { batch: undefined, maxTime };
    if (failed === undefined) {
      if (offsets) batch.offsets = offsets;
      if (texts) batch.texts = texts;
      if (input.kinds) batch.kinds = input.kinds;
    }
    return { batch, maxTime };
  }

  #timeError(r: Row): SluiceError {
    const eventTime = this.plan.eventTime;
    const field = eventTime?.field;
    const message = field
      ? `event-time field '${field}' is ${JSON.stringify(r[field]) ?? 'missing'}, not epoch milliseconds or ISO-8601 text`
      : eventTime?.expression !== undefined
        ? 'the event-time expression did not give a timestamp'
        : `source '${this.plan.id}' (${this.plan.type}) gave this record no time of its own; set event_time.field or event_time.expression`;
    return new SluiceError('EVENT_TIME_INVALID', message, { step: this.plan.id });
  }
}

/** The records of `input` but those at the positions in `failed` (ascending), with their times. */
function withoutFailed(
  input: SourceBatch,
  times: number[],
  failed: readonly number[],
  source: string,
  partition: string,
): Batch {
  const { records, offsets, texts, kinds } = input;
  const batch: Batch = { records: [], times: [], source, partition };
  if (offsets) batch.offsets = [];
  if (texts) batch.texts = [];
  if (kinds) batch.kinds = [];
  let f = 0;
  for (let i = 0; i < records.length; i++) {
    if (f < failed.length && failed[f] === i) {
      f++;
      continue;
    }
    batch.records.push(records[i]);
    batch.times.push(times[i]);
    if (offsets) batch.offsets!.push(offsets[i]);
    if (texts) batch.texts!.push(texts[i]);
    if (kinds) batch.kinds!.push(kinds[i]);
  }
  return batch;
}
