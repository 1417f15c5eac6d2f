/**
 * A running pipeline: the lifecycle that wires sources, the operator graph, sinks and
 * checkpoints together.
 *
 * `create` builds the operator graph, restores the newest checkpoint (`CheckpointCoordinator`),
 * opens operators, sinks and, last, sources (`SourceDriver`). `run` drives the read loops and a
 * periodic tick (idle partitions, processing time, due checkpoints) until every bounded source
 * ends or the job is stopped, then takes a final checkpoint and closes. A failure aborts the
 * sinks instead, so nothing a completed checkpoint does not cover is published.
 */

import { join, resolve } from 'node:path';
import {
  type CheckpointStore,
  DirectoryCheckpointStore,
  fingerprintOf,
  pipelineCheckpointDir,
} from '../checkpoint/index.ts';
import type { Logger, TaskIdentity } from '../connector.ts';
import { silentLogger } from '../connector.ts';
import { SluiceError, toSluiceError } from '../errors.ts';
import { sinkInfo } from '../plan/expressions.ts';
import type { Plan } from '../plan/plan.ts';
import { inComponent, resolvePlan, withLocation } from '../plan/resolve.ts';
import type { DeadLetter } from '../record.ts';
import type { Registry } from '../registry.ts';
import { type Clock, END_OF_TIME, systemClock } from '../time.ts';
import { CheckpointCoordinator, type CheckpointSummary, type StateSizes } from './checkpoint-coordinator.ts';
import { type NumberedDeadLetter, type ReplayResult, replayDeadLetters } from './dead-letter-replay.ts';
import { timeAssigner } from './event-time.ts';
import { DEAD_LETTER, LATE_OUTPUT, OutputRouter, RECENT_DEAD_LETTERS } from './failure-router.ts';
import {
  type Counted,
  flattenCounters,
  type JobCounters,
  restoreCounters,
  sumCounters,
} from './job-counters.ts';
import { JobSinks } from './job-sinks.ts';
import { KeyedStateStore } from './keyed-state.ts';
import type { JobMetrics } from './metrics.ts';
import { buildOperatorGraph, type OperatorGraph } from './operator-graph.ts';
import type { SinkTimingListener } from './sink-runner.ts';
import { SourceDriver } from './source-driver.ts';
import { WatermarkTracker } from './watermarks.ts';

/** Where a job's checkpoints go, as given to `JobOptions.checkpointStore`. */
export interface CheckpointStoreContext {
  /** The pipeline's local checkpoint folder, `<settings.checkpoint.dir>/<name>` (absolute). */
  dir: string;
  pipeline: string;
  /** How many checkpoints to keep (`settings.checkpoint.keep`). */
  keep: number;
  log: Logger;
  /** Set when the job is one task of a scaled-out pipeline (`JobOptions.task`). */
  task?: TaskIdentity;
}

/** The default checkpoint store: files in the pipeline's local checkpoint folder, guarded by its LOCK. */
export function localCheckpointStore(ctx: CheckpointStoreContext): CheckpointStore {
  return new DirectoryCheckpointStore(ctx.dir, { keep: ctx.keep, log: ctx.log });
}

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
  /**
   * Makes the store the job's checkpoints are written to and restored from; called once by
   * `create`. Default `localCheckpointStore`. Its `prepare` must refuse a second writer. Sources'
   * local state (write-ahead logs) stays under `ctx.dir` whatever the store.
   */
  checkpointStore?: (ctx: CheckpointStoreContext) => CheckpointStore;
  /**
   * Milliseconds between polls of the sources' lag (`SourceReader.lag`, reported in
   * `JobMetrics.sources[id].lag`); 0 turns polling off. Default 5000: a lag request is a round
   * trip to the system, so it is not asked for at every tick.
   */
  lagInterval?: number;
  /**
   * Runs the job as one task of a scaled-out pipeline (a Kafka worker): sources read only this
   * partition number of their topics, and sinks name per-task resources after it. Local source
   * and sink state goes to `<checkpoint folder>/tasks/<partition>`, so that tasks of one pipeline
   * can run side by side in one process. The checkpoint store should be the task's own
   * (`CheckpointStoreContext.task`). Absent: the single-process job.
   */
  task?: TaskIdentity;
  /**
   * The job is a restart after a failure (see `runWithRestarts`), the caller's `restart`-th: its
   * restart count (`JobMetrics.restarts`, kept in checkpoints) becomes the restored count plus
   * one, or `restart` when greater (restarts that failed before their first checkpoint).
   */
  restart?: number;
}

