/**
 * The connector contract (version 2): how sources read and sinks write.
 *
 * Sources. A source opens one `SourceReader` per partition (a file, a generator split). Readers
 * return batches (`SourceBatch`: records, and for each its offset, source time and JSON text;
 * inputs that did not decode as `failures`, which become dead letters and count as records in),
 * hand their position to checkpoints without I/O (`position()`), and commit upstream — offsets,
 * message acknowledgements — only in `commit(position)`, which the runtime calls once a
 * checkpoint holding that position is durable. A reader that must acknowledge each message keeps
 * its pending acknowledgements itself and asks for an early checkpoint (`requestCheckpoint`) when
 * its window of unacknowledged messages fills. A reader that multiplexes upstream partitions
 * (a Kafka consumer) reports them through its context as the system assigns and revokes them
 * (`partitionsAssigned`, `partitionsRevoked`), names each batch's partition, and gets one
 * watermark per partition.
 *
 * Sinks. A sink writes batches (`write(batch)`, a `SinkBatch`: records, event times, row kinds of
 * a changelog, the keys of an upstream `key_by`, JSON texts) and returns the records it refuses
 * for good (dead letters, with the reason); it throws only on failures its own retries could not
 * fix. When it can, it takes part in the checkpoint: `prepareCommit` makes its writes
 * durable-but-pending and returns what a restart needs to finish or undo them, `commit`
 * publishes them once the checkpoint is durable, `abort` (a failed job) publishes nothing the
 * last completed checkpoint does not cover.
 *
 * Guarantees. Each source and sink spec declares its delivery guarantee (`SourceSpec.delivery`,
 * `SinkSpec.delivery`; `spec.ts`), and the conformance suites of `@sluice/core/testing`
 * (`sinkConformance`, `sourceConformance`) hold every connector to this contract and to the
 * guarantee it declares, against its real system.
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
  /**
   * The kind of each record (`RowKind`), for a source whose spec declares a changelog
   * (`SourceSpec.changelog`); absent: every record is an INSERT.
   */
  kinds?: RowKind[];
  /** Inputs that could not be decoded; they count as records in. */
  failures?: DecodeFailure[];
  /**
   * For a reader that multiplexes several upstream partitions (a Kafka consumer): the partition
   * these records come from, announced before with `SourceContext.partitionsAssigned`. Each such
   * partition has its own watermark; `position()` still covers them all.
   */
  partition?: string;
  /**
   * For a reader whose input carries its own event-time progress (a repartition topic, whose
   * upstream tasks write their watermarks into it): the watermark of the batch's partition after
   * its records, which then replaces the one the runtime derives from event times (the records'
   * times move no watermark of this partition). Never lower than an earlier batch's.
   */
  watermark?: number;
  /**
   * With `watermark`: the partition's watermark before each record (parallel to `records`), for
   * a reader whose watermark moves within the batch; absent: the watermark before the batch.
   */
  watermarks?: number[];
}

/**
 * A resumable reader of one source partition.
 *
 * Acknowledgements: a reader whose system wants each message acknowledged (AMQP delivery tags,
 * MQTT packet ids, JetStream or Redis stream ids) keeps what it has handed out but not yet
 * acknowledged, in order, beside the position it belongs to. It acknowledges nothing when `read`
 * returns nor at `position()`; it acknowledges in `commit(position)`, everything up to that
 * position and nothing after it, because only then is a checkpoint that covers those records
 * durable: a crash before it replays them (from the system's redelivery or from the restored
 * position), a crash after it does not. A reader whose window of unacknowledged messages is about
 * to fill (a broker's prefetch or max-ack-pending) calls `SourceContext.requestCheckpoint` rather
 * than stall until the next periodic checkpoint; what it still cannot take it leaves upstream
 * (backpressure), never acknowledges early, and never drops.
 */
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
   * Passed back to `open` as `restored` after a restart. The runtime takes it after each `read`,
   * so it must describe exactly the records returned so far (not ones buffered or fetched ahead).
   */
  position(): unknown;
  /**
   * Called once a checkpoint containing `position` (a value this reader's `position()` returned)
   * is durable: commit offsets and acknowledge messages upstream up to it, here and nowhere else.
   * Called in checkpoint order, possibly with a position older than the newest `read`; a reader
   * must not acknowledge beyond it. A failure is best logged and left to the next checkpoint (the
   * checkpoint holds the position); a rejection fails the job.
   */
  commit?(position: unknown): Promise<void>;
  /**
   * For a reader that holds input it has acknowledged (an ingest endpoint): called once when the
   * job stops gracefully. It stops taking new input; its reads then return what it holds and
   * `null` once it holds nothing, so the final checkpoint covers everything it acknowledged. A
   * reader without it is simply not read again.
   */
  drain?(): void;
  /**
   * How far this reader trails its system, for the job's metrics (`JobMetrics.sources[id].lag`):
   * by upstream partition (a Kafka `topic/partition`, or the reader's own `partition` id), how
   * many records (Kafka: high watermark − position) or bytes (a replication slot's WAL behind the
   * server) are still to read. The runtime polls it every `JobOptions.lagInterval` while the job
   * runs, never two at a time for one reader, and only for metrics: it never changes what is read.
   * Resolves with undefined when the lag is not known yet; a rejection is logged and the last
   * value kept. Optional: a reader of a system that cannot say (a push API) leaves it out.
   */
  lag?(signal: AbortSignal): Promise<SourceLag | undefined>;
  close(): Promise<void>;
}

