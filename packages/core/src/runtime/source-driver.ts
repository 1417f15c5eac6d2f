/**
 * Source driving for a job: opening the sources, and one asynchronous read loop per reader.
 *
 * Each batch a loop reads gets its event times (`SourceRuntime.ingest`), feeds the partition's
 * watermark, and is pushed synchronously through the operator graph into the sinks' bounded
 * queues; the loop then waits while any sink queue is full (backpressure). A multiplexing
 * reader announces the partitions it reads through its context (`partitionsAssigned`,
 * `partitionsRevoked`) and names each batch's (`SourceBatch.partition`); each gets a watermark
 * of its own (`ReaderPartitions`).
 */

import type { Logger, SourceBatch, SourceReader, TaskIdentity } from '../connector.ts';
import { type SluiceError, toSluiceError } from '../errors.ts';
import type { Plan } from '../plan/plan.ts';
import type { DeadLetter } from '../record.ts';
import type { Registry } from '../registry.ts';
import type { Clock } from '../time.ts';
import type { OperatorGraph } from './operator-graph.ts';
import type { SinkRunner } from './sink-runner.ts';
import { SourceRuntime } from './source-runtime.ts';
import type { WatermarkTracker } from './watermarks.ts';

/** What the read loops need from the rest of the job. */
export interface SourceDriverHooks {
  /** Set while a checkpoint holds the loops at a batch boundary; `resumed` resolves when it lets go. */
  readonly gate: { readonly paused: boolean; readonly resumed: Promise<void> };
  /** Sink queues a loop waits on when full. */
  runners(): Iterable<SinkRunner>;
  /** After each batch is pushed: advance the watermark, maybe start a checkpoint. */
  afterBatch(): void;
  deadLetter(letter: DeadLetter): void;
  /** Fails the job: every loop stops at its next boundary. */
  fail(error: SluiceError): void;
  /** Whether the job has failed. */
  failed(): boolean;
  /** Whether the job is stopping gracefully. */
  stopping(): boolean;
}

/** Where and how a job's sources are opened (see `SourceContext`). */
export interface SourceOpenOptions {
  registry: Registry;
  /** Restored positions by source id, then partition. */
  restored: { readonly [source: string]: { readonly [partition: string]: unknown } } | undefined;
  /** Folder for the local state of source `id` (write-ahead logs). */
  stateDir(id: string): string;
  keepCheckpoints: number;
  /** The task this job is, in a scaled-out pipeline (`SourceContext.task`). */
  task?: TaskIdentity;
  /** Aborted to stop the readers. */
  signal: AbortSignal;
  requestCheckpoint(): void;
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * The upstream partitions one multiplexing reader reads, each a watermark partition
 * `<source>/<partition>`. Until the first is assigned, the reader's own partition id stands in
 * for them (registered by `SourceDriver.open`). Assignments and revocations apply when the reader
 * reports them, so an assigned partition holds the watermark back before any of its records is
 * pushed, and a revoked one stops at once.
 */
class ReaderPartitions {
  readonly #source: string;
  readonly #own: string;
  readonly #watermarks: WatermarkTracker;
  /** Whether the reader's own id is registered as its watermark partition. */
  placeholder = false;
  readonly #assigned = new Set<string>();
  /** Revoked and not assigned again: a batch of one of them is pushed without its watermark. */
  readonly #revoked = new Set<string>();

  constructor(source: string, reader: string, watermarks: WatermarkTracker) {
    this.#source = source;
    this.#own = `${source}/${reader}`;
    this.#watermarks = watermarks;
  }

  get multiplexed(): boolean {
    return this.#assigned.size > 0 || this.#revoked.size > 0;
  }