export interface JobResult {
  /** `completed`: every bounded source ended and all results were flushed; `stopped`: stopped on request. */
  status: 'completed' | 'stopped';
  metrics: JobMetrics;
}

/** Where a job is in its life, as `Job.status` reports it. */
export type JobStatus = 'created' | 'running' | 'stopping' | 'completed' | 'stopped' | 'failed';

/** A pipeline plan turned into a runnable job. */
export class Job {
  readonly plan: Plan;
  readonly #options: JobOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #graph: OperatorGraph;
  readonly #outputs: OutputRouter;
  readonly #sinks: JobSinks;
  readonly #abort = new AbortController();
  /** The sinks' signal: aborted when the job fails, not on a graceful stop (sinks must drain). */
  readonly #sinkAbort = new AbortController();
  readonly #watermarks = new WatermarkTracker();
  readonly #jobCounters: JobCounters = { restarts: 0 };
  readonly #checkpoints: CheckpointCoordinator;
  readonly #sources: SourceDriver;
  /** Set by the first `run()` or `discard()`: a job runs once. */
  #ran = false;
  #stopping = false;
  #failure: SluiceError | undefined;
  #ended: 'completed' | 'stopped' | undefined;
  /** Numbers of the dead letters replayed in this run. */
  readonly #replayed = new Set<number>();
  readonly #sinkTimings = new Set<SinkTimingListener>();

