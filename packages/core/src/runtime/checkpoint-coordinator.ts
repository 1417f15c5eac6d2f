/**
 * Checkpoint coordination for a job: restoring the newest checkpoint on open, and taking
 * checkpoints while it runs.
 *
 * A checkpoint pauses the read loops at a batch boundary, drains the sinks, pre-commits them,
 * snapshots positions, operator state, counters and watermark synchronously, resumes the loops,
 * writes the encoded snapshot to the store, and only then lets sinks, source readers and
 * operators commit. The coordinator works against the `CheckpointStore` interface; which store
 * (the local directory by default) is the job's choice.
 */

import {
  type CheckpointData,
  type CheckpointStore,
  encodeCheckpoint,
  fingerprintChanges,
  type LatestCheckpoint,
  missingComponents,
  type PipelineFingerprint,
} from '../checkpoint/index.ts';
import type { Logger } from '../connector.ts';
import { SluiceError, toSluiceError } from '../errors.ts';
import type { Clock } from '../time.ts';
import type { Node } from './graph.ts';
import type { KeyedStateSnapshot } from './keyed-state.ts';
import type { SinkRunner } from './sink-runner.ts';
import type { SourceRuntime } from './source-runtime.ts';
import type { WatermarkTracker } from './watermarks.ts';

/** The parts of a job a checkpoint covers. Read at each checkpoint, so they may fill in after construction. */
export interface CheckpointedParts {
  /** Operators in topological order. */
  readonly nodes: readonly Node[];
  readonly sources: readonly SourceRuntime[];
  /** Sink queues in the order they are drained: sinks, then the late output, then dead letters. */
  runners(): Iterable<SinkRunner>;
  /** Every counter under its stable name (`flattenCounters`). */
  counters(): { [name: string]: number };
  readonly watermarks: WatermarkTracker;
}

export interface CheckpointCoordinatorOptions {
  /** The pipeline's name, checked on restore and written into each checkpoint. */
  pipeline: string;
  /** Milliseconds between periodic checkpoints; 0 takes none but those asked for. */
  interval: number;
  /** What this job's checkpoints belong to; checked on restore, written into each checkpoint. */
  fingerprint: PipelineFingerprint;
  /** Ignore existing checkpoints (unreadable ones are still set aside). */
  fromScratch: boolean;
  clock: Clock;
  log: Logger;
  /** Called when a checkpoint started in the background fails. */
  fail(error: SluiceError): void;
}

/** One completed checkpoint, as `Job.checkpointHistory()` reports it. */
export interface CheckpointSummary {
  id: number;
  /** Processing time it started and completed at, epoch ms. */
  startedAt: number;
  completedAt: number;
  /** `completedAt - startedAt`: snapshot, write and commits. */
  durationMs: number;
  /** Size of the encoded checkpoint. */
  bytes: number;
  /** The final checkpoint of a job whose bounded sources all ended. */
  completed: boolean;
}

/** The encoded size of one part of a checkpoint. */
export interface StateSize {
  /** Bytes it takes in the checkpoint as encoded (before the file's header). */
  bytes: number;
  /**
   * For a step with keyed state: how many keys its largest keyed map holds (a map has one entry
   * per key). Absent where the runtime cannot tell (state an operator or sink keeps itself).
   */
  keys?: number;
}

/** What each source, step and sink put into a checkpoint, measured as it was encoded. */
export interface StateSizes {
  /** The checkpoint measured. */
  checkpointId: number;
  /** Each source's positions. */
  sources: { [id: string]: StateSize };
  /** Each step's snapshot and keyed state together; steps without state are absent. */
  steps: { [id: string]: StateSize };
  /** Each sink's pending state (a view's rows, a file sink's parts); sinks without are absent. */
  sinks: { [id: string]: StateSize };
}

/** How many completed checkpoints `history` keeps. */
const HISTORY = 50;

