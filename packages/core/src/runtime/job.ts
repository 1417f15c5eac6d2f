/**
 * A running pipeline: sources read, the operator graph runs, sinks write, checkpoints are taken.
 *
 * One source partition is one asynchronous read loop. Each batch it reads is pushed
 * synchronously through the operator graph into the sinks' bounded queues; the loop then waits
 * while any sink queue is full (backpressure). A checkpoint pauses the loops at a batch boundary,
 * drains the sinks, pre-commits them, snapshots positions and operator state synchronously,
 * resumes, writes the snapshot durably, and only then lets sinks and sources commit.
 */

import { resolve } from 'node:path';
import { type CheckpointData, DirectoryCheckpointStore, encodeCheckpoint } from '../checkpoint/index.ts';
import type { Logger, Sink, SinkRejection, SourceBatch, SourceReader } from '../connector.ts';
import { silentLogger } from '../connector.ts';
import { SluiceError, toSluiceError } from '../errors.ts';
import type { LatePolicy, StepInfo } from '../operator.ts';
import type { Plan, PlanOutput, PlanSource } from '../plan/plan.ts';
import { resolvePlan, withLocation } from '../plan/resolve.ts';
import type { Batch, DeadLetter, Offset, Row } from '../record.ts';
import type { Registry } from '../registry.ts';
import { type Clock, END_OF_TIME, systemClock } from '../time.ts';
import { type TimeAssigner, timeAssigner } from './event-time.ts';
import { type FailureRouter, Node, topologicalOrder } from './graph.ts';
import type { JobMetrics } from './metrics.ts';
import { SinkRunner } from './sink-runner.ts';
import { WatermarkTracker } from './watermarks.ts';

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

interface SourceRuntime {
  plan: PlanSource;
  assign: TimeAssigner;
  readers: SourceReader[];
  positions: { [partition: string]: unknown };
  /** Records read, including those that failed to decode or had no valid event time. */
  in: number;
  /** Records sent to dead letters at the source (decode or event-time failures). */
  dead: number;
}

const DEAD_LETTER = '$dead_letter';

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
const LATE_OUTPUT = '$late_output';

/** A pipeline plan turned into a runnable job. */
export class Job implements FailureRouter {
  readonly plan: Plan;
  readonly #options: JobOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #nodes = new Map<string, Node>();
  #order: Node[] = [];
  readonly #sources: SourceRuntime[] = [];
  readonly #sinks = new Map<string, SinkRunner>();
  #deadLetters: SinkRunner | undefined;
  #lateOutput: SinkRunner | undefined;
  readonly #abort = new AbortController();
  /** The sinks' signal: aborted when the job fails, not on a graceful stop (sinks must drain). */
  readonly #sinkAbort = new AbortController();
  readonly #watermarks = new WatermarkTracker();
  /** Steps and sinks that read each source directly. */
  readonly #sourceTargets = new Map<string, { nodes: Node[]; sinks: SinkRunner[] }>();
  #store!: DirectoryCheckpointStore;
  #checkpointId = 0;
  #lastCheckpointAt: number | undefined;
  #lastCheckpointId: number | undefined;
  #checkpointing: Promise<void> | undefined;
  #nextCheckpointAt = Number.POSITIVE_INFINITY;
  #paused = false;
  #resume: (() => void) | undefined;
  #resumed: Promise<void> = Promise.resolve();
  #stopping = false;
  #failure: SluiceError | undefined;
  #unloggedDeadLetters = 0;
  #restoredCounters: { [name: string]: number } = {};

  private constructor(plan: Plan, options: JobOptions) {
    this.plan = plan;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log ?? silentLogger;
  }

  /** Builds the operator graph and opens sources and sinks, restoring the newest checkpoint. */
  static async create(plan: Plan, options: JobOptions): Promise<Job> {
    const job = new Job(resolvePlan(plan, options.registry), options);
    try {
      await job.#build();
    } catch (err) {
      await job.#closeQuietly();
      throw err instanceof SluiceError ? withLocation(job.plan, err) : err;
    }
    return job;
  }

