/**
 * A running pipeline: sources read, the operator graph runs, sinks write, checkpoints are taken.
 *
 * One source reader is one asynchronous read loop. Each batch it reads is pushed synchronously
 * through the operator graph into the sinks' bounded queues; the loop then waits while any sink
 * queue is full (backpressure). A checkpoint pauses the loops at a batch boundary, drains the
 * sinks, pre-commits them, snapshots positions and operator state synchronously, resumes, writes
 * the snapshot durably, and only then lets sinks and sources commit.
 */

import { join, resolve } from 'node:path';
import {
  type CheckpointData,
  DirectoryCheckpointStore,
  encodeCheckpoint,
  fingerprintChanges,
  fingerprintOf,
  type LatestCheckpoint,
  missingComponents,
  type PipelineFingerprint,
} from '../checkpoint/index.ts';
import type { Logger, SourceBatch, SourceReader } from '../connector.ts';
import { silentLogger } from '../connector.ts';
import { SluiceError, toSluiceError } from '../errors.ts';
import type { Plan, PlanOutput } from '../plan/plan.ts';
import { inComponent, resolvePlan, withLocation } from '../plan/resolve.ts';
import type { Registry } from '../registry.ts';
import { type Clock, END_OF_TIME, systemClock } from '../time.ts';
import { timeAssigner } from './event-time.ts';
import { DEAD_LETTER, LATE_OUTPUT, OutputRouter } from './failure-router.ts';
import { type Counted, flattenCounters, restoreCounters, sumCounters } from './job-counters.ts';
import type { JobMetrics } from './metrics.ts';
import { buildOperatorGraph, type OperatorGraph } from './operator-graph.ts';
import { SinkRunner } from './sink-runner.ts';
import { SourceRuntime } from './source-runtime.ts';
import { type PartitionSettings, WatermarkTracker } from './watermarks.ts';

export interface JobOptions {
  registry: Registry;
  clock?: Clock;
  log?: Logger;
  /** Ignore existing checkpoints and start from the beginning of every source. */
  fromScratch?: boolean;
  /** Functions of TypeScript-API steps, by step id. */
  functions?: ReadonlyMap<string, unknown>;
  /** Aborting it stops the job gracefully: drain, final checkpoint, close. */
  signal?: AbortSignal;
  /** Milliseconds between time ticks (idle detection, processing-time timers, checkpoints). */
  tickInterval?: number;
}

export interface JobResult {
  /** `completed`: every bounded source ended and all results were flushed; `stopped`: stopped on request. */
  status: 'completed' | 'stopped';
  metrics: JobMetrics;
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A pipeline plan turned into a runnable job. */
export class Job {
  readonly plan: Plan;
  readonly #options: JobOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #graph: OperatorGraph;
  readonly #outputs: OutputRouter;
  readonly #sources: SourceRuntime[] = [];
  readonly #sinks: SinkRunner[] = [];
  readonly #abort = new AbortController();
  /** The sinks' signal: aborted when the job fails, not on a graceful stop (sinks must drain). */
  readonly #sinkAbort = new AbortController();
  readonly #watermarks = new WatermarkTracker();
  /** Each source's bound and idle timeout, for the partitions its readers announce. */
  readonly #partitionSettings = new Map<string, PartitionSettings>();
  /** Greatest event time of each partition at the restored checkpoint. */
  #restoredTimes: { [partition: string]: number } = {};
  #store: DirectoryCheckpointStore | undefined;
  /** Set by the first `run()` or `discard()`: a job runs once. */
  #ran = false;
  /** What this job's checkpoints belong to; checked on restore, written into each checkpoint. */
  readonly #fingerprint: PipelineFingerprint;
  #checkpointId = 0;
  #lastCheckpointAt: number | undefined;
  #lastCheckpointId: number | undefined;
  #checkpointing: Promise<void> | undefined;
  #nextCheckpointAt = Number.POSITIVE_INFINITY;
  /** A source asked for a checkpoint while one ran: take another right after it. */
  #checkpointAgain = false;
  #paused = false;
  #resume: (() => void) | undefined;
  #resumed: Promise<void> = Promise.resolve();
  #stopping = false;
  #failure: SluiceError | undefined;

