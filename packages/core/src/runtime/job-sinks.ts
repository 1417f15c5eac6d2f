/**
 * A job's sinks: opening each behind its bounded queue (`SinkRunner`), wiring it to the step or
 * source it reads, and closing them all — drained and closed on success, aborted on failure.
 */

import type { CheckpointData } from '../checkpoint/index.ts';
import type { Logger, TaskIdentity } from '../connector.ts';
import { sinkInfo } from '../plan/expressions.ts';
import { type Plan, type PlanOutput, parseStreamRef } from '../plan/plan.ts';
import { inComponent } from '../plan/resolve.ts';
import type { Registry } from '../registry.ts';
import type { Clock } from '../time.ts';
import { DEAD_LETTER, LATE_OUTPUT, type OutputRouter } from './failure-router.ts';
import type { OperatorGraph } from './operator-graph.ts';
import { SinkRunner, type SinkTimingListener } from './sink-runner.ts';
import type { SourceWatermarks } from './watermarks.ts';

/** What sinks are opened with (see `SinkContext`). */
export interface SinkOpenOptions {
  registry: Registry;
  restored: CheckpointData['sinks'] | undefined;
  clock: Clock;
  log: Logger;
  /** Aborted when the job fails, not on a graceful stop (sinks must drain). */
  signal: AbortSignal;
  /** The folder of a sink's own files (see `SinkContext.stateDir`), by sink id. */
  stateDir?: (id: string) => string;
  /** The task this job is, in a scaled-out pipeline (`SinkContext.task`). */
  task?: TaskIdentity;
  /** Told how long each write and commit of each sink took. */
  onTiming?: SinkTimingListener;
}

/** The sinks fed by steps and sources, and the dead-letter and late outputs (held by `outputs`). */
export class JobSinks {
  readonly sinks: SinkRunner[] = [];
  /** The sinks that take watermarks, with the id of the step or source they read. */
  readonly #watermarked: { readonly runner: SinkRunner; readonly input: string }[] = [];
  readonly #outputs: OutputRouter;

  constructor(outputs: OutputRouter) {
    this.#outputs = outputs;
  }

  /** The dead-letter and late outputs that exist. */
  get outputs(): SinkRunner[] {
    return [this.#outputs.deadLetters, this.#outputs.lateOutput].filter((r) => r !== undefined);
  }

  /**
   * Opens the dead-letter and late outputs, then every sink, wiring each to the step or source
   * it reads in `graph`. Sinks opened before a failure are kept, for `abort`.
   */
  async open(plan: Plan, graph: OperatorGraph, options: SinkOpenOptions): Promise<void> {
    const openSink = async (id: string, output: PlanOutput, input?: string): Promise<SinkRunner> => {
      const info = sinkInfo(id, output, input === undefined ? undefined : plan.keys?.[input]);
      const sink = inComponent(id, () =>
        options.registry.sink(output.type)!.create(output.config as never, info),
      );
      await sink.open({
        id,
        pipeline: plan.name,
        restored: options.restored?.[id],
        clock: options.clock,
        baseDir: plan.baseDir,
        signal: options.signal,
        log: options.log,
        stateDir: options.stateDir?.(id),
        ...(options.task ? { task: options.task } : {}),
      });
      const capacity = { records: plan.settings.sinkQueueRecords, bytes: plan.settings.sinkQueueBytes };
      return new SinkRunner(
        id,
        sink,
        capacity,
        (batch, rejections) => this.#outputs.rejected(id, batch, rejections),
        options.onTiming,
      );
    };
    if (plan.deadLetter) this.#outputs.deadLetters = await openSink(DEAD_LETTER, plan.deadLetter);
    if (plan.lateOutput) this.#outputs.lateOutput = await openSink(LATE_OUTPUT, plan.lateOutput);
    for (const s of plan.sinks) {
      const runner = await openSink(s.id, s, s.input);
      this.sinks.push(runner);
      const input = parseStreamRef(s.input);
      if (runner.sink.takesWatermarks) this.#watermarked.push({ runner, input: input.id });
      const node = graph.nodes.get(input.id);
      if (node === undefined) graph.sourceTargets.get(input.id)!.sinks.push(runner);
      else if (input.port === undefined) node.sinks.push(runner);
      else node.ports.get(input.port)!.sinks.push(runner);
    }
  }

  /**
   * Tells each sink that takes watermarks its input's watermark — the step's, or the source's
   * for a sink that reads a source — and whether every source upstream of it is idle. Call it
   * after the steps advanced.
   */
  noteWatermarks(graph: OperatorGraph, clocks: SourceWatermarks): void {
    for (const { runner, input } of this.#watermarked) {
      const node = graph.nodes.get(input);
      if (node === undefined) runner.noteWatermark(clocks.watermarkOf(input), clocks.isIdle(input));
      else
        runner.noteWatermark(
          node.watermark,
          node.sources.length > 0 && node.sources.every((s) => clocks.isIdle(s)),
        );
    }
  }

  /** Sinks first, then the late output, then dead letters: the order they are drained in. */
  *runners(): Iterable<SinkRunner> {
    yield* this.sinks;
    if (this.#outputs.lateOutput) yield this.#outputs.lateOutput;
    if (this.#outputs.deadLetters) yield this.#outputs.deadLetters;
  }

  /** Drains and closes every sink, in drain order; the first failure rejects. */
  async close(): Promise<void> {
    for (const runner of this.runners()) {
      await runner.drain();
      // The runner's close: refusals the sink finds as it closes go to the dead letters, drained after it.
      await runner.close();
    }
  }

  /**
   * After a failure: aborts every sink (`Sink.abort`; `close` for a sink without), so that
   * nothing a completed checkpoint does not cover is published. Failures are logged.
   */
  async abort(log: Logger): Promise<void> {
    for (const runner of this.runners()) {
      const { sink } = runner;
      await (sink.abort ? sink.abort() : sink.close()).catch((err: unknown) =>
        log.warn('a sink failed to abort', { sink: runner.id, error: String(err) }),
      );
    }
  }
}