  /**
   * Checks a plan as far as possible without touching any external system: configs, step
   * types, expressions, schemas. Throws the first problem with its file location.
   */
  static async validate(plan: Plan, options: Pick<JobOptions, 'registry' | 'functions'>): Promise<void> {
    const job = new Job(resolvePlan(plan, options.registry), options);
    try {
      await job.#build(false);
      for (const src of job.plan.sources) {
        options.registry.source(src.type)!.create(src.config as never);
        timeAssigner(src.id, src.eventTime, systemClock);
      }
      for (const s of job.plan.sinks) options.registry.sink(s.type)!.create(s.config as never);
    } catch (err) {
      throw err instanceof SluiceError ? withLocation(job.plan, err) : err;
    }
  }

  /** Builds the operator graph; with `open`, also restores state and opens sinks and sources. */
  async #build(open = true): Promise<void> {
    const { plan } = this;
    const { registry } = this.#options;
    const stepIds = new Set(plan.steps.map((s) => s.id));
    const sourceIds = new Set(plan.sources.map((s) => s.id));
    const inputs = new Map(plan.steps.map((s) => [s.id, s.inputs]));
    for (const step of plan.steps) {
      for (const input of step.inputs) {
        if (!stepIds.has(input) && !sourceIds.has(input)) {
          throw new SluiceError('PLAN_MISSING_INPUT', `reads '${input}', which is no source or step`, {
            step: step.id,
            path: 'input',
          });
        }
      }
    }
    let order: string[];
    try {
      order = topologicalOrder(
        plan.steps.map((s) => s.id),
        inputs,
      );
    } catch (cycle) {
      const ids = cycle as string[];
      throw new SluiceError('PLAN_CYCLE', `steps form a cycle: ${ids.join(' → ')}`, { step: ids[0] });
    }

    // Steps, in topological order so each knows whether its input is keyed.
    const keyedOutput = new Map<string, boolean>();
    const byId = new Map(plan.steps.map((s) => [s.id, s]));
    for (const id of order) {
      const step = byId.get(id)!;
      const spec = registry.step(step.type);
      if (!spec) {
        throw new SluiceError(
          'PLAN_UNKNOWN_TYPE',
          `unknown step type '${step.type}'; known: ${registry.types('step').join(', ')}`,
          { step: id, path: 'type' },
        );
      }
      const keyed = step.inputs.length > 0 && step.inputs.every((i) => keyedOutput.get(i) === true);
      const info: StepInfo = {
        id,
        keyed,
        baseDir: plan.baseDir,
        clock: this.#clock,
        functions: this.#options.functions ?? new Map(),
      };
      const operator = spec.create(step.config as never, info);
      keyedOutput.set(id, step.type === 'key_by' || (keyed && !operator.absorbs && step.type !== 'process'));
      const node = new Node(id, operator, this, () => this.#clock.now());
      this.#nodes.set(id, node);
      this.#order.push(node);
    }
    for (const id of sourceIds) this.#sourceTargets.set(id, { nodes: [], sinks: [] });
    for (const step of plan.steps) {
      const node = this.#nodes.get(step.id)!;
      for (const input of step.inputs) {
        const upstream = this.#nodes.get(input);
        if (upstream) upstream.steps.push(node);
        else this.#sourceTargets.get(input)!.nodes.push(node);
      }
    }
    if (!open) return;

    this.#store = new DirectoryCheckpointStore(
      resolve(plan.baseDir, plan.settings.checkpoint.dir, plan.name),
      {
        keep: plan.settings.checkpoint.keep,
      },
    );
    const restored = await this.#restore();
    for (const node of this.#order) {
      node.operator.open?.({
        stepId: node.id,
        restored: restored?.operators[node.id],
        clock: this.#clock,
        watermark: () => this.#watermarks.current,
      });
    }