/** What `SourceReader.lag` reports: the lag of each upstream partition, in `unit`. */
export interface SourceLag {
  /** `records`: messages still to read; `bytes`: log bytes still to read (a WAL). */
  readonly unit: 'records' | 'bytes';
  readonly partitions: { readonly [partition: string]: number };
}

/** One task of a scaled-out pipeline: a whole instance of its graph over one partition number. */
export interface TaskIdentity {
  /** The partition number of the pipeline's (co-partitioned) source topics this task reads. */
  readonly partition: number;
  /**
   * Which part of the task this job is, when the pipeline regroups through a repartition topic
   * and each task runs as two jobs: absent for the part reading the source partition,
   * `after-<step>` for the part after the topic. Whatever is named per task (local folders, a
   * Kafka transactional id) is named per part too, so that the two parts never share one.
   */
  readonly part?: string;
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
  /**
   * Set when the job is one task of a scaled-out pipeline (see `JobOptions.task`): the upstream
   * partition number this instance of the pipeline owns. A source that can be split by partition
   * reads only that partition of each of its topics; a sink names per-task resources (a Kafka
   * transactional id) after it. Absent in a single-process job.
   */
  readonly task?: TaskIdentity;
  /** How many completed checkpoints the job keeps: a restore may fall back to the oldest. */
  readonly keepCheckpoints?: number;
  /**
   * Asks the job for a checkpoint soon (after the batch being read is pushed): for a source that
   * answers its clients only once a checkpoint covers their records, and for a reader whose
   * window of unacknowledged messages is filling (see `SourceReader`), so that `commit` comes
   * before the system stops delivering. Cheap to call often: requests coalesce into one
   * checkpoint. Absent outside a job.
   */
  readonly requestCheckpoint?: () => void;
  /**
   * For a reader that multiplexes upstream partitions (a Kafka consumer): the system gave reader
   * `reader` (its `partition` id) these partitions. Call it before `read` returns any of their
   * records; the runtime registers each at once, and from then on it holds the source's watermark
   * back until it reads records or goes idle, so the records of a partition read later are not
   * late. Calling it again for a partition already assigned does nothing. Absent outside a job.
   */
  readonly partitionsAssigned?: (reader: string, partitions: readonly string[]) => void;
  /**
   * The system took these partitions from reader `reader` (a rebalance). The runtime drops their
   * watermarks at once, so they stop holding the source back. The reader stops returning their
   * records and leaves them out of later `position()`s and commits; a batch of one of them that
   * `read` returned before still counts (its records were read), but does not bring its
   * watermark back — only `partitionsAssigned` does. Absent outside a job.
   */
  readonly partitionsRevoked?: (reader: string, partitions: readonly string[]) => void;
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

/**
 * A record of an earlier write that a sink refused after that write had resolved (a sink that
 * streams its writes learns of a refusal later): the record itself, as the write's batch is gone.
 */
export interface LateRejection {
  readonly record: Row;
  /** Its event time, epoch ms (`SinkBatch.times`). */
  readonly time: number;
  /** Its row kind when the write carried kinds. */
  readonly kind?: RowKind;
  readonly message: string;
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
  /**
   * A folder inside the job's checkpoint folder for this sink's own files (a socket it serves
   * queries on): `<checkpoint dir>/<pipeline>/sinks/<sink id>`, not created yet. Absent when the
   * sink is opened outside a job.
   */
  readonly stateDir?: string;
  /**
   * Set when the job is one task of a scaled-out pipeline (see `JobOptions.task`): the upstream
   * partition number this instance of the pipeline owns. A source that can be split by partition
   * reads only that partition of each of its topics; a sink names per-task resources (a Kafka
   * transactional id) after it. Absent in a single-process job.
   */
  readonly task?: TaskIdentity;
}

/**
 * What one `Sink.write` receives: records and what the runtime knows of each, in parallel
 * arrays (`records[i]`, `times[i]`, `kinds?.[i]`, `keys?.[i]`, `texts?.[i]` describe one record).
 * The arrays belong to the runtime: a sink reads them during `write` and must neither change
 * them nor keep them past it (copy what it buffers). The object may be a pipeline `Batch` with
 * more fields than these; a sink reads only these.
 */
export interface SinkBatch {
  readonly records: readonly Row[];
  /** Event time of each record, epoch ms. */
  readonly times: readonly number[];
  /**
   * Each record's row kind (`RowKind`: INSERT, UPDATE_BEFORE, UPDATE_AFTER, DELETE). Absent: all
   * inserts. Present only for a sink whose spec's `changelog` accepts an updating stream for its
   * config; an UPDATE_BEFORE and the UPDATE_AFTER that follows it are in the same batch.
   */
  readonly kinds?: readonly RowKind[];
  /**
   * The grouping key of each record when an upstream step grouped the stream (`key_by`, a keyed
   * aggregate's results): the encoded key string that names its state. Read the value with
   * `decodeKey(keys[i])` (one key value as itself, several as an array; see `operators/key.ts`).
   * Absent: the stream is not grouped. A sink with a `key` option of its own computes that from
   * the record instead: this is what the pipeline grouped by, offered for sinks that write by key.
   */
  readonly keys?: readonly string[];
  /**
   * For some records, the JSON text the record was read as (it parses to the record; `undefined`
   * for the others): a sink writing JSON may write it as it is rather than serialize the record
   * again (see `Batch.texts`).
   */
  readonly texts?: readonly (string | undefined)[];
  /**
   * For a sink that takes watermarks (`Sink.takesWatermarks`): the watermark of the sink's input
   * after these records — every later record of the input has a later event time or is late.
   * Such a sink also gets writes of no records when only the watermark moved.
   */
  readonly watermark?: number;
  /**
   * With `watermark`: whether the sink's input is idle — no source upstream of it has read a
   * record for its idle timeout, so its watermark stands still without holding anything back.
   */
  readonly idle?: boolean;
}

export interface Sink {
  /**
   * Set by a sink that passes event-time progress on (a repartition topic's writer): its writes
   * carry `SinkBatch.watermark`, including writes of no records when only the watermark moved.
   */
  readonly takesWatermarks?: boolean;
  open(ctx: SinkContext): Promise<void>;
  /**
   * Writes a batch (in order). Resolves when the sink has taken it (it may buffer until
   * `prepareCommit`), with the records it refused for good — by index into `batch.records`, each
   * with the reason; they go to the dead-letter output while the rest of the batch is written.
   * Rejects on transient failures after its own retries: the job then fails and restarts from
   * its last checkpoint. Never called concurrently with itself, `prepareCommit` or `commit`.
   */
  write(batch: SinkBatch): Promise<SinkRejection[] | undefined>;
  /**
   * At a checkpoint: make everything written so far durable (flush, fsync, pre-commit a
   * transaction) and return the state needed to finish or undo it after a crash.
   */
  prepareCommit?(checkpointId: number): Promise<unknown>;
  /**
   * For a sink that learns of refused records only after their `write` resolved: the records it
   * refused for good since the last call, each once, with the reason. The runtime calls it after
   * every `write`, after `prepareCommit` (so a checkpoint's dead letters include every refusal
   * of the records it covers) and after `close`, and sends them to the dead-letter output. Such a
   * sink finds every refusal of the records written before `prepareCommit` or `close` by the
   * time that resolves. A sink that refuses only through `write`'s result leaves it out.
   */
  takeRejections?(): LateRejection[] | undefined;
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