/** Restores a job's checkpoint and takes its checkpoints, one at a time. */
export class CheckpointCoordinator {
  readonly #options: CheckpointCoordinatorOptions;
  readonly #parts: CheckpointedParts;
  #store: CheckpointStore | undefined;
  #checkpointId = 0;
  #lastCheckpointAt: number | undefined;
  #lastCheckpointId: number | undefined;
  #checkpointing: Promise<void> | undefined;
  #nextCheckpointAt = Number.POSITIVE_INFINITY;
  /** A source asked for a checkpoint while one ran: take another right after it. */
  #checkpointAgain = false;
  readonly #history: CheckpointSummary[] = [];
  #stateSizes: StateSizes | undefined;
  #paused = false;
  #resume: (() => void) | undefined;
  #resumed: Promise<void> = Promise.resolve();

  constructor(options: CheckpointCoordinatorOptions, parts: CheckpointedParts) {
    this.#options = options;
    this.#parts = parts;
  }

  /** Whether read loops must wait (for `resumed`) before pushing the batch they hold. */
  get paused(): boolean {
    return this.#paused;
  }

  /** Resolves when the checkpoint that paused the read loops has taken its snapshot. */
  get resumed(): Promise<void> {
    return this.#resumed;
  }

  /** When the last checkpoint completed, and its id (undefined before the first). */
  get lastCheckpointAt(): number | undefined {
    return this.#lastCheckpointAt;
  }

  get lastCheckpointId(): number | undefined {
    return this.#lastCheckpointId;
  }

  /** The last completed checkpoints (at most 50), oldest first. */
  get history(): readonly CheckpointSummary[] {
    return this.#history;
  }

  /** What each part of the last completed checkpoint took (undefined before the first). */
  get stateSizes(): StateSizes | undefined {
    return this.#stateSizes;
  }

  /** The checkpoint in progress, if any. */
  get inProgress(): Promise<void> | undefined {
    return this.#checkpointing;
  }

