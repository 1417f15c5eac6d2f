/**
 * The operator graph of a job: one node per step, wired to the steps and sinks that read it.
 *
 * Pushing a batch into a node runs its operator and, synchronously, everything downstream of it
 * up to the sinks' queues: this is the fused synchronous chain between asynchronous edges.
 *
 * Each node has a watermark of its own: the minimum over the sources upstream of it that are not
 * idle, so a quiet or slow branch holds back only the steps that depend on it.
 *
 * A step that reads two branches of one source (a diamond: a source split by filters and joined
 * again) gets each source batch's records in two portions, one per branch, one after the other.
 * Taken in that order, the first portion would move the step's watermark past records of the
 * second that came earlier in the source, making them late only because of how the input was
 * cut into batches. So such a step holds the portions until the source batch has gone through
 * the graph (`OperatorGraph.flush`) and takes them in the source's order (`Batch.seqs`), or,
 * where a portion's records were built by a step and carry no place in the source, merged by
 * watermark: no record meets a watermark later than the one it carries.
 */

import { SluiceError } from '../errors.ts';
import type { LatePolicy, Operator, Output } from '../operator.ts';
import {
  type Batch,
  changeKindName,
  type DeadLetter,
  INSERT,
  type Row,
  sliceBatch,
  withoutTexts,
} from '../record.ts';
import { START_OF_TIME } from '../time.ts';
import type { KeyedStateStore } from './keyed-state.ts';
import { newStepCounters, type StepCounters } from './metrics.ts';
import type { SinkRunner } from './sink-runner.ts';
import type { SourceWatermarks } from './watermarks.ts';

/** Receives dead letters and late records from every node. */
export interface FailureRouter {
  deadLetter(letter: DeadLetter): void;
  late(stepId: string, policy: LatePolicy | undefined, record: Row, time: number, letter: DeadLetter): void;
}

/**
 * Turns record `i` of a batch into a dead letter. Its message starts with the config path of the
 * expression that failed when the error names one (`fields.amount: cannot cast …`).
 */
export function deadLetterOf(
  batch: Batch,
  i: number,
  stepId: string,
  error: SluiceError,
  now: number,
): DeadLetter {
  const letter: DeadLetter = {
    step: stepId,
    code: error.code,
    message: error.path ? `${error.path}: ${error.message}` : error.message,
    payload: batch.records[i],
    failedAt: now,
  };
  if (batch.source !== undefined) letter.source = batch.source;
  if (batch.partition !== undefined) letter.partition = batch.partition;
  if (batch.offsets) letter.offset = batch.offsets[i];
  const t = batch.times[i];
  if (Number.isFinite(t)) letter.eventTime = t;
  const kind = batch.kinds?.[i];
  if (kind !== undefined && kind !== INSERT) letter.kind = changeKindName(kind);
  return letter;
}

/** A step reading a node's output, on input `port` (its index in the step's `input` list). */
export interface Edge {
  readonly node: Node;
  readonly port: number;
}

/** The readers of one output of a node: steps (on their input ports) and sink queues. */
export interface Readers {
  readonly steps: Edge[];
  readonly sinks: SinkRunner[];
}

/** Where a node's output goes: further steps and sink queues. */
export class Node implements Output {
  readonly id: string;
  readonly operator: Operator;
  readonly counters: StepCounters = newStepCounters();
  /** The readers of the main output. */
  readonly steps: Edge[] = [];
  readonly sinks: SinkRunner[] = [];
  /**
   * The readers of each side output the step's spec declares (`StepSpec.outputs`), by port:
   * `input: <id>.<port>` in the plan. A port nobody reads has none, and what is emitted to it is
   * dropped and counted (`unread`).
   */
  readonly ports: ReadonlyMap<string, Readers>;
  /** The sources upstream of this step: its watermark is their minimum. */
  readonly sources: readonly string[];
  /**
   * For each input port, the sources upstream of this step but not of that input: the
   * watermarks a batch arriving there carries do not account for them yet (see `push`).
   */
  readonly #unseen: readonly (readonly string[])[];
  readonly #clocks: SourceWatermarks;
  /** This step's watermark: what its operator was last advanced to by `advanceWatermark`. */
  #watermark = START_OF_TIME;
  /** Whether two of its inputs share a source (see the file comment); then `#held` is used. */
  readonly merges: boolean;
  readonly #holds: readonly Node[];
  /** The operator's keyed state (`OperatorContext.state`), set when the job opens it. */
  keyedState: KeyedStateStore | undefined;
  /** Portions of the current source batch, with their ports, in arrival order. */
  #held: { batch: Batch; port: number }[] = [];
  readonly #failures: FailureRouter;
  readonly #now: () => number;
  /** The step runs the user's functions, which might change a record in place. */
  readonly #userCode: boolean;

