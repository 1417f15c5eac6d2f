/**
 * The connector contract: how sources read and sinks write.
 *
 * A source splits into partitions, each read by one `SourceReader`. Readers return batches, hand
 * their position to checkpoints without I/O, and commit upstream only when told a checkpoint
 * covering that position is durable. A sink writes batches and, when it can, takes part in the
 * checkpoint: `prepareCommit` makes its writes durable-but-pending, `commit` publishes them.
 */

import type { Offset, Row, RowKind } from './record.ts';
import type { Clock } from './time.ts';

/** A record the source could not decode. It goes to the dead-letter output. */
export interface DecodeFailure {
  /** The raw input (text, or base64 for bytes). */
  payload: string;
  message: string;
  offset?: Offset;
}

/**
 * What one `read` returns. `records`, `offsets` and `times` are parallel. The runtime takes the
 * arrays as they are (no copy): a reader must not change them once it has returned them.
 */
export interface SourceBatch {
  records: Row[];
  /** Position of each record, for dead letters (e.g. the byte offset of a line). */
  offsets?: Offset[];
  /** Time the source assigns (e.g. the Kafka timestamp), used when no event-time field is set. */
  times?: number[];
  /**
   * The JSON text each record was parsed from (`undefined` where there is none), for a source
   * that decodes JSON: a sink writing JSON writes a record that no step replaced as this text
   * (see `Batch.texts`).
   */
  texts?: (string | undefined)[];
  /** Inputs that could not be decoded; they count as records in. */
  failures?: DecodeFailure[];
  /**
   * For a reader that multiplexes several upstream partitions (a Kafka consumer): the partition
   * these records come from. Each such partition has its own watermark; `position()` still
   * covers them all.
   */
  partition?: string;
  /** Upstream partitions this reader no longer reads (revoked in a rebalance). */
  revoked?: readonly string[];
  /**
   * Upstream partitions newly given to this reader (assigned in a rebalance), reported before
   * any of their records. Until such a partition reads records or goes idle, it holds the
   * watermark back, so the records of a partition read later are not late.
   */
  assigned?: readonly string[];
}

/** A resumable reader of one source partition. */
export interface SourceReader {
  /** Stable partition id (a file path, a Kafka `topic/partition`, …); names its position. */
  readonly partition: string;
  /**
   * Resolves with the next batch of at most `max` records; with an empty batch when nothing
   * arrived within about `idleMs` (so the runtime can advance time); with `null` when the input
   * has ended for good. Rejects only on errors the runtime should retry or report.
   */
  read(max: number, signal: AbortSignal): Promise<SourceBatch | null>;
  /**
   * The position just after the last record returned by `read`: JSON-serializable, cheap, no I/O.
   * Passed back to `open` as `restored` after a restart.
   */
  position(): unknown;
  /** Called once a checkpoint containing `position` is durable; commit upstream here. */
  commit?(position: unknown): Promise<void>;
  /**
   * For a reader that holds input it has acknowledged (an ingest endpoint): called once when the
   * job stops gracefully. It stops taking new input; its reads then return what it holds and
   * `null` once it holds nothing, so the final checkpoint covers everything it acknowledged. A
   * reader without it is simply not read again.
   */
  drain?(): void;
  close(): Promise<void>;
}

/** What a source gets when the job starts. */
export interface SourceContext {
  /** Source id in the pipeline. */
  readonly id: string;
  /**
   * Name of the pipeline the source belongs to; with `id` it names durable external identities
   * (e.g. a Kafka consumer's static group membership) that must stay the same across restarts.
   * Absent when a source is used outside a job.
   */
  readonly pipeline?: string;
  /** Positions from the checkpoint being restored, by partition id. */
  readonly restored: { readonly [partition: string]: unknown };
  readonly clock: Clock;
  /** Directory relative paths in the config resolve against (the pipeline file's folder). */
  readonly baseDir: string;
  readonly signal: AbortSignal;
  readonly log: Logger;
  /**
   * A folder inside the job's checkpoint folder for this source's own durable state (a
   * write-ahead log): `<checkpoint dir>/<pipeline>/sources/<source id>`, not created yet. Absent
   * when the source is opened outside a job.
   */
  readonly stateDir?: string;
  /** How many completed checkpoints the job keeps: a restore may fall back to the oldest. */
  readonly keepCheckpoints?: number;
  /**
   * Asks the job for a checkpoint soon (after the batch being read is pushed), for a source
   * that answers its clients only once a checkpoint covers their records.
   */
  readonly requestCheckpoint?: () => void;
}

