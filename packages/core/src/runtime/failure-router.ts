/**
 * Where failed and late records go: the dead-letter and late-output sinks of a job.
 */

import type { Logger, SinkBatch, SinkRejection } from '../connector.ts';
import type { LatePolicy } from '../operator.ts';
import { changeKindName, type DeadLetter, INSERT, type Row } from '../record.ts';
import { safeJsonText } from '../safe-json.ts';
import type { Clock } from '../time.ts';
import type { FailureRouter } from './graph.ts';
import type { SinkRunner } from './sink-runner.ts';

/** Id of the dead-letter output in checkpoints and metrics. */
export const DEAD_LETTER = '$dead_letter';
/** Id of the late output in checkpoints and metrics. */
export const LATE_OUTPUT = '$late_output';

/** Longest text a payload JSON cannot hold is written as. */
export const MAX_PAYLOAD_TEXT = 1 << 20;

/**
 * Makes a dead letter writable whatever its payload holds: a payload `JSON.stringify` cannot
 * write (nested deeper than the stack allows, a bigint, a cycle) becomes its JSON text, written
 * without recursion and cut at MAX_PAYLOAD_TEXT characters, and the message says so. Strings and
 * other scalars, the common case, are not looked at.
 */
export function writableLetter(letter: DeadLetter): DeadLetter {
  const payload = letter.payload;
  if (typeof payload !== 'object' || payload === null) return letter;
  let reason: string;
  try {
    JSON.stringify(payload);
    return letter;
  } catch (err) {
    reason = err instanceof Error ? err.message : String(err);
  }
  const { text, truncated } = safeJsonText(payload, MAX_PAYLOAD_TEXT);
  const note = truncated ? `cut at ${MAX_PAYLOAD_TEXT} characters` : 'complete';
  return {
    ...letter,
    payload: text,
    message: `${letter.message} [payload written as JSON text (${note}): ${reason}]`,
  };
}

/** Routes dead letters and late records to the job's outputs (set once they are open). */
/** How many dead letters an `OutputRouter` keeps in memory for inspection. */
export const RECENT_DEAD_LETTERS = 100;

export class OutputRouter implements FailureRouter {
  deadLetters: SinkRunner | undefined;
  lateOutput: SinkRunner | undefined;
  readonly #log: Logger;
  readonly #clock: Clock;
  #unlogged = 0;
  /** Recent dead letters, oldest first (the last `RECENT_DEAD_LETTERS` at least), for `Job.recentDeadLetters()`. */
  readonly recent: DeadLetter[] = [];
  /** Number of the first of `recent` in this run (the first dead letter of a run is 1). */
  recentFirst = 1;

  constructor(log: Logger, clock: Clock) {
    this.#log = log;
    this.#clock = clock;
  }

  /**
   * Queues a dead letter; without a dead-letter output, logs the first few and drops them. No
   * payload can make the write fail (see `writableLetter`).
   */
  deadLetter(letter: DeadLetter): void {
    this.recent.push(letter);
    if (this.recent.length >= 2 * RECENT_DEAD_LETTERS) {
      this.recent.splice(0, RECENT_DEAD_LETTERS);
      this.recentFirst += RECENT_DEAD_LETTERS;
    }
    if (this.deadLetters) {
      const writable = writableLetter(letter);
      this.deadLetters.enqueue({
        records: [writable as unknown as Row],
        times: [letter.eventTime ?? letter.failedAt],
      });
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
    if (where === 'late_output' && this.lateOutput)
      this.lateOutput.enqueue({ records: [record], times: [time] });
    else this.deadLetter(letter);
  }

  /** Turns a sink's permanent rejections into dead letters. */
  rejected(sinkId: string, batch: SinkBatch, rejections: SinkRejection[]): void {
    const now = this.#clock.now();
    const { records, times, kinds } = batch;
    for (const r of rejections) {
      const letter: DeadLetter = {
        step: sinkId,
        code: 'SINK_REJECTED',
        message: r.message,
        payload: records[r.index],
        failedAt: now,
      };
      if (Number.isFinite(times[r.index])) letter.eventTime = times[r.index];
      const kind = kinds?.[r.index];
      if (kind !== undefined && kind !== INSERT) letter.kind = changeKindName(kind);
      if (sinkId === DEAD_LETTER) {
        this.#log.error('the dead-letter sink rejected a record', {
          step: letter.step,
          reason: r.message,
          payload: safeJsonText(letter.payload, 1000).text,
        });
      } else this.deadLetter(letter);
    }
  }
}