  assigned(partitions: readonly string[], now: number): void {
    for (const p of partitions) {
      this.#revoked.delete(p);
      if (this.#assigned.has(p)) continue;
      if (this.placeholder) {
        this.#watermarks.remove(this.#own);
        this.placeholder = false;
      }
      this.#assigned.add(p);
      this.#watermarks.addPartition(this.#source, p, now);
    }
  }

  revoked(partitions: readonly string[]): void {
    for (const p of partitions) {
      if (this.#assigned.delete(p)) this.#watermarks.remove(`${this.#source}/${p}`);
      this.#revoked.add(p);
    }
  }

  /**
   * The watermark partition of a batch of upstream partition `p`: registered first when the
   * reader never announced it; undefined when it was revoked since (no watermark to feed).
   */
  of(p: string, now: number): string | undefined {
    if (this.#revoked.has(p)) return undefined;
    this.assigned([p], now);
    return `${this.#source}/${p}`;
  }

  /** End of input: every partition of the reader stops holding the watermark back. */
  end(): void {
    if (this.placeholder) this.#watermarks.end(this.#own);
    for (const p of this.#assigned) this.#watermarks.end(`${this.#source}/${p}`);
  }
}

/** Opens a job's sources and runs their read loops. */
export class SourceDriver {
  readonly sources: SourceRuntime[] = [];
  readonly #plan: Plan;
  readonly #graph: OperatorGraph;
  readonly #watermarks: WatermarkTracker;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #hooks: SourceDriverHooks;
  /** The partitions of each reader, by source id and then reader partition id. */
  readonly #partitions = new Map<string, Map<string, ReaderPartitions>>();
  #signal: AbortSignal | undefined;
  /** Readers whose lag is being asked for. */
  readonly #lagPolling = new Set<SourceReader>();

  constructor(
    plan: Plan,
    graph: OperatorGraph,
    watermarks: WatermarkTracker,
    clock: Clock,
    log: Logger,
    hooks: SourceDriverHooks,
  ) {
    this.#plan = plan;
    this.#graph = graph;
    this.#watermarks = watermarks;
    this.#clock = clock;
    this.#log = log;
    this.#hooks = hooks;
  }

  /**
   * Opens every source of the plan from its restored positions and registers the watermark of
   * each reader's partition. Call it last when opening a job: once open, sources may start
   * buffering input. Readers opened before a failure are in `sources`, for closing.
   */
  async open(options: SourceOpenOptions): Promise<void> {
    const plan = this.#plan;
    this.#signal = options.signal;
    const now = this.#clock.now();
    for (const src of plan.sources) {
      const positions = { ...(options.restored?.[src.id] ?? {}) };
      this.#watermarks.addSource(src.id, {
        bound: src.eventTime?.maxOutOfOrderness ?? 0,
        idleTimeout: src.eventTime?.idleTimeout ?? plan.settings.idleTimeout,
      });
      const byReader = new Map<string, ReaderPartitions>();
      this.#partitions.set(src.id, byReader);
      const partitionsOf = (reader: string) => {
        let rp = byReader.get(reader);
        if (!rp) {
          rp = new ReaderPartitions(src.id, reader, this.#watermarks);
          byReader.set(reader, rp);
        }
        return rp;
      };
      const readers = await options.registry
        .source(src.type)!
        .create(src.config as never)
        .open({
          id: src.id,
          pipeline: plan.name,
          restored: positions,
          clock: this.#clock,
          baseDir: plan.baseDir,
          signal: options.signal,
          log: this.#log,
          stateDir: options.stateDir(src.id),
          keepCheckpoints: options.keepCheckpoints,
          ...(options.task ? { task: options.task } : {}),
          requestCheckpoint: options.requestCheckpoint,
          partitionsAssigned: (reader, partitions) =>
            partitionsOf(reader).assigned(partitions, this.#clock.now()),
          partitionsRevoked: (reader, partitions) => partitionsOf(reader).revoked(partitions),
        });
      for (const r of readers) {
        const rp = partitionsOf(r.partition);
        if (rp.multiplexed) continue;
        this.#watermarks.addPartition(src.id, r.partition, now);
        rp.placeholder = true;
      }
      this.sources.push(new SourceRuntime(src, readers, positions, this.#clock));
    }
  }

  /** Runs one read loop per reader until each ends, is stopped, or the job fails. */
  async run(): Promise<void> {
    const loops: Promise<void>[] = [];
    for (const src of this.sources) for (const r of src.readers) loops.push(this.#readLoop(src, r));
    await Promise.all(loops);
  }

  async #readLoop(src: SourceRuntime, reader: SourceReader): Promise<void> {
    const hooks = this.#hooks;
    const watermarks = this.#watermarks;
    const signal = this.#signal!;
    const wmId = `${src.id}/${reader.partition}`;
    const partitions = this.#partitions.get(src.id)!.get(reader.partition)!;
    const batchSize = this.#plan.settings.batchSize;
    const watched = this.#graph.watchedSources.has(src.id);
    const sequenced = this.#graph.sequencedSources.has(src.id);
    const targets = this.#graph.sourceTargets.get(src.id)!;
    const deadLetter = (letter: DeadLetter) => hooks.deadLetter(letter);
    let attempt = 0;
    // On a graceful stop a reader that holds acknowledged input is read until it is empty.
    let draining = false;
    while (!hooks.failed()) {
      if (hooks.stopping() && !draining) {
        if (!reader.drain) break;
        reader.drain();
        draining = true;
      }
      let batch: SourceBatch | null;
      try {
        batch = await reader.read(batchSize, signal);
        attempt = 0;
      } catch (err) {
        if (hooks.stopping() && !draining) break;
        const e = toSluiceError(err, 'SOURCE_UNAVAILABLE', { step: src.id });
        if (!e.retryable) {
          hooks.fail(e);
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
      if (hooks.gate.paused) await hooks.gate.resumed;
      if (batch === null) {
        src.positions[reader.partition] = reader.position();
        // Drained for a stop, not ended: the partition must not let the watermark run to +∞.
        if (draining) break;
        partitions.end();
        break;
      }
      const position = reader.position();
      try {
        const now = this.#clock.now();
        const partition = batch.partition ?? reader.partition;
        // Undefined for a batch of a partition revoked since it was read: its records count, its
        // watermark is gone.
        const id = batch.partition === undefined ? wmId : partitions.of(partition, now);
        const { batch: ingested, maxTime } = src.ingest(partition, batch, now, deadLetter);
        // Lateness is decided per record, against the watermark as it stood after the records
        // before it: the batch carries that watermark for each record.
        const given = batch.watermark;
        if (given !== undefined) {
          // The reader's own watermarks (a repartition topic): the records' times move none.
          if (ingested && watched && batch.watermarks && ingested.records.length === batch.records.length)
            ingested.watermarks = batch.watermarks;
        } else if (ingested && watched && id !== undefined) {
          const before = watermarks.before(id, ingested.times, now);
          if (before) ingested.watermarks = before;
        }
        // A step merging two branches of this source takes their records in this order.
        if (ingested && sequenced) ingested.seqs = src.sequence(ingested.records.length);
        // An empty read brought no record: it must not keep a quiet partition from going idle.
        if (id !== undefined && given !== undefined) watermarks.set(id, given, now);
        else if (id !== undefined && (batch.records.length > 0 || batch.failures?.length))
          watermarks.observe(id, maxTime, now);
        if (ingested) {
          for (const e of targets.nodes) e.node.push(ingested, e.port);
          this.#graph.flush();
          for (const sink of targets.sinks) sink.enqueue(ingested);
        }
      } catch (err) {
        hooks.fail(toSluiceError(err, 'INTERNAL'));
        break;
      }
      src.positions[reader.partition] = position;
      hooks.afterBatch();
      try {
        await this.#backpressure();
        // A source whose reads resolve at once would otherwise starve timers and other sources.
        await yieldToEventLoop();
      } catch (err) {
        hooks.fail(toSluiceError(err));
        break;
      }
    }
  }

  /**
   * Asks every reader that reports a lag (`SourceReader.lag`) for it, at most one request per
   * reader at a time, and keeps the answers in its source (`SourceRuntime.lags`). A failure is
   * logged at debug level; the last value stays.
   */
  async pollLag(): Promise<void> {
    const signal = this.#signal;
    if (signal === undefined || signal.aborted) return;
    const polls: Promise<void>[] = [];
    for (const src of this.sources) {
      for (const reader of src.readers) {
        if (reader.lag === undefined || this.#lagPolling.has(reader)) continue;
        this.#lagPolling.add(reader);
        polls.push(
          reader
            .lag(signal)
            .then(
              (lag) => {
                if (lag !== undefined) src.lags.set(reader.partition, lag);
              },
              (err: unknown) =>
                this.#log.debug('source lag unavailable', {
                  source: src.id,
                  partition: reader.partition,
                  error: err instanceof Error ? err.message : String(err),
                }),
            )
            .finally(() => this.#lagPolling.delete(reader)),
        );
      }
    }
    await Promise.all(polls);
  }

  /** Waits while any sink queue or asynchronous step is full: a slow one slows the source. */
  async #backpressure(): Promise<void> {
    for (const node of this.#graph.asyncNodes) {
      const boundary = node.operator.async!;
      if (boundary.full) await boundary.belowCapacity();
    }
    for (const runner of this.#hooks.runners()) if (runner.full) await runner.belowCapacity();
  }

  /** Closes every reader: the first failure rejects, or, `quietly`, failures are ignored. */
  async close(quietly: boolean): Promise<void> {
    for (const src of this.sources) {
      for (const r of src.readers) {
        if (quietly) await r.close().catch(() => {});
        else await r.close();
      }
    }
  }
}