  /**
   * Prepares `store` (creating it and taking its writer lock) and restores its newest checkpoint:
   * resolves with its data, or undefined to start from scratch. Unreadable checkpoints are set
   * aside. Rejects with CHECKPOINT_INCOMPATIBLE when the checkpoint belongs to another pipeline,
   * and with the store's errors (CHECKPOINT_LOCKED, CHECKPOINT_CORRUPT, IO_ERROR). The store is
   * released by `close`, also after a failed open.
   */
  async open(store: CheckpointStore): Promise<CheckpointData | undefined> {
    this.#store = store;
    await store.prepare();
    const restored = await this.#restore(store);
    if (restored)
      this.#parts.watermarks.restoreFrom(
        restored.watermark,
        restored.partitionTimes,
        restored.sourceWatermarks,
      );
    return restored;
  }

  async #restore(store: CheckpointStore): Promise<CheckpointData | undefined> {
    const log = this.#options.log;
    const pipeline = this.#options.pipeline;
    if (this.#options.fromScratch) {
      for (const s of await store.unreadable()) await this.#setAside(store, s);
      log.info('starting from scratch: existing checkpoints are ignored');
      return undefined;
    }
    // Rejects when checkpoints exist but none can be read: starting over would lose them silently.
    const latest = await store.latest();
    if (!latest) return undefined;
    for (const s of latest.skipped) await this.#setAside(store, s);
    const data = latest.data;
    if (data.pipeline !== pipeline) {
      throw new SluiceError(
        'CHECKPOINT_INCOMPATIBLE',
        `checkpoint ${latest.file} belongs to pipeline '${data.pipeline}', not '${pipeline}'; run with --from-scratch or use another checkpoint dir`,
      );
    }
    if (data.counters?.completed === 1) {
      log.info('the previous run completed; starting from scratch', { checkpoint: latest.file });
      return undefined;
    }
    this.#checkFingerprint(latest);
    this.#checkpointId = data.id;
    if (latest.skipped.length > 0) {
      log.warn(
        'restoring an older checkpoint: sinks take back what the unreadable ones published, and the replay writes it again',
        { checkpoint: latest.file, id: data.id, unreadable: latest.skipped.length },
      );
    }
    log.info('restored checkpoint', { checkpoint: latest.file, id: data.id });
    return data;
  }

  /**
   * Refuses (CHECKPOINT_INCOMPATIBLE) a checkpoint taken by a pipeline whose sources or stateful
   * steps differ from this one's (see `checkpoint/fingerprint.ts` for the rule).
   */
  #checkFingerprint(latest: LatestCheckpoint): void {
    const { data } = latest;
    const fingerprint = this.#options.fingerprint;
    let changes: string[];
    if (data.fingerprint === undefined) {
      this.#options.log.warn(
        'the checkpoint has no fingerprint (written by an older Sluice): only its ids are checked',
        { checkpoint: latest.file },
      );
      changes = missingComponents(data, fingerprint);
    } else {
      changes = fingerprintChanges(data.fingerprint, fingerprint);
    }
    if (changes.length === 0) return;
    throw new SluiceError(
      'CHECKPOINT_INCOMPATIBLE',
      `checkpoint ${latest.file} was taken by a different pipeline: ${changes.join('; ')}. Its positions and ` +
        'state do not fit this pipeline. Run with --from-scratch to start over (output is written again), ' +
        'or give this pipeline a checkpoint folder of its own (settings.checkpoint.dir) or another name',
    );
  }

  /** Moves an unreadable checkpoint aside (never deleted: it is the evidence), saying so. */
  async #setAside(store: CheckpointStore, unreadable: { file: string; reason: string }): Promise<void> {
    const to = await store.setAside(unreadable.file);
    this.#options.log.warn('an unreadable checkpoint was moved aside', {
      file: unreadable.file,
      to,
      reason: unreadable.reason,
    });
  }

  /** Starts the periodic schedule: the first checkpoint is due one interval from now. */
  schedule(): void {
    const { interval, clock } = this.#options;
    this.#nextCheckpointAt = interval > 0 ? clock.now() + interval : Number.POSITIVE_INFINITY;
  }

  /**
   * Starts a checkpoint in the background when one is due and none is running (not while the job
   * stops: its final checkpoint follows). A failure goes to `fail`. Called at batch boundaries.
   */
  startIfDue(stopping: boolean): void {
    if (this.#checkpointing || stopping || this.#options.clock.now() < this.#nextCheckpointAt) return;
    this.take(false).catch((err) => this.#options.fail(toSluiceError(err, 'IO_ERROR')));
  }

  /** A source asked for a checkpoint: the next batch boundary takes one (or right after the one running). */
  request(): void {
    if (this.#checkpointing) this.#checkpointAgain = true;
    else this.#nextCheckpointAt = Math.min(this.#nextCheckpointAt, this.#options.clock.now());
  }

  /**
   * Takes a checkpoint after any in progress; `completed` marks the end of a finished bounded job.
   * A completed checkpoint with `interval` 0 holds no operator or keyed state: nothing restores it.
   */
  take(completed: boolean): Promise<void> {
    if (this.#checkpointing) return this.#checkpointing.then(() => this.take(completed));
    const { clock, interval } = this.#options;
    const p = this.#takeCheckpoint(completed).finally(() => {
      this.#checkpointing = undefined;
      if (interval > 0) this.#nextCheckpointAt = clock.now() + interval;
      if (this.#checkpointAgain) {
        this.#checkpointAgain = false;
        this.#nextCheckpointAt = clock.now();
      }
    });
    this.#checkpointing = p;
    return p;
  }

  async #takeCheckpoint(completed: boolean): Promise<void> {
    const parts = this.#parts;
    const { clock, log } = this.#options;
    const id = ++this.#checkpointId;
    const startedAt = clock.now();
    this.#paused = true;
    this.#resumed = new Promise((r) => {
      this.#resume = r;
    });
    let bytes: Uint8Array;
    let sizes: StateSizes;
    try {
      // Asynchronous steps first, in topological order: what they emit goes on to the sinks.
      for (const node of parts.nodes) await node.operator.async?.drain();
      // Sinks before the outputs: draining a sink may dead-letter its rejections.
      for (const runner of parts.runners()) await runner.drain();
      const sinks: CheckpointData['sinks'] = {};
      for (const runner of parts.runners()) {
        // Again: a sink prepared before this one may have dead-lettered records of earlier writes.
        await runner.drain();
        if (runner.sink.prepareCommit) sinks[runner.id] = await runner.prepareCommit(id);
        // Records flow again before the commit: the sink's next write waits for it.
        runner.holdWrites();
      }
      const operators: CheckpointData['operators'] = {};
      const keyedState: NonNullable<CheckpointData['keyedState']> = {};
      // The final checkpoint of a completed job is never restored (a new run starts from
      // scratch); with checkpointing off it exists only for the sinks' commits and the sources'
      // acknowledgements, so the operators' state is not encoded (a regular join's is every row).
      const withState = !(completed && this.#options.interval === 0);
      for (const node of withState ? parts.nodes : []) {
        if (node.operator.snapshot) operators[node.id] = node.operator.snapshot();
        if (node.keyedState?.used) keyedState[node.id] = node.keyedState.snapshot();
      }
      const sources: CheckpointData['sources'] = {};
      for (const src of parts.sources) sources[src.id] = { ...src.positions };
      const counters = parts.counters();
      if (completed) counters.completed = 1;
      // Operator snapshots are live structures: they are serialized here, before anything runs.
      const measured = { sources: {}, operators: {}, keyedState: {}, sinks: {} };
      bytes = encodeCheckpoint(
        {
          id,
          pipeline: this.#options.pipeline,
          createdAt: clock.now(),
          watermark: parts.watermarks.current,
          sources,
          operators,
          keyedState,
          sinks,
          counters,
          partitionTimes: parts.watermarks.maxTimes(),
          sourceWatermarks: parts.watermarks.sourceWatermarks(),
          stepWatermarks: Object.fromEntries(parts.nodes.map((n) => [n.id, n.watermark])),
          fingerprint: this.#options.fingerprint,
        },
        measured,
      );
      sizes = stateSizes(id, measured, keyedState);
    } catch (err) {
      for (const runner of parts.runners()) runner.releaseWrites();
      throw err;
    } finally {
      this.#paused = false;
      this.#resume?.();
    }
    const positions = parts.sources.map((s) => ({ ...s.positions }));
    try {
      await this.#store!.write(id, bytes);
      for (const runner of parts.runners()) await runner.commit(id);
    } finally {
      // A checkpoint that failed before its commits lets the held writes go (the job fails).
      for (const runner of parts.runners()) runner.releaseWrites();
    }
    for (let i = 0; i < parts.sources.length; i++) {
      for (const r of parts.sources[i].readers) {
        const pos = positions[i][r.partition];
        if (pos !== undefined) await r.commit?.(pos);
      }
    }
    for (const node of parts.nodes) node.operator.onCheckpointComplete?.(id);
    this.#lastCheckpointAt = clock.now();
    this.#lastCheckpointId = id;
    const completedAt = this.#lastCheckpointAt;
    this.#history.push({
      id,
      startedAt,
      completedAt,
      durationMs: completedAt - startedAt,
      bytes: bytes.length,
      completed,
    });
    if (this.#history.length > HISTORY) this.#history.shift();
    this.#stateSizes = sizes;
    log.debug('checkpoint complete', { id, bytes: bytes.length });
  }

  /** Releases the store's writer lock (nothing when the store was never opened). */
  async close(): Promise<void> {
    await this.#store?.close();
  }
}

/**
 * The sizes `encodeCheckpoint` measured, by source, step (its snapshot and keyed state together)
 * and sink, with the keys of each step's keyed state counted from its snapshot (key groups of
 * entries: no walk of the state itself).
 */
function stateSizes(
  checkpointId: number,
  measured: { [part: string]: { [id: string]: number } },
  keyedState: NonNullable<CheckpointData['keyedState']>,
): StateSizes {
  const sized = (part: { [id: string]: number }) => {
    const out: { [id: string]: StateSize } = {};
    for (const [id, bytes] of Object.entries(part)) out[id] = { bytes };
    return out;
  };
  const steps = sized(measured.operators);
  for (const [id, bytes] of Object.entries(measured.keyedState)) {
    steps[id] ??= { bytes: 0 };
    const step = steps[id];
    step.bytes += bytes;
    const { maps } = keyedState[id] as KeyedStateSnapshot;
    let keys = 0;
    for (const groups of Object.values(maps)) {
      let n = 0;
      for (const entries of Object.values(groups)) n += entries.length;
      keys = Math.max(keys, n);
    }
    step.keys = keys;
  }
  return { checkpointId, sources: sized(measured.sources), steps, sinks: sized(measured.sinks) };
}