    // Sinks, dead letters, late output.
    const capacity = plan.settings.sinkQueueRecords;
    const openSink = async (id: string, type: string, config: unknown): Promise<SinkRunner> => {
      const spec = registry.sink(type);
      if (!spec) {
        throw new SluiceError(
          'PLAN_UNKNOWN_TYPE',
          `unknown sink type '${type}'; known: ${registry.types('sink').join(', ')}`,
          { step: id, path: 'type' },
        );
      }
      const sink: Sink = spec.create(config as never);
      await sink.open({
        id,
        pipeline: plan.name,
        restored: restored?.sinks[id],
        clock: this.#clock,
        baseDir: plan.baseDir,
        signal: this.#sinkAbort.signal,
        log: this.#log,
      });
      return new SinkRunner(id, sink, capacity, (records, times, rejections) =>
        this.#rejected(id, records, times, rejections),
      );
    };
    const openOutput = (id: string, output: PlanOutput | undefined) =>
      output ? openSink(id, output.type, output.config) : undefined;
    this.#deadLetters = await openOutput(DEAD_LETTER, plan.deadLetter);
    this.#lateOutput = await openOutput(LATE_OUTPUT, plan.lateOutput);
    for (const s of plan.sinks) {
      const runner = await openSink(s.id, s.type, s.config);
      this.#sinks.set(s.id, runner);
      const node = this.#nodes.get(s.input);
      if (node) node.sinks.push(runner);
      else if (sourceIds.has(s.input)) this.#sourceTargets.get(s.input)!.sinks.push(runner);
      else {
        throw new SluiceError('PLAN_MISSING_INPUT', `reads '${s.input}', which is no source or step`, {
          step: s.id,
          path: 'input',
        });
      }
    }

