/**
 * Job counters: what went in, out, and where everything else went.
 *
 * The accounting identity the tests hold the engine to: for every step,
 * `in = out + filtered + dead + late` (for steps that absorb records into results, such as
 * aggregates, `out` counts the records absorbed, and `results` what they emitted). Records a
 * step sends to a side output are part of its `out` (or `results`), like those of its main
 * output; `side` says how many, and `unread` how many of those went to a port nobody reads.
 */

export interface StepCounters {
  in: number;
  out: number;
  filtered: number;
  dead: number;
  late: number;
  /** Records emitted by a step that absorbs its input (window results). */
  results: number;
  /**
   * Of the records the step emitted (`out`, or `results` when it absorbs), those it sent to its
   * side outputs (`Output.emitTo`).
   */
  side: number;
  /** Of `side`, those sent to a side output no step or sink reads: dropped. */
  unread: number;
}

/** A source's counters, and its lag when its readers report one (`SourceReader.lag`). */
export interface SourceMetrics {
  in: number;
  dead: number;
  /**
   * The last lag its readers reported, by upstream partition, in `lagUnit`: records (Kafka) or
   * bytes (a PostgreSQL replication slot). Absent until a reader reports one.
   */
  lag?: { [partition: string]: number };
  lagUnit?: 'records' | 'bytes';
}

export interface SinkCounters {
  written: number;
  rejected: number;
}

export interface JobMetrics {
  /** Records read from sources, including those that failed to decode. */
  recordsIn: number;
  /** Records written to sinks (not counting dead letters and late output). */
  recordsOut: number;
  deadLetters: number;
  late: number;
  filtered: number;
  /** Records steps sent to side outputs that no step or sink reads (dropped; see `StepCounters.unread`). */
  unread: number;
  /** Pipeline watermark (epoch ms; -Infinity before the first). */
  watermark: number;
  /** Processing time of the last completed checkpoint, or undefined. */
  lastCheckpointAt: number | undefined;
  lastCheckpointId: number | undefined;
  sources: { [id: string]: SourceMetrics };
  steps: { [id: string]: StepCounters };
  sinks: { [id: string]: SinkCounters };
  /**
   * The dead-letter and late outputs that are configured, as `$dead_letter` and `$late_output`:
   * what they wrote, and what they refused for good (a late record the late output refuses
   * becomes a dead letter; a dead letter the dead-letter output refuses is logged as an error).
   */
  outputs: { [id: string]: SinkCounters };
  /**
   * Times the job was restarted from its last checkpoint after a transient failure (a restart
   * strategy, `runWithRestarts`), as of its newest checkpoint plus this run's own restart.
   */
  restarts: number;
}

export function newStepCounters(): StepCounters {
  return { in: 0, out: 0, filtered: 0, dead: 0, late: 0, results: 0, side: 0, unread: 0 };
}