export interface Source {
  /** Opens the partition readers, resuming each from `ctx.restored` when present. */
  open(ctx: SourceContext): Promise<SourceReader[]>;
}

/** A record a sink refused for good (bad data, not an outage); it goes to the dead-letter output. */
export interface SinkRejection {
  /** Index of the record in the batch given to `write`. */
  index: number;
  message: string;
}

export interface SinkContext {
  readonly id: string;
  /**
   * Name of the pipeline the sink belongs to; with `id` it names durable external resources
   * (e.g. a Kafka transactional id) that must stay the same across restarts. Absent when a sink
   * is used outside a job.
   */
  readonly pipeline?: string;
  /** What `prepareCommit` returned at the checkpoint being restored, if any. */
  readonly restored: unknown;
  readonly clock: Clock;
  readonly baseDir: string;
  readonly signal: AbortSignal;
  readonly log: Logger;
}

export interface Sink {
  open(ctx: SinkContext): Promise<void>;
  /**
   * Writes records (in order). Resolves when the sink has taken them (it may buffer); returns
   * the records it rejected for good. Rejects on transient failures after its own retries.
   * `texts`, when given, holds for some records the JSON text the record was read as (it parses
   * to the record): a sink writing JSON may write it as it is rather than serialize the record.
   * `kinds`, when given, holds each record's row kind (see `Batch.kinds`; absent: all inserts).
   * Only a sink whose spec declares a `changelog` for its config is given updating records; an
   * UPDATE_BEFORE and the UPDATE_AFTER that follows it in its batch reach the same `write`.
   */
  write(
    records: Row[],
    times: number[],
    texts?: readonly (string | undefined)[],
    kinds?: readonly RowKind[],
  ): Promise<SinkRejection[] | undefined>;
  /**
   * At a checkpoint: make everything written so far durable (flush, fsync, pre-commit a
   * transaction) and return the state needed to finish or undo it after a crash.
   */
  prepareCommit?(checkpointId: number): Promise<unknown>;
  /** The checkpoint is durable: publish what `prepareCommit` prepared. */
  commit?(checkpointId: number): Promise<void>;
  /**
   * A clean end: every bounded input ended, or a graceful stop after its final checkpoint.
   * Flush and publish everything written, then release resources. Called once, after every
   * `write` has settled; never after `abort`.
   */
  close(): Promise<void>;
  /**
   * The job failed, or could not start: release resources without publishing anything a
   * completed checkpoint does not cover. What was written since the last `commit` (an open
   * transaction, an in-progress file, parts prepared for a checkpoint that may not be durable)
   * stays unpublished: discarded now, or left for the next `open` to finish or undo from its
   * `restored` state. Called instead of `close`, at most once, possibly while a `write` is still
   * running (the sink's signal is aborted first); it should not throw. A sink without `abort`
   * is closed with `close()` on failure too, so a sink whose `close` publishes pending output
   * must implement it.
   */
  abort?(): Promise<void>;
}

/** Structured log sink handed to connectors. Never pass secrets in `fields`. */
export interface Logger {
  debug(message: string, fields?: { [k: string]: unknown }): void;
  info(message: string, fields?: { [k: string]: unknown }): void;
  warn(message: string, fields?: { [k: string]: unknown }): void;
  error(message: string, fields?: { [k: string]: unknown }): void;
}

/** A logger that prints nothing. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