  /** Builds the operator graph; throws on a step whose config does not compile. */
  private constructor(plan: Plan, options: JobOptions) {
    this.plan = plan;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log ?? silentLogger;
    this.#outputs = new OutputRouter(this.#log, this.#clock);
    this.#sinks = new JobSinks(this.#outputs);
    this.#graph = buildOperatorGraph(
      plan,
      options.registry,
      this.#outputs,
      this.#clock,
      options.functions ?? new Map(),
      this.#watermarks,
    );
    const fingerprint = fingerprintOf(
      plan,
      options.registry,
      (id) => this.#graph.nodes.get(id)?.operator.snapshot !== undefined,
    );
    const fail = (error: SluiceError) => this.#fail(error);
    this.#checkpoints = new CheckpointCoordinator(
      {
        pipeline: plan.name,
        interval: plan.settings.checkpoint.interval,
        fingerprint,
        fromScratch: options.fromScratch === true,
        clock: this.#clock,
        log: this.#log,
        fail,
      },
      {
        nodes: this.#graph.order,
        get sources() {
          return sources.sources;
        },
        runners: () => this.#sinks.runners(),
        counters: () => flattenCounters(this.#counted),
        watermarks: this.#watermarks,
      },
    );
    const sources = new SourceDriver(plan, this.#graph, this.#watermarks, this.#clock, this.#log, {
      gate: this.#checkpoints,
      runners: () => this.#sinks.runners(),
      afterBatch: () => {
        this.#maybeAdvanceWatermark();
        this.#checkpoints.startIfDue(this.#stopping);
      },
      deadLetter: (letter) => this.#outputs.deadLetter(letter),
      fail,
      failed: () => this.#failure !== undefined,
      stopping: () => this.#stopping,
    });
    this.#sources = sources;
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
        timeAssigner(src, systemClock);
      }
      for (const s of resolved.sinks)
        inComponent(s.id, () =>
          options.registry
            .sink(s.type)!
            .create(s.config as never, sinkInfo(s.id, s, resolved.keys?.[s.input])),
        );
      const outputs = [
        [DEAD_LETTER, resolved.deadLetter],
        [LATE_OUTPUT, resolved.lateOutput],
      ] as const;
      for (const [id, o] of outputs)
        if (o)
          inComponent(id, () => options.registry.sink(o.type)!.create(o.config as never, sinkInfo(id, o)));
    } catch (err) {
      throw err instanceof SluiceError ? withLocation(resolved, err) : err;
    }
  }

  get #counted(): Counted {
    const sinks = this.#sinks;
    return {
      sources: this.#sources.sources,
      nodes: this.#graph.order,
      sinks: sinks.sinks,
      outputs: sinks.outputs,
      job: this.#jobCounters,
    };
  }

  /** Restores the newest checkpoint, then opens operators, sinks and (last) sources. */
  async #open(): Promise<void> {
    const { plan } = this;
    const { registry } = this.#options;
    const { checkpoint } = plan.settings;
    const { task } = this.#options;
    const pipelineDir = pipelineCheckpointDir(resolve(plan.baseDir, checkpoint.dir), plan.name);
    const dir = task
      ? join(pipelineDir, 'tasks', String(task.partition), ...(task.part === undefined ? [] : [task.part]))
      : pipelineDir;
    const makeStore = this.#options.checkpointStore ?? localCheckpointStore;
    const store = makeStore({
      dir,
      pipeline: plan.name,
      keep: checkpoint.keep,
      log: this.#log,
      ...(task ? { task } : {}),
    });
    const restored = await this.#checkpoints.open(store);
    for (const node of this.#graph.order) {
      if (restored) node.restoreWatermark(restored.stepWatermarks?.[node.id] ?? restored.watermark);
      const state = new KeyedStateStore(node.id, restored?.keyedState?.[node.id]);
      node.keyedState = state;
      node.operator.open?.({
        state,
        stepId: node.id,
        restored: restored?.operators[node.id],
        clock: this.#clock,
        watermark: () => node.watermark,
        log: this.#log,
        fail: (error) => this.#fail(error),
        asyncEmitted: () => this.#afterAsyncEmit(),
      });
    }
    for (const node of this.#graph.asyncNodes) await node.operator.async!.acquire?.();

    await this.#sinks.open(plan, this.#graph, {
      registry,
      restored: restored?.sinks,
      clock: this.#clock,
      log: this.#log,
      signal: this.#sinkAbort.signal,
      stateDir: (id) => join(dir, 'sinks', id),
      ...(task ? { task } : {}),
      onTiming: (id, op, seconds, records) => {
        for (const listener of this.#sinkTimings) listener(id, op, seconds, records);
      },
    });

    // Sources last: once open, they may start buffering input.
    await this.#sources.open({
      registry,
      restored: restored?.sources,
      stateDir: (id) => join(dir, 'sources', id),
      keepCheckpoints: checkpoint.keep,
      ...(task ? { task } : {}),
      signal: this.#abort.signal,
      requestCheckpoint: () => this.#checkpoints.request(),
    });
    // Counters continue from the checkpoint, so the accounting identity holds across restarts.
    if (restored?.counters) restoreCounters(this.#counted, restored.counters);
    const restart = this.#options.restart ?? 0;
    if (restart > 0) this.#jobCounters.restarts = Math.max(this.#jobCounters.restarts + 1, restart);
  }

  /** Runs until every bounded source ends (status `completed`) or the job is stopped. */
  async run(): Promise<JobResult> {
    if (this.#ran) throw new SluiceError('INTERNAL', 'a job runs once: create another to run again');
    this.#ran = true;
    const onAbort = () => this.stop();
    this.#options.signal?.addEventListener('abort', onAbort, { once: true });
    this.#checkpoints.schedule();
    const tick = setInterval(() => this.#tick(), this.#options.tickInterval ?? 100);
    const lagInterval = this.#options.lagInterval ?? 5000;
    const lagPoll =
      lagInterval > 0 ? setInterval(() => void this.#sources.pollLag(), lagInterval) : undefined;
    if (lagPoll !== undefined) void this.#sources.pollLag();
    let status: JobResult['status'];
    try {
      await this.#sources.run();
      if (this.#failure) throw this.#failure;
      await this.#drainAsync();
      if (this.#failure) throw this.#failure;
      clearInterval(tick);
      clearInterval(lagPoll);
      await this.#checkpoints.inProgress;
      if (!this.#stopping && this.#watermarks.allEnded) {
        this.#watermarks.restore(END_OF_TIME);
        for (const node of this.#graph.order) node.finishWatermark(END_OF_TIME);
        for (const node of this.#graph.order) node.operator.close?.(node);
        await this.#checkpoints.take(true);
        status = 'completed';
      } else {
        await this.#checkpoints.take(false);
        status = 'stopped';
      }
      await this.#close();
    } catch (err) {
      this.#failure ??= toSluiceError(err); // so that `status` says 'failed'
      this.#abort.abort();
      this.#sinkAbort.abort();
      await this.#closeQuietly();
      throw toSluiceError(err);
    } finally {
      clearInterval(tick);
      clearInterval(lagPoll);
      this.#options.signal?.removeEventListener('abort', onAbort);
    }
    this.#ended = status;
    return { status, metrics: this.metrics() };
  }

  /** Where the job is: created, running, stopping (draining after `stop()`), or how it ended. */
  get status(): JobStatus {
    if (this.#failure) return 'failed';
    if (this.#ended) return this.#ended;
    if (this.#stopping) return 'stopping';
    return this.#ran ? 'running' : 'created';
  }

  /** The last completed checkpoints (at most 50), oldest first, with their durations and sizes. */
  checkpointHistory(): readonly CheckpointSummary[] {
    return this.#checkpoints.history;
  }

  /**
   * What each source, step and sink put into the last completed checkpoint of this run, in
   * encoded bytes (and keys, for keyed state), measured as the checkpoint was encoded; undefined
   * before the first. The cheap way to watch state grow: nothing is walked to answer.
   */
  stateSizes(): StateSizes | undefined {
    return this.#checkpoints.stateSizes;
  }

  /**
   * The last dead letters (at most 100) of this run, oldest first, whether or not a
   * `dead_letter` output is configured: what went wrong recently, for operations tools.
   */
  recentDeadLetters(): readonly DeadLetter[] {
    return this.#outputs.recent.slice(-RECENT_DEAD_LETTERS);
  }

  /** The last dead letters (at most 100) of this run, oldest first, each with its number in the run (from 1). */
  numberedDeadLetters(): readonly NumberedDeadLetter[] {
    const all = this.#outputs.recent;
    const from = Math.max(0, all.length - RECENT_DEAD_LETTERS);
    return all.slice(from).map((letter, i) => ({ id: this.#outputs.recentFirst + from + i, letter }));
  }

  /**
   * Sends the payloads of the dead letters numbered `ids` (see `numberedDeadLetters`) back to the
   * step or sink that rejected them, after the cause was fixed; each id at most once per run.
   * Refuses (with a reason per id) late records, changes of updating streams, letters of sources
   * (resend those upstream) and of steps with several inputs. Throws `NOT_RUNNING` unless the job
   * runs, and while a checkpoint pauses the read loops. A replayed record counts as a step's
   * input again; it is covered by the next checkpoint, not by a source offset.
   */
  replayDeadLetters(ids: readonly number[]): ReplayResult {
    if (this.status !== 'running')
      throw new SluiceError(
        'JOB_NOT_RUNNING',
        `the job is ${this.status}: dead letters replay into a running job`,
      );
    if (this.#checkpoints.paused)
      throw new SluiceError('JOB_NOT_RUNNING', 'a checkpoint is being taken: replay again in a moment');
    const sinks = new Map([...this.#sinks.sinks].map((r) => [r.id, r]));
    const inputs = new Map(this.plan.steps.map((s) => [s.id, s.inputs.length]));
    const replayedBefore = this.#replayed.size;
    try {
      return replayDeadLetters(
        ids,
        this.numberedDeadLetters(),
        this.#replayed,
        this.#graph,
        sinks,
        inputs,
        this.#clock.now(),
      );
    } finally {
      if (this.#replayed.size > replayedBefore) this.#maybeAdvanceWatermark(true);
    }
  }

  /**
   * Calls `listener` after every `write` and `commit` of every sink (and of the dead-letter and
   * late outputs) with how long it took, until the returned function is called. For metrics:
   * the listener runs on the write path, so it must be cheap and must not throw.
   */
  observeSinkTimes(listener: SinkTimingListener): () => void {
    this.#sinkTimings.add(listener);
    return () => this.#sinkTimings.delete(listener);
  }

  /**
   * How full each sink's queue is (0 to 1; 1 holds the sources back: backpressure), with the
   * dead-letter and late outputs as `$dead_letter` and `$late_output`.
   */
  sinkQueues(): { [id: string]: { queued: number; fill: number } } {
    const out: { [id: string]: { queued: number; fill: number } } = {};
    for (const r of this.#sinks.runners()) out[r.id] = { queued: r.queued, fill: r.fill };
    return out;
  }

  /** Each step's current watermark (epoch ms; -Infinity before its first, +Infinity at the end). */
  stepWatermarks(): { [id: string]: number } {
    const out: { [id: string]: number } = {};
    for (const node of this.#graph.order) out[node.id] = node.watermark;
    return out;
  }

  /** Each source's current watermark: the minimum over its active partitions (as `stepWatermarks`). */
  sourceWatermarks(): { [id: string]: number } {
    return this.#watermarks.sourceWatermarks();
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

  /** Takes one checkpoint now (after any in progress). */
  checkpoint(): Promise<void> {
    return this.#checkpoints.take(false);
  }

  /**
   * Moves each step to the watermark of its sources, in topological order: what a window emits
   * reaches downstream before their own call. `force`: also when no source's moved (an
   * asynchronous step let go of what held the steps after it back).
   */
  #maybeAdvanceWatermark(force = false): void {
    if (!this.#watermarks.advance(this.#clock.now()) && !force) return;
    for (const node of this.#graph.order) node.advanceWatermark();
    this.#sinks.noteWatermarks(this.#graph, this.#watermarks);
  }

  /** After an asynchronous step emitted on its own: the steps after it catch up. */
  #afterAsyncEmit(): void {
    if (this.#failure) return;
    try {
      this.#graph.flush();
      this.#maybeAdvanceWatermark(true);
    } catch (err) {
      this.#fail(toSluiceError(err));
    }
  }

  /** Waits until the asynchronous steps have emitted everything, in topological order. */
  async #drainAsync(): Promise<void> {
    for (const node of this.#graph.asyncNodes) await node.operator.async!.drain();
  }

  #tick(): void {
    if (this.#checkpoints.paused || this.#failure) return;
    // A sink that failed while no input arrives would otherwise wait for the next checkpoint.
    for (const runner of this.#sinks.runners()) {
      if (runner.failure !== undefined) {
        this.#fail(toSluiceError(runner.failure, 'SINK_UNAVAILABLE', { step: runner.id }));
        return;
      }
    }
    try {
      const now = this.#clock.now();
      this.#maybeAdvanceWatermark();
      for (const node of this.#graph.order) node.operator.onProcessingTime?.(now, node);
      this.#checkpoints.startIfDue(this.#stopping);
    } catch (err) {
      this.#fail(toSluiceError(err));
    }
  }

  async #close(): Promise<void> {
    try {
      await this.#sinks.close();
      await this.#sources.close(false);
      await this.#releaseAsync();
    } finally {
      await this.#checkpoints.close();
    }
  }

  /** Closes what the asynchronous steps opened (lookup tables), each once. */
  async #releaseAsync(): Promise<void> {
    for (const node of this.#graph.asyncNodes) await node.operator.async!.release?.().catch(() => {});
  }

  /**
   * After a failure (or a failed start): closes readers and aborts sinks, so that nothing a
   * completed checkpoint does not cover is published (`Sink.abort`; `close` for a sink without).
   */
  async #closeQuietly(): Promise<void> {
    for (const node of this.#graph.asyncNodes) node.operator.async!.cancel();
    await this.#sources.close(true);
    await this.#sinks.abort(this.#log);
    await this.#releaseAsync();
    await this.#checkpoints.close().catch(() => {});
  }

  #fail(error: SluiceError): void {
    if (!this.#failure) {
      this.#failure = error;
      this.#abort.abort();
      this.#sinkAbort.abort();
    }
  }

  /**
   * Records (and their estimated bytes) queued in front of the sinks, the dead-letter and late
   * outputs: what the job holds in memory waiting for a slow system, bounded by the
   * `sink_queue_records` and `sink_queue_bytes` settings of each.
   */
  buffered(): { records: number; bytes: number } {
    let records = 0;
    let bytes = 0;
    for (const runner of this.#sinks.runners()) {
      records += runner.queued;
      bytes += runner.queuedBytes;
    }
    return { records, bytes };
  }

  /** Current counters, watermark and checkpoint progress. */
  metrics(): JobMetrics {
    return {
      ...sumCounters(this.#counted),
      watermark: this.#watermarks.current,
      lastCheckpointAt: this.#checkpoints.lastCheckpointAt,
      lastCheckpointId: this.#checkpoints.lastCheckpointId,
    };
  }
}