  /** Builds the operator graph; throws on a step whose config does not compile. */
  private constructor(plan: Plan, options: JobOptions) {
    this.plan = plan;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log ?? silentLogger;
    this.#outputs = new OutputRouter(this.#log, this.#clock);
    this.#graph = buildOperatorGraph(
      plan,
      options.registry,
      this.#outputs,
      this.#clock,
      options.functions ?? new Map(),
    );
    this.#fingerprint = fingerprintOf(
      plan,
      options.registry,
      (id) => this.#graph.nodes.get(id)?.operator.snapshot !== undefined,
    );
  }

  /** Checks the plan, builds the operator graph, restores the newest checkpoint and opens sinks and sources. */
  static async create(plan: Plan, options: JobOptions): Promise<Job> {
    const resolved = resolvePlan(plan, options.registry);
    const located = (err: unknown) => (err instanceof SluiceError ? withLocation(resolved, err) : err);
    let job: Job;
    try {
      job = new Job(resolved, options);
    } catch (err) {
      throw located(err);
    }
    try {
      await job.#open();
    } catch (err) {
      await job.#closeQuietly();
      throw located(err);
    }
    return job;
  }

  /**
   * Checks a plan as far as possible without touching any external system: configs, step
   * types, expressions, schemas. Throws the first problem with its file location.
   */
  static async validate(plan: Plan, options: Pick<JobOptions, 'registry' | 'functions'>): Promise<void> {
    const resolved = resolvePlan(plan, options.registry);
    try {
      new Job(resolved, options);
      for (const src of resolved.sources) {
        inComponent(src.id, () => options.registry.source(src.type)!.create(src.config as never));
        timeAssigner(src.id, src.eventTime, systemClock);
      }
      for (const s of resolved.sinks)
        inComponent(s.id, () => options.registry.sink(s.type)!.create(s.config as never));
      const outputs = [
        [DEAD_LETTER, resolved.deadLetter],
        [LATE_OUTPUT, resolved.lateOutput],
      ] as const;
      for (const [id, o] of outputs)
        if (o) inComponent(id, () => options.registry.sink(o.type)!.create(o.config as never));
    } catch (err) {
      throw err instanceof SluiceError ? withLocation(resolved, err) : err;
    }
  }

  get #counted(): Counted {
    const outputs = [this.#outputs.deadLetters, this.#outputs.lateOutput].filter((r) => r !== undefined);
    return { sources: this.#sources, nodes: this.#graph.order, sinks: this.#sinks, outputs };
  }

  /** Restores the newest checkpoint, then opens operators, sinks and (last) sources. */
  async #open(): Promise<void> {
    const { plan } = this;
    const { registry } = this.#options;
    const { checkpoint } = plan.settings;
    this.#store = DirectoryCheckpointStore.forPipeline(resolve(plan.baseDir, checkpoint.dir), plan.name, {
      keep: checkpoint.keep,
      log: this.#log,
    });
    await this.#store.prepare();
    const restored = await this.#restore(this.#store);
    this.#restoredTimes = restored?.partitionTimes ?? {};
    for (const node of this.#graph.order) {
      node.operator.open?.({
        stepId: node.id,
        restored: restored?.operators[node.id],
        clock: this.#clock,
        watermark: () => this.#watermarks.current,
        log: this.#log,
      });
    }

    const openSink = async (id: string, output: PlanOutput): Promise<SinkRunner> => {
      const sink = inComponent(id, () => registry.sink(output.type)!.create(output.config as never));
      await sink.open({
        id,
        pipeline: plan.name,
        restored: restored?.sinks[id],
        clock: this.#clock,
        baseDir: plan.baseDir,
        signal: this.#sinkAbort.signal,
        log: this.#log,
      });
      const capacity = { records: plan.settings.sinkQueueRecords, bytes: plan.settings.sinkQueueBytes };
      return new SinkRunner(id, sink, capacity, (records, times, rejections) =>
        this.#outputs.rejected(id, records, times, rejections),
      );
    };
    if (plan.deadLetter) this.#outputs.deadLetters = await openSink(DEAD_LETTER, plan.deadLetter);
    if (plan.lateOutput) this.#outputs.lateOutput = await openSink(LATE_OUTPUT, plan.lateOutput);
    for (const s of plan.sinks) {
      const runner = await openSink(s.id, s);
      this.#sinks.push(runner);
      const node = this.#graph.nodes.get(s.input);
      if (node) node.sinks.push(runner);
      else this.#graph.sourceTargets.get(s.input)!.sinks.push(runner);
    }

    // Sources last: once open, they may start buffering input.
    const now = this.#clock.now();
    for (const src of plan.sources) {
      const positions = { ...(restored?.sources[src.id] ?? {}) };
      const readers = await registry
        .source(src.type)!
        .create(src.config as never)
        .open({
          id: src.id,
          pipeline: plan.name,
          restored: positions,
          clock: this.#clock,
          baseDir: plan.baseDir,
          signal: this.#abort.signal,
          log: this.#log,
          stateDir: join(this.#store!.dir, 'sources', src.id),
          keepCheckpoints: checkpoint.keep,
          requestCheckpoint: () => this.#requestCheckpoint(),
        });
      const settings: PartitionSettings = {
        bound: src.eventTime?.maxOutOfOrderness ?? 0,
        idleTimeout: src.eventTime?.idleTimeout ?? plan.settings.idleTimeout,
      };
      this.#partitionSettings.set(src.id, settings);
      for (const r of readers) {
        const id = `${src.id}/${r.partition}`;
        this.#watermarks.add(id, settings, now, this.#restoredTimes[id]);
      }
      this.#sources.push(new SourceRuntime(src, readers, positions, this.#clock));
    }
    // Counters continue from the checkpoint, so the accounting identity holds across restarts.
    if (restored?.counters) restoreCounters(this.#counted, restored.counters);
  }

  async #restore(store: DirectoryCheckpointStore): Promise<CheckpointData | undefined> {
    if (this.#options.fromScratch) {
      for (const s of await store.unreadable()) await this.#setAside(store, s);
      this.#log.info('starting from scratch: existing checkpoints are ignored');
      return undefined;
    }
    // Rejects when checkpoints exist but none can be read: starting over would lose them silently.
    const latest = await store.latest();
    if (!latest) return undefined;
    for (const s of latest.skipped) await this.#setAside(store, s);
    const data = latest.data;
    if (data.pipeline !== this.plan.name) {
      throw new SluiceError(
        'CHECKPOINT_INCOMPATIBLE',
        `checkpoint ${latest.file} belongs to pipeline '${data.pipeline}', not '${this.plan.name}'; run with --from-scratch or use another checkpoint dir`,
      );
    }
    if (data.counters?.completed === 1) {
      this.#log.info('the previous run completed; starting from scratch', { checkpoint: latest.file });
      return undefined;
    }
    this.#checkFingerprint(latest);
    this.#checkpointId = data.id;
    this.#watermarks.restore(data.watermark);
    if (latest.skipped.length > 0) {
      this.#log.warn(
        'restoring an older checkpoint: sinks take back what the unreadable ones published, and the replay writes it again',
        { checkpoint: latest.file, id: data.id, unreadable: latest.skipped.length },
      );
    }
    this.#log.info('restored checkpoint', { checkpoint: latest.file, id: data.id });
    return data;
  }

  /**
   * Refuses (CHECKPOINT_INCOMPATIBLE) a checkpoint taken by a pipeline whose sources or stateful
   * steps differ from this one's (see `checkpoint/fingerprint.ts` for the rule).
   */
  #checkFingerprint(latest: LatestCheckpoint): void {
    const { data } = latest;
    let changes: string[];
    if (data.fingerprint === undefined) {
      this.#log.warn(
        'the checkpoint has no fingerprint (written by an older Sluice): only its ids are checked',
        {
          checkpoint: latest.file,
        },
      );
      changes = missingComponents(data, this.#fingerprint);
    } else {
      changes = fingerprintChanges(data.fingerprint, this.#fingerprint);
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
  async #setAside(
    store: DirectoryCheckpointStore,
    unreadable: { file: string; reason: string },
  ): Promise<void> {
    const to = await store.setAside(unreadable.file);
    this.#log.warn('an unreadable checkpoint was moved aside', {
      file: unreadable.file,
      to,
      reason: unreadable.reason,
    });
  }

  /** Runs until every bounded source ends (status `completed`) or the job is stopped. */
  async run(): Promise<JobResult> {
    if (this.#ran) throw new SluiceError('INTERNAL', 'a job runs once: create another to run again');
    this.#ran = true;
    const onAbort = () => this.stop();
    this.#options.signal?.addEventListener('abort', onAbort, { once: true });
    const interval = this.plan.settings.checkpoint.interval;
    this.#nextCheckpointAt = interval > 0 ? this.#clock.now() + interval : Number.POSITIVE_INFINITY;
    const tick = setInterval(() => this.#tick(), this.#options.tickInterval ?? 100);
    let status: JobResult['status'];
    try {
      const loops: Promise<void>[] = [];
      for (const src of this.#sources) for (const r of src.readers) loops.push(this.#readLoop(src, r));
      await Promise.all(loops);
      if (this.#failure) throw this.#failure;
      clearInterval(tick);
      if (this.#checkpointing) await this.#checkpointing;
      if (!this.#stopping && this.#watermarks.allEnded) {
        this.#watermarks.restore(END_OF_TIME);
        this.#advanceWatermarkTo(END_OF_TIME);
        for (const node of this.#graph.order) node.operator.close?.(node);
        await this.#checkpoint(true);
        status = 'completed';
      } else {
        await this.#checkpoint(false);
        status = 'stopped';
      }
      await this.#close();
    } catch (err) {
      this.#abort.abort();
      this.#sinkAbort.abort();
      await this.#closeQuietly();
      throw toSluiceError(err);
    } finally {
      clearInterval(tick);
      this.#options.signal?.removeEventListener('abort', onAbort);
    }
    return { status, metrics: this.metrics() };
  }

  /**
   * Gives back what `create` opened, for a job that will not run: closes its readers, aborts its
   * sinks (publishing nothing) and releases the checkpoint folder's lock. A job that runs does
   * this itself when it ends; stop a running job with `stop()`.
   */
  async discard(): Promise<void> {
    if (this.#ran) throw new SluiceError('INTERNAL', 'discard() is for a job that has not run; use stop()');
    this.#ran = true;
    await this.#closeQuietly();
  }

  /** Stops reading, then drains, checkpoints and closes; `run()` resolves with status `stopped`. */
  stop(): void {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#abort.abort();
  }

  /**
   * Fails the job from outside (e.g. a dead-letter limit): reading stops at once, no final
   * checkpoint is taken, output after the last checkpoint is aborted, and `run()` rejects with
   * `error`. A restart resumes from the last checkpoint. Does nothing once the job has failed.
   */
  fail(error: SluiceError): void {
    this.#fail(error);
  }

  async #readLoop(src: SourceRuntime, reader: SourceReader): Promise<void> {
    const wmId = `${src.id}/${reader.partition}`;
    const subPartitions = new Set<string>();
    // A multiplexing reader: its own placeholder gives way to the partitions it reads, each of
    // which holds the watermark back from then on until it reads records or goes idle.
    // Each is added with its source's bound and idle timeout, and the greatest event time it had
    // at the restored checkpoint, so that it judges its records as it would have without a restart.
    const settings = this.#partitionSettings.get(src.id)!;
    const track = (p: string, now: number) => {
      if (subPartitions.has(p)) return;
      if (subPartitions.size === 0) this.#watermarks.remove(wmId);
      subPartitions.add(p);
      const id = `${src.id}/${p}`;
      if (!this.#watermarks.has(id)) this.#watermarks.add(id, settings, now, this.#restoredTimes[id]);
      else this.#watermarks.observe(id, Number.NEGATIVE_INFINITY, now);
    };
    const batchSize = this.plan.settings.batchSize;
    const watched = this.#graph.watchedSources.has(src.id);
    let attempt = 0;
    // On a graceful stop a reader that holds acknowledged input is read until it is empty.
    let draining = false;
    while (!this.#failure) {
      if (this.#stopping && !draining) {
        if (!reader.drain) break;
        reader.drain();
        draining = true;
      }
      let batch: SourceBatch | null;
      try {
        batch = await reader.read(batchSize, this.#abort.signal);
        attempt = 0;
      } catch (err) {
        if (this.#stopping && !draining) break;
        const e = toSluiceError(err, 'SOURCE_UNAVAILABLE', { step: src.id });
        if (!e.retryable) {
          this.#fail(e);
          break;
        }
        const delay = Math.min(30_000, 200 * 2 ** attempt++) * (0.5 + Math.random() / 2);
        this.#log.warn('source read failed; retrying', {
          source: src.id,
          partition: reader.partition,
          delay,
        });
        await new Promise((r) => setTimeout(r, delay));
        continue;
      }
      if (this.#paused) await this.#resumed;
      if (batch === null) {
        src.positions[reader.partition] = reader.position();
        // Drained for a stop, not ended: the partition must not let the watermark run to +∞.
        if (draining) break;
        this.#watermarks.end(wmId);
        for (const p of subPartitions) this.#watermarks.end(`${src.id}/${p}`);
        break;
      }
      const position = reader.position();
      try {
        const now = this.#clock.now();
        for (const p of batch.revoked ?? []) {
          subPartitions.delete(p);
          this.#watermarks.remove(`${src.id}/${p}`);
        }
        for (const p of batch.assigned ?? []) track(p, now);
        if (batch.partition !== undefined) track(batch.partition, now);
        const partition = batch.partition ?? reader.partition;
        const { batch: ingested, maxTime } = src.ingest(partition, batch, now, (l) =>
          this.#outputs.deadLetter(l),
        );
        const id = batch.partition === undefined ? wmId : `${src.id}/${partition}`;
        // Lateness is decided per record, against the watermark as it stood after the records
        // before it: the batch carries that watermark for each record.
        if (ingested && watched) {
          const watermarks = this.#watermarks.before(id, ingested.times, now);
          if (watermarks) ingested.watermarks = watermarks;
        }
        // An empty read brought no record: it must not keep a quiet partition from going idle.
        if (batch.records.length > 0 || batch.failures?.length) this.#watermarks.observe(id, maxTime, now);
        if (ingested) {
          const targets = this.#graph.sourceTargets.get(src.id)!;
          for (const node of targets.nodes) node.push(ingested);
          for (const sink of targets.sinks) sink.enqueue(ingested.records, ingested.times, ingested.texts);
        }
      } catch (err) {
        this.#fail(toSluiceError(err, 'INTERNAL'));
        break;
      }
      src.positions[reader.partition] = position;
      this.#maybeAdvanceWatermark();
      if (this.#checkpointDue()) this.#startCheckpoint();
      try {
        await this.#backpressure();
        // A source whose reads resolve at once would otherwise starve timers and other sources.
        await yieldToEventLoop();
      } catch (err) {
        this.#fail(toSluiceError(err));
        break;
      }
    }
  }

  #maybeAdvanceWatermark(): void {
    const wm = this.#watermarks.advance(this.#clock.now());
    if (wm !== undefined) this.#advanceWatermarkTo(wm);
  }

  #advanceWatermarkTo(wm: number): void {
    for (const node of this.#graph.order) node.operator.onWatermark?.(wm, node);
  }

  async #backpressure(): Promise<void> {
    for (const runner of this.#allRunners()) if (runner.full) await runner.belowCapacity();
  }

  /** Sinks first, then the late output, then dead letters: the order they are drained in. */
  *#allRunners(): Iterable<SinkRunner> {
    yield* this.#sinks;
    if (this.#outputs.lateOutput) yield this.#outputs.lateOutput;
    if (this.#outputs.deadLetters) yield this.#outputs.deadLetters;
  }

  #tick(): void {
    if (this.#paused || this.#failure) return;
    // A sink that failed while no input arrives would otherwise wait for the next checkpoint.
    for (const runner of this.#allRunners()) {
      if (runner.failure !== undefined) {
        this.#fail(toSluiceError(runner.failure, 'SINK_UNAVAILABLE', { step: runner.id }));
        return;
      }
    }
    try {
      const now = this.#clock.now();
      this.#maybeAdvanceWatermark();
      for (const node of this.#graph.order) node.operator.onProcessingTime?.(now, node);
      if (this.#checkpointDue()) this.#startCheckpoint();
    } catch (err) {
      this.#fail(toSluiceError(err));
    }
  }

  #checkpointDue(): boolean {
    return !this.#checkpointing && !this.#stopping && this.#clock.now() >= this.#nextCheckpointAt;
  }

  /** A source asked for a checkpoint: the next batch boundary takes one (or right after the one running). */
  #requestCheckpoint(): void {
    if (this.#checkpointing) this.#checkpointAgain = true;
    else this.#nextCheckpointAt = Math.min(this.#nextCheckpointAt, this.#clock.now());
  }

  #startCheckpoint(): void {
    this.#checkpoint(false).catch((err) => this.#fail(toSluiceError(err, 'IO_ERROR')));
  }

  /** Takes one checkpoint now. */
  checkpoint(): Promise<void> {
    return this.#checkpoint(false);
  }

  /** Takes a checkpoint after any in progress; `completed` marks the end of a finished bounded job. */
  #checkpoint(completed: boolean): Promise<void> {
    if (this.#checkpointing) return this.#checkpointing.then(() => this.#checkpoint(completed));
    const p = this.#takeCheckpoint(completed).finally(() => {
      this.#checkpointing = undefined;
      const interval = this.plan.settings.checkpoint.interval;
      if (interval > 0) this.#nextCheckpointAt = this.#clock.now() + interval;
      if (this.#checkpointAgain) {
        this.#checkpointAgain = false;
        this.#nextCheckpointAt = this.#clock.now();
      }
    });
    this.#checkpointing = p;
    return p;
  }

  async #takeCheckpoint(completed: boolean): Promise<void> {
    const id = ++this.#checkpointId;
    this.#paused = true;
    this.#resumed = new Promise((r) => {
      this.#resume = r;
    });
    let bytes: Uint8Array;
    try {
      // Sinks before the outputs: draining a sink may dead-letter its rejections.
      for (const runner of this.#allRunners()) await runner.drain();
      const sinks: CheckpointData['sinks'] = {};
      for (const runner of this.#allRunners()) {
        if (runner.sink.prepareCommit) sinks[runner.id] = await runner.sink.prepareCommit(id);
      }
      const operators: CheckpointData['operators'] = {};
      for (const node of this.#graph.order) {
        if (node.operator.snapshot) operators[node.id] = node.operator.snapshot();
      }
      const sources: CheckpointData['sources'] = {};
      for (const src of this.#sources) sources[src.id] = { ...src.positions };
      const counters = flattenCounters(this.#counted);
      if (completed) counters.completed = 1;
      // Operator snapshots are live structures: they are serialized here, before anything runs.
      bytes = encodeCheckpoint({
        id,
        pipeline: this.plan.name,
        createdAt: this.#clock.now(),
        watermark: this.#watermarks.current,
        sources,
        operators,
        sinks,
        counters,
        partitionTimes: this.#watermarks.maxTimes(),
        fingerprint: this.#fingerprint,
      });
    } finally {
      this.#paused = false;
      this.#resume?.();
    }
    const positions = this.#sources.map((s) => ({ ...s.positions }));
    await this.#store!.write(id, bytes);
    for (const runner of this.#allRunners()) await runner.sink.commit?.(id);
    for (let i = 0; i < this.#sources.length; i++) {
      for (const r of this.#sources[i].readers) {
        const pos = positions[i][r.partition];
        if (pos !== undefined) await r.commit?.(pos);
      }
    }
    for (const node of this.#graph.order) node.operator.onCheckpointComplete?.(id);
    this.#lastCheckpointAt = this.#clock.now();
    this.#lastCheckpointId = id;
    this.#log.debug('checkpoint complete', { id, bytes: bytes.length });
  }

  async #close(): Promise<void> {
    try {
      for (const runner of this.#allRunners()) {
        await runner.drain();
        await runner.sink.close();
      }
      for (const src of this.#sources) for (const r of src.readers) await r.close();
    } finally {
      await this.#store?.close();
    }
  }

  /**
   * After a failure (or a failed start): closes readers and aborts sinks, so that nothing a
   * completed checkpoint does not cover is published (`Sink.abort`; `close` for a sink without).
   */
  async #closeQuietly(): Promise<void> {
    for (const src of this.#sources) for (const r of src.readers) await r.close().catch(() => {});
    for (const runner of this.#allRunners()) {
      const { sink } = runner;
      await (sink.abort ? sink.abort() : sink.close()).catch((err: unknown) =>
        this.#log.warn('a sink failed to abort', { sink: runner.id, error: String(err) }),
      );
    }
    await this.#store?.close().catch(() => {});
  }

  #fail(error: SluiceError): void {
    if (!this.#failure) {
      this.#failure = error;
      this.#abort.abort();
      this.#sinkAbort.abort();
    }
  }

  /** Current counters, watermark and checkpoint progress. */
  metrics(): JobMetrics {
    return {
      ...sumCounters(this.#counted),
      watermark: this.#watermarks.current,
      lastCheckpointAt: this.#lastCheckpointAt,
      lastCheckpointId: this.#lastCheckpointId,
    };
  }
}
