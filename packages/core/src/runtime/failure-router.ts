/**
 * Where failed and late records go: the dead-letter and late-output sinks of a job.
 */

import type { Logger, SinkRejection } from '../connector.ts';
import type { LatePolicy } from '../operator.ts';
import type { DeadLetter, Row } from '../record.ts';
import type { Clock } from '../time.ts';
import type { FailureRouter } from './graph.ts';
import type { SinkRunner } from './sink-runner.ts';

/** Id of the dead-letter output in checkpoints and metrics. */
export const DEAD_LETTER = '$dead_letter';
/** Id of the late output in checkpoints and metrics. */
export const LATE_OUTPUT = '$late_output';

/** Routes dead letters and late records to the job's outputs (set once they are open). */
export class OutputRouter implements FailureRouter {
  deadLetters: SinkRunner | undefined;
  lateOutput: SinkRunner | undefined;
  readonly #log: Logger;
  readonly #clock: Clock;
  #unlogged = 0;

  constructor(log: Logger, clock: Clock) {
    this.#log = log;
    this.#clock = clock;
  }

  /** Queues a dead letter; without a dead-letter output, logs the first few and drops them. */
  deadLetter(letter: DeadLetter): void {
    if (this.deadLetters) {
      this.deadLetters.enqueue([letter as unknown as Row], [letter.eventTime ?? letter.failedAt]);
    } else if (this.#unlogged++ < 10) {
      this.#log.warn('dead letter (configure dead_letter to keep them)', {
        step: letter.step,
        code: letter.code,
        message: letter.message,
      });
    }
  }

  late(_stepId: string, policy: LatePolicy | undefined, record: Row, time: number, letter: DeadLetter): void {
    const where = policy ?? (this.lateOutput ? 'late_output' : 'dead_letter');
    if (where === 'drop') return;
    if (where === 'late_output' && this.lateOutput) this.lateOutput.enqueue([record], [time]);
    else this.deadLetter(letter);
  }

  /** Turns a sink's permanent rejections into dead letters. */
  rejected(sinkId: string, records: Row[], times: number[], rejections: SinkRejection[]): void {
    const now = this.#clock.now();
    for (const r of rejections) {
      const letter: DeadLetter = {
        step: sinkId,
        code: 'SINK_REJECTED',
        message: r.message,
        payload: records[r.index],
        failedAt: now,
      };
      if (Number.isFinite(times[r.index])) letter.eventTime = times[r.index];
      if (sinkId === DEAD_LETTER) this.#log.error('the dead-letter sink rejected a record', { letter });
      else this.deadLetter(letter);
    }
  }
}
