/**
 * The operator graph of a job: one node per step, wired to the steps and sinks that read it.
 *
 * Pushing a batch into a node runs its operator and, synchronously, everything downstream of it
 * up to the sinks' queues: this is the fused synchronous chain between asynchronous edges.
 */

import { SluiceError } from '../errors.ts';
import type { LatePolicy, Operator, Output } from '../operator.ts';
import { type Batch, changeKindName, type DeadLetter, INSERT, type Row, withoutTexts } from '../record.ts';
import { newStepCounters, type StepCounters } from './metrics.ts';
import type { SinkRunner } from './sink-runner.ts';

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

/** Where a node's output goes: further steps and sink queues. */
export class Node implements Output {
  readonly id: string;
  readonly operator: Operator;
  readonly counters: StepCounters = newStepCounters();
  readonly steps: Node[] = [];
  readonly sinks: SinkRunner[] = [];
  readonly #failures: FailureRouter;
  readonly #now: () => number;
  /** The step runs the user's functions, which might change a record in place. */
  readonly #userCode: boolean;

  constructor(id: string, operator: Operator, failures: FailureRouter, now: () => number, userCode = false) {
    this.id = id;
    this.operator = operator;
    this.#failures = failures;
    this.#now = now;
    this.#userCode = userCode;
  }

  /**
   * Runs the operator on a batch; everything it emits flows on before this returns. A step
   * running the user's functions gets the batch without its texts: after it, no text can be
   * trusted to be its record's.
   */
  push(batch: Batch): void {
    if (batch.records.length === 0) return;
    this.counters.in += batch.records.length;
    this.operator.processBatch(this.#userCode ? withoutTexts(batch) : batch, this);
  }

  emit(batch: Batch): void {
    const n = batch.records.length;
    if (n === 0) return;
    if (this.operator.absorbs) this.counters.results += n;
    else this.counters.out += n;
    for (let s = 0; s < this.steps.length; s++) this.steps[s].push(batch);
    for (let s = 0; s < this.sinks.length; s++)
      this.sinks[s].enqueue(batch.records, batch.times, batch.texts, batch.kinds);
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