  constructor(
    id: string,
    operator: Operator,
    wiring: {
      readonly sources: readonly string[];
      readonly unseen: readonly (readonly string[])[];
      readonly clocks: SourceWatermarks;
      /** Two of its inputs share a source. */
      readonly merges: boolean;
      /** The asynchronous steps upstream of it: its watermark stays at or below what they hold back. */
      readonly holds: readonly Node[];
      /** The names of its side outputs. */
      readonly ports?: readonly string[];
    },
    failures: FailureRouter,
    now: () => number,
    userCode = false,
  ) {
    this.id = id;
    this.operator = operator;
    this.sources = wiring.sources;
    this.#unseen = wiring.unseen;
    this.#clocks = wiring.clocks;
    this.merges = wiring.merges;
    this.#holds = wiring.holds;
    this.ports = new Map((wiring.ports ?? []).map((port) => [port, { steps: [], sinks: [] }]));
    this.#failures = failures;
    this.#now = now;
    this.#userCode = userCode;
  }

  get watermark(): number {
    return this.#watermark;
  }

  /** Sets the watermark a restored checkpoint recorded, before the operator opens. */
  restoreWatermark(watermark: number): void {
    this.#watermark = watermark;
  }

  /**
   * Recomputes the watermark from the sources upstream and, when it advanced, tells the
   * operator. A step whose every source is idle keeps its watermark.
   */
  advanceWatermark(): void {
    this.flush();
    let min = this.#minOver(this.sources);
    if (min === undefined) return;
    for (let h = 0; h < this.#holds.length; h++) {
      const held = this.#holds[h].operator.async!.heldWatermark;
      if (held < min) min = held;
    }
    if (!(min > this.#watermark)) return;
    this.#watermark = min;
    this.operator.onWatermark?.(min, this);
  }

  /** To +∞ at the end of input. */
  finishWatermark(watermark: number): void {
    this.flush();
    if (!(watermark > this.#watermark)) return;
    this.#watermark = watermark;
    this.operator.onWatermark?.(watermark, this);
  }

  /** The minimum watermark over the given sources that are not idle; undefined when all are. */
  #minOver(sources: readonly string[]): number | undefined {
    let min: number | undefined;
    const clocks = this.#clocks;
    for (let i = 0; i < sources.length; i++) {
      if (clocks.isIdle(sources[i])) continue;
      const wm = clocks.watermarkOf(sources[i]);
      if (min === undefined || wm < min) min = wm;
    }
    return min;
  }

  /**
   * Runs the operator on a batch that arrived on input `port`; everything it emits flows on
   * before this returns. A step running the user's functions gets the batch without its texts:
   * after it, no text can be trusted to be its record's.
   *
   * The watermarks a batch carries (`Batch.watermarks`) are its upstream's: where this step has
   * sources that input has not, each is capped by their minimum, and never below this step's
   * own watermark, so the step meets each record at the watermark it would have had then.
   */
  push(batch: Batch, port = 0): void {
    if (batch.records.length === 0) return;
    this.counters.in += batch.records.length;
    const unseen = this.#unseen[port];
    if (batch.watermarks !== undefined && unseen !== undefined && unseen.length > 0)
      batch = this.#capWatermarks(batch, unseen);
    if (this.merges && (batch.seqs !== undefined || batch.watermarks !== undefined))
      this.#held.push({ batch, port });
    else this.#process(batch, port);
  }

  #process(batch: Batch, port: number): void {
    this.operator.processBatch(this.#userCode ? withoutTexts(batch) : batch, this, port);
  }

  /**
   * Takes the portions held since the last flush in their records' order in the source
   * (`Batch.seqs`) when every portion carries it — the order one record at a time would give —
   * else merged by the watermark each record carries: runs of records of one portion go to the
   * operator together, and of records with equal watermarks, the portion that arrived first goes
   * first.
   */
  flush(): void {
    const held = this.#held;
    if (held.length === 0) return;
    this.#held = [];
    if (held.length === 1) {
      this.#process(held[0].batch, held[0].port);
      return;
    }
    if (held.every((h) => h.batch.seqs !== undefined)) {
      this.#mergeBySeq(held);
      return;
    }
    const next = new Array<number>(held.length).fill(0);
    for (;;) {
      // The portion whose next record carries the lowest watermark (the earliest on a tie).
      let p = -1;
      let lowest = Number.POSITIVE_INFINITY;
      for (let q = 0; q < held.length; q++) {
        const wms = held[q].batch.watermarks!;
        if (next[q] < wms.length && (p === -1 || wms[next[q]] < lowest)) {
          p = q;
          lowest = wms[next[q]];
        }
      }
      if (p === -1) return;
      // Its records up to the next one another portion must go before.
      let bound = Number.POSITIVE_INFINITY;
      let earlierWins = false;
      for (let q = 0; q < held.length; q++) {
        if (q === p || next[q] >= held[q].batch.records.length) continue;
        const wm = held[q].batch.watermarks![next[q]];
        if (wm < bound || (wm === bound && q < p)) {
          bound = wm;
          earlierWins = q < p;
        }
      }
      const { batch, port } = held[p];
      const wms = batch.watermarks!;
      let end = next[p];
      while (end < wms.length && (wms[end] < bound || (wms[end] === bound && !earlierWins))) end++;
      this.#process(sliceBatch(batch, next[p], end), port);
      next[p] = end;
    }
  }

  /** Takes `held` (every portion with `seqs`, each ascending) in ascending seq, a run at a time. */
  #mergeBySeq(held: readonly { batch: Batch; port: number }[]): void {
    const next = new Array<number>(held.length).fill(0);
    for (;;) {
      let p = -1;
      let lowest = Number.POSITIVE_INFINITY;
      let bound = Number.POSITIVE_INFINITY;
      for (let q = 0; q < held.length; q++) {
        const seqs = held[q].batch.seqs!;
        if (next[q] >= seqs.length) continue;
        const seq = seqs[next[q]];
        if (seq < lowest) {
          bound = lowest;
          lowest = seq;
          p = q;
        } else if (seq < bound) bound = seq;
      }
      if (p === -1) return;
      const { batch, port } = held[p];
      const seqs = batch.seqs!;
      let end = next[p] + 1;
      while (end < seqs.length && seqs[end] < bound) end++;
      this.#process(sliceBatch(batch, next[p], end), port);
      next[p] = end;
    }
  }

  #capWatermarks(batch: Batch, unseen: readonly string[]): Batch {
    const cap = this.#minOver(unseen);
    const from = batch.watermarks!;
    const n = from.length;
    if (cap === undefined || from[n - 1] <= cap) return batch;
    const floor = this.#watermark;
    const capped = new Array<number>(n);
    let moves = false;
    for (let i = 0; i < n; i++) {
      const wm = Math.max(floor, Math.min(from[i], cap));
      capped[i] = wm;
      if (wm !== floor) moves = true;
    }
    if (!moves) {
      const { watermarks: _, ...rest } = batch;
      return rest;
    }
    return { ...batch, watermarks: capped };
  }

  emit(batch: Batch): void {
    const n = batch.records.length;
    if (n === 0) return;
    if (this.operator.absorbs) this.counters.results += n;
    else this.counters.out += n;
    for (let s = 0; s < this.steps.length; s++) this.steps[s].node.push(batch, this.steps[s].port);
    for (let s = 0; s < this.sinks.length; s++) this.sinks[s].enqueue(batch);
  }

  /**
   * Sends a batch to side output `port`: counted as the step's output (`out`, or `results` for
   * a step that absorbs) and in `side`; with no reader, dropped and counted in `unread`.
   */
  emitTo(port: string, batch: Batch): void {
    const readers = this.ports.get(port);
    if (readers === undefined) {
      const known = [...this.ports.keys()];
      throw new SluiceError(
        'INTERNAL',
        `step '${this.id}' emitted to side output '${port}', which its spec does not declare for its config (${known.length > 0 ? `its side outputs: ${known.join(', ')}` : 'it declares none'})`,
        { step: this.id },
      );
    }
    const n = batch.records.length;
    if (n === 0) return;
    if (this.operator.absorbs) this.counters.results += n;
    else this.counters.out += n;
    this.counters.side += n;
    const { steps, sinks } = readers;
    if (steps.length === 0 && sinks.length === 0) {
      this.counters.unread += n;
      return;
    }
    for (let s = 0; s < steps.length; s++) steps[s].node.push(batch, steps[s].port);
    for (let s = 0; s < sinks.length; s++) sinks[s].enqueue(batch);
  }

  /** The steps reading any of its outputs, main or side. */
  readers(): Edge[] {
    const all = [...this.steps];
    for (const r of this.ports.values()) all.push(...r.steps);
    return all;
  }

  deadLetter(batch: Batch, index: number, error: SluiceError): void {
    this.counters.dead++;
    this.#failures.deadLetter(deadLetterOf(batch, index, this.id, error, this.#now()));
  }

  late(batch: Batch, index: number, reason: string): void {
    this.counters.late++;
    const letter = deadLetterOf(batch, index, this.id, new SluiceError('LATE_RECORD', reason), this.#now());
    this.#failures.late(this.id, this.operator.onLate, batch.records[index], batch.times[index], letter);
  }

  filtered(count: number): void {
    this.counters.filtered += count;
  }

  /** The counters, with `out` of an absorbing step computed as the records it took into results. */
  snapshotCounters(): StepCounters {
    const c = { ...this.counters };
    if (this.operator.absorbs) c.out = c.in - c.dead - c.late - c.filtered;
    return c;
  }
}