    // Sources last: once open, they may start buffering input.
    const now = this.#clock.now();
    for (const src of plan.sources) {
      const spec = registry.source(src.type);
      if (!spec) {
        throw new SluiceError(
          'PLAN_UNKNOWN_TYPE',
          `unknown source type '${src.type}'; known: ${registry.types('source').join(', ')}`,
          { step: src.id, path: 'type' },
        );
      }
      const positions = { ...(restored?.sources[src.id] ?? {}) };
      const readers = await spec.create(src.config as never).open({
        id: src.id,
        restored: positions,
        clock: this.#clock,
        baseDir: plan.baseDir,
        signal: this.#abort.signal,
        log: this.#log,
      });
      const bound = src.eventTime?.maxOutOfOrderness ?? 0;
      const idle = src.eventTime?.idleTimeout ?? plan.settings.idleTimeout;
      for (const r of readers) this.#watermarks.add(`${src.id}/${r.partition}`, bound, idle, now);
      this.#sources.push({
        plan: src,
        assign: timeAssigner(src.id, src.eventTime, this.#clock),
        readers,
        positions,
        in: this.#restoredCounters[`source:${src.id}:in`] ?? 0,
        dead: this.#restoredCounters[`source:${src.id}:dead`] ?? 0,
      });
    }
    // With the source counters: metrics() before run() already satisfies the accounting identity.
    this.#restoreNodeCounters();
  }

  async #restore(): Promise<CheckpointData | undefined> {
    if (this.#options.fromScratch) {
      this.#log.info('starting from scratch: existing checkpoints are ignored');
      return undefined;
    }
    const latest = await this.#store.latest();
    if (!latest) return undefined;
    for (const s of latest.skipped)
      this.#log.warn('skipping corrupt checkpoint', { file: s.file, reason: s.reason });
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
    const stepIds = new Set(this.plan.steps.map((s) => s.id));
    for (const id of Object.keys(data.operators)) {
      if (!stepIds.has(id))
        this.#log.warn('checkpoint has state for a step that no longer exists', { step: id });
    }
    this.#checkpointId = data.id;
    this.#watermarks.restore(data.watermark);
    this.#restoredCounters = data.counters ?? {};
    this.#log.info('restored checkpoint', { checkpoint: latest.file, id: data.id });
    return data;
  }

  /** Runs until every bounded source ends (status `completed`) or the job is stopped. */
  async run(): Promise<JobResult> {
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
        for (const node of this.#order) node.operator.close?.(node);
        await this.#checkpoint(true);
        status = 'completed';
      } else {
        await this.#checkpoint(false);
        status = 'stopped';
      }
      await this.#closeSinks();
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

  /** Stops reading, then drains, checkpoints and closes; `run()` resolves with status `stopped`. */
  stop(): void {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#abort.abort();
  }

  async #readLoop(src: SourceRuntime, reader: SourceReader): Promise<void> {
    const wmId = `${src.plan.id}/${reader.partition}`;
    const subPartitions = new Set<string>();
    const batchSize = this.plan.settings.batchSize;
    let attempt = 0;
    while (!this.#stopping && !this.#failure) {
      let batch: SourceBatch | null;
      try {
        batch = await reader.read(batchSize, this.#abort.signal);
        attempt = 0;
      } catch (err) {
        if (this.#stopping) break;
        const e = toSluiceError(err, 'SOURCE_UNAVAILABLE', { step: src.plan.id });
        if (!e.retryable) {
          this.#fail(e);
          break;
        }
        const delay = Math.min(30_000, 200 * 2 ** attempt++) * (0.5 + Math.random() / 2);
        this.#log.warn('source read failed; retrying', {
          source: src.plan.id,
          partition: reader.partition,
          delay,
        });
        await new Promise((r) => setTimeout(r, delay));
        continue;
      }
      if (this.#paused) await this.#resumed;
      if (batch === null) {
        src.positions[reader.partition] = reader.position();
        this.#watermarks.end(wmId);
        for (const p of subPartitions) this.#watermarks.end(`${src.plan.id}/${p}`);
        break;
      }
      const position = reader.position();
      try {
        if (batch.partition !== undefined && !subPartitions.has(batch.partition)) {
          // A multiplexing reader: its own placeholder gives way to the partitions it reads.
          if (subPartitions.size === 0) this.#watermarks.remove(wmId);
          subPartitions.add(batch.partition);
        }
        if (batch.revoked) {
          for (const p of batch.revoked) {
            subPartitions.delete(p);
            this.#watermarks.remove(`${src.plan.id}/${p}`);
          }
        }
        const partition = batch.partition ?? reader.partition;
        this.#ingest(
          src,
          partition,
          batch.partition === undefined ? wmId : `${src.plan.id}/${partition}`,
          batch,
          wmId,
        );
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

  /** Assigns event times, routes decode failures, and pushes one source batch through the graph. */
  #ingest(src: SourceRuntime, partition: string, wmId: string, input: SourceBatch, readerWmId: string): void {
    const now = this.#clock.now();
    const sourceId = src.plan.id;
    if (input.failures) {
      src.in += input.failures.length;
      src.dead += input.failures.length;
      for (const f of input.failures) {
        const letter: DeadLetter = {
          step: sourceId,
          code: 'DECODE_FAILED',
          message: f.message,
          payload: f.payload,
          source: sourceId,
          partition,
          failedAt: now,
        };
        if (f.offset !== undefined) letter.offset = f.offset;
        this.deadLetter(letter);
      }
    }
    const n = input.records.length;
    src.in += n;
    if (n === 0) {
      // An empty read brought no record: it must not keep a quiet partition from going idle.
      if (input.failures?.length) this.#watermarks.observe(wmId, Number.NEGATIVE_INFINITY, now, readerWmId);
      return;
    }
    const records: Row[] = [];
    const times: number[] = [];
    const offsets: Offset[] | undefined = input.offsets ? [] : undefined;
    let max = Number.NEGATIVE_INFINITY;
    const assign = src.assign;
    const sourceTimes = input.times;
    for (let i = 0; i < n; i++) {
      const r = input.records[i];
      let t: number;
      try {
        t = assign(r, sourceTimes?.[i]);
      } catch (err) {
        this.#eventTimeFailure(
          src,
          partition,
          input,
          i,
          toSluiceError(err, 'EXPR_EVAL', { step: sourceId }),
          now,
        );
        continue;
      }
      if (!Number.isFinite(t)) {
        const field = src.plan.eventTime?.field;
        const message = field
          ? `event-time field '${field}' is ${JSON.stringify(r[field]) ?? 'missing'}, not epoch milliseconds or ISO-8601 text`
          : 'the event-time expression did not give a timestamp';
        this.#eventTimeFailure(src, partition, input, i, new SluiceError('EVENT_TIME_INVALID', message), now);
        continue;
      }
      if (t > max) max = t;
      records.push(r);
      times.push(t);
      if (offsets) offsets.push(input.offsets![i]);
    }
    this.#watermarks.observe(wmId, max, now, readerWmId);
    if (records.length === 0) return;
    const batch: Batch = { records, times, source: sourceId, partition };
    if (offsets) batch.offsets = offsets;
    this.#forward(sourceId, batch);
  }

  #eventTimeFailure(
    src: SourceRuntime,
    partition: string,
    input: SourceBatch,
    i: number,
    error: SluiceError,
    now: number,
  ): void {
    src.dead++;
    const letter: DeadLetter = {
      step: src.plan.id,
      code: error.code,
      message: error.message,
      payload: input.records[i],
      source: src.plan.id,
      partition,
      failedAt: now,
    };
    if (input.offsets) letter.offset = input.offsets[i];
    this.deadLetter(letter);
  }

  /** Sends a batch read from a source to the steps and sinks reading that source. */
  #forward(sourceId: string, batch: Batch): void {
    const targets = this.#sourceTargets.get(sourceId)!;
    for (const node of targets.nodes) node.push(batch);
    for (const sink of targets.sinks) sink.enqueue(batch.records, batch.times);
  }

  #maybeAdvanceWatermark(): void {
    const wm = this.#watermarks.advance(this.#clock.now());
    if (wm !== undefined) this.#advanceWatermarkTo(wm);
  }

  #advanceWatermarkTo(wm: number): void {
    for (const node of this.#order) node.operator.onWatermark?.(wm, node);
  }

  async #backpressure(): Promise<void> {
    for (const runner of this.#allRunners()) if (runner.full) await runner.belowCapacity();
  }

  *#allRunners(): Iterable<SinkRunner> {
    yield* this.#sinks.values();
    if (this.#lateOutput) yield this.#lateOutput;
    if (this.#deadLetters) yield this.#deadLetters;
  }

  #tick(): void {
    if (this.#paused || this.#failure) return;
    try {
      const now = this.#clock.now();
      this.#maybeAdvanceWatermark();
      for (const node of this.#order) node.operator.onProcessingTime?.(now, node);
      if (this.#checkpointDue()) this.#startCheckpoint();
    } catch (err) {
      this.#fail(toSluiceError(err));
    }
  }

  #checkpointDue(): boolean {
    return !this.#checkpointing && !this.#stopping && this.#clock.now() >= this.#nextCheckpointAt;
  }

  #startCheckpoint(): void {
    this.#checkpoint(false).catch((err) => this.#fail(toSluiceError(err, 'IO_ERROR')));
  }

  /** Takes one checkpoint now; `completed` marks the end of a finished bounded job. */
  checkpoint(): Promise<void> {
    return this.#checkpoint(false);
  }

  #checkpoint(completed: boolean): Promise<void> {
    if (this.#checkpointing) return this.#checkpointing.then(() => this.#checkpoint(completed));
    const p = this.#takeCheckpoint(completed).finally(() => {
      this.#checkpointing = undefined;
      const interval = this.plan.settings.checkpoint.interval;
      if (interval > 0) this.#nextCheckpointAt = this.#clock.now() + interval;
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
    const sinkStates: { [id: string]: unknown } = {};
    try {
      for (const runner of this.#sinks.values()) await runner.drain();
      if (this.#lateOutput) await this.#lateOutput.drain();
      if (this.#deadLetters) await this.#deadLetters.drain();
      for (const runner of this.#allRunners()) {
        if (runner.sink.prepareCommit) sinkStates[runner.id] = await runner.sink.prepareCommit(id);
      }
      const operators: { [id: string]: unknown } = {};
      for (const node of this.#order)
        if (node.operator.snapshot) operators[node.id] = node.operator.snapshot();
      const sources: CheckpointData['sources'] = {};
      for (const src of this.#sources) sources[src.plan.id] = { ...src.positions };
      const counters = this.#counters();
      if (completed) counters.completed = 1;
      bytes = encodeCheckpoint({
        id,
        pipeline: this.plan.name,
        createdAt: this.#clock.now(),
        watermark: this.#watermarks.current,
        sources,
        operators,
        sinks: sinkStates,
        counters,
      });
    } finally {
      this.#paused = false;
      this.#resume?.();
    }
    const positions = this.#sources.map((s) => ({ ...s.positions }));
    await this.#store.write(id, bytes);
    for (const runner of this.#allRunners()) await runner.sink.commit?.(id);
    for (let i = 0; i < this.#sources.length; i++) {
      for (const r of this.#sources[i].readers) {
        const pos = positions[i][r.partition];
        if (pos !== undefined) await r.commit?.(pos);
      }
    }
    for (const node of this.#order) node.operator.onCheckpointComplete?.(id);
    this.#lastCheckpointAt = this.#clock.now();
    this.#lastCheckpointId = id;
    this.#log.debug('checkpoint complete', { id, bytes: bytes.length });
  }

  async #closeSinks(): Promise<void> {
    for (const runner of this.#allRunners()) {
      await runner.drain();
      await runner.sink.close();
    }
    for (const src of this.#sources) for (const r of src.readers) await r.close();
  }

  async #closeQuietly(): Promise<void> {
    for (const src of this.#sources) for (const r of src.readers) await r.close().catch(() => {});
    for (const runner of this.#allRunners()) await runner.sink.close().catch(() => {});
  }

  #fail(error: SluiceError): void {
    if (!this.#failure) {
      this.#failure = error;
      this.#abort.abort();
      this.#sinkAbort.abort();
    }
  }

  // FailureRouter

  deadLetter(letter: DeadLetter): void {
    if (this.#deadLetters) {
      this.#deadLetters.enqueue([letter as unknown as Row], [letter.eventTime ?? letter.failedAt]);
    } else if (this.#unloggedDeadLetters++ < 10) {
      this.#log.warn('dead letter (configure dead_letter to keep them)', {
        step: letter.step,
        code: letter.code,
        message: letter.message,
      });
    }
  }

  late(_stepId: string, policy: LatePolicy | undefined, record: Row, time: number, letter: DeadLetter): void {
    const where = policy ?? (this.#lateOutput ? 'late_output' : 'dead_letter');
    if (where === 'drop') return;
    if (where === 'late_output' && this.#lateOutput) this.#lateOutput.enqueue([record], [time]);
    else this.deadLetter(letter);
  }

  #rejected(sinkId: string, records: Row[], times: number[], rejections: SinkRejection[]): void {
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

  // Metrics

  #counters(): { [name: string]: number } {
    const c: { [name: string]: number } = {};
    for (const src of this.#sources) {
      c[`source:${src.plan.id}:in`] = src.in;
      c[`source:${src.plan.id}:dead`] = src.dead;
    }
    for (const node of this.#order) {
      for (const [k, v] of Object.entries(node.counters)) c[`step:${node.id}:${k}`] = v;
    }
    for (const runner of this.#allRunners()) {
      c[`sink:${runner.id}:written`] = runner.written;
      c[`sink:${runner.id}:rejected`] = runner.rejected;
    }
    return c;
  }

  #restoreNodeCounters(): void {
    const c = this.#restoredCounters;
    for (const node of this.#order) {
      for (const k of Object.keys(node.counters) as (keyof Node['counters'])[]) {
        node.counters[k] = c[`step:${node.id}:${k}`] ?? 0;
      }
    }
    for (const runner of this.#allRunners()) {
      runner.written = c[`sink:${runner.id}:written`] ?? 0;
      runner.rejected = c[`sink:${runner.id}:rejected`] ?? 0;
    }
  }

  /** Current counters, watermark and checkpoint progress. */
  metrics(): JobMetrics {
    const sources: JobMetrics['sources'] = {};
    let recordsIn = 0;
    let deadLetters = 0;
    for (const src of this.#sources) {
      sources[src.plan.id] = { in: src.in, dead: src.dead };
      recordsIn += src.in;
      deadLetters += src.dead;
    }
    const steps: JobMetrics['steps'] = {};
    let late = 0;
    let filtered = 0;
    for (const node of this.#order) {
      const c = node.snapshotCounters();
      steps[node.id] = c;
      deadLetters += c.dead;
      late += c.late;
      filtered += c.filtered;
    }
    const sinks: JobMetrics['sinks'] = {};
    let recordsOut = 0;
    for (const runner of this.#sinks.values()) {
      sinks[runner.id] = { written: runner.written, rejected: runner.rejected };
      recordsOut += runner.written;
      deadLetters += runner.rejected;
    }
    return {
      recordsIn,
      recordsOut,
      deadLetters,
      late,
      filtered,
      watermark: this.#watermarks.current,
      lastCheckpointAt: this.#lastCheckpointAt,
      lastCheckpointId: this.#lastCheckpointId,
      sources,
      steps,
      sinks,
    };
  }
}
