/**
 * The operator contract: the runtime implementation of a step.
 *
 * Operators are synchronous. The runtime calls them on one event loop, batch by batch, and
 * fuses every operator between two asynchronous edges (sources, asynchronous steps, sinks) into
 * one chain. An operator never awaits; whatever it emits goes to `out` before the call returns —
 * except an asynchronous one (`Operator.async`), which emits when its work finishes and which
 * the runtime drains, waits on and holds watermarks back for.
 */

import type { Logger } from './connector.ts';
import type { SluiceError } from './errors.ts';
import type { Expr } from './expr/types.ts';
import type { Batch } from './record.ts';
import type { ChangelogMode, LookupSpec } from './spec.ts';
import type { StateBackend } from './state.ts';
import type { Clock } from './time.ts';

/** Where an operator sends what it produces. */
export interface Output {
  /** Sends a batch downstream. The operator must not touch the batch afterwards. */
  emit(batch: Batch): void;
  /**
   * Sends a batch to the side output `port`, one the step's spec declares for its config
   * (`StepSpec.outputs`); the runtime throws INTERNAL for any other. The batch is counted as the
   * step's output like one given to `emit`, and dropped (counted as `unread`) when no step or
   * sink reads the port. Optional so that collectors standing for one stream (unit tests) need
   * not implement it; the runtime's output always does.
   */
  emitTo?(port: string, batch: Batch): void;
  /** Sends record `index` of `batch` to the dead-letter output with the reason. */
  deadLetter(batch: Batch, index: number, error: SluiceError): void;
  /** Sends record `index` of `batch` to the late output (or drops it, as the step is configured). */
  late(batch: Batch, index: number, reason: string): void;
  /** Counts records the step dropped on purpose (filtered out, duplicates). */
  filtered(count: number): void;
}

/** What the runtime gives an operator when it opens. */
export interface OperatorContext {
  /** The step id: it names the operator's state in checkpoints. */
  readonly stepId: string;
  /** What `snapshot()` returned at the checkpoint being restored, or undefined on a fresh start. */
  readonly restored: unknown;
  /** Processing time. */
  readonly clock: Clock;
  /**
   * This step's watermark: the minimum over the sources upstream of it that are not idle (epoch
   * ms; -Infinity before the first one).
   */
  watermark(): number;
  /** The job's logger, for warnings about results (not per record); absent means silent. */
  readonly log?: Logger;
  /**
   * The step's keyed state: named maps from key to plain data, restored from the checkpoint and
   * snapshotted by the runtime, grouped by key group so that state can follow its partitions to
   * another worker (`runtime/keyed-state.ts`). An operator keeps in its own `snapshot` only what
   * is not per key (its watermark). Absent outside a job (unit tests of an operator).
   */
  readonly state?: StateBackend;
  /**
   * Fails the job: for an asynchronous operator whose work failed outside any record (the
   * runtime catches what a synchronous operator throws).
   */
  fail?(error: SluiceError): void;
  /**
   * An asynchronous operator emitted outside a call from the runtime: the runtime lets the steps
   * after it catch up (watermarks held back for what was in flight, steps merging branches).
   */
  asyncEmitted?(): void;
}

/**
 * What the runtime needs of an operator whose work finishes later (`Operator.async`; see
 * `operators/async-stage.ts`): it emits through the `out` of `processBatch` when results are
 * ready, and the runtime waits on it.
 */
export interface AsyncBoundary {
  /** Whether it takes no more input until some finishes: the sources wait (backpressure). */
  readonly full: boolean;
  belowCapacity(): Promise<void>;
  /** Resolves once everything taken so far has been emitted (before checkpoints, at the end of input). */
  drain(): Promise<void>;
  /**
   * The watermark of the oldest input still in flight (+∞ when none): the steps after it stay at
   * or below it, so that what it emits later is not late for having been slow.
   */
  readonly heldWatermark: number;
  /** Drops what is in flight and emits nothing more (the job failed). */
  cancel(): void;
  /**
   * Opens what the work needs (a lookup table's connection, a file loaded into memory), once,
   * after `Operator.open` and before any batch; a rejection fails the job's start.
   */
  acquire?(): Promise<void>;
  /**
   * Closes it, once, when the job ends — after the last drain, or after `cancel` on a failure —
   * and after a failed start. Should not throw.
   */
  release?(): Promise<void>;
}

/**
 * The runtime form of a step. Only `processBatch` is required; the hooks have no-op defaults.
 *
 * Order of calls: `open` once; then any interleaving of `processBatch`, `onWatermark`,
 * `onProcessingTime` and `snapshot`; `onCheckpointComplete` after a snapshot is durable; at end of
 * input `onWatermark(Infinity)` and then `close`.
 */
export interface Operator {
  /** Where `out.late` sends records; default `late_output` when the pipeline has one, else dead letters. */
  readonly onLate?: LatePolicy;
  /** True when the operator consumes records into results (aggregates), for record accounting. */
  readonly absorbs?: boolean;
  /** Present when the operator works asynchronously: what the runtime waits on. */
  readonly async?: AsyncBoundary;
  open?(ctx: OperatorContext): void;
  /**
   * Handles a batch that arrived on input `input`: its index in the step's `input` list (0 for a
   * step with one input). A step with several inputs (a union, a join) is called for each as
   * its batches come, in no order between inputs but in order within each. The runtime always
   * passes it; a caller that leaves it out (a unit test of a one-input step) means input 0.
   */
  processBatch(batch: Batch, out: Output, input?: number): void;
  /**
   * This step's watermark advanced to `watermark` (the minimum over its sources that are not
   * idle). Fire event-time timers and windows here.
   */
  onWatermark?(watermark: number, out: Output): void;
  /** Processing time advanced to `now` (called about every 100 ms). */
  onProcessingTime?(now: number, out: Output): void;
  /**
   * Returns the operator's state for a checkpoint: plain data the checkpoint format carries
   * (plain objects, arrays, Maps, Sets, Dates, typed arrays, bigints; no class instances, no
   * cycles: `checkpoint/value-codec.ts`). Called at a batch boundary; must not do I/O.
   */
  snapshot?(): unknown;
  onCheckpointComplete?(checkpointId: number): void;
  /** End of input or shutdown; emit nothing after this returns. */
  close?(out: Output): void;
}

/** What a step factory knows of its place in the plan. */
export interface StepInfo {
  readonly id: string;
  /**
   * What the step reads in port order (`input` in the plan): ids, or `<step>.<port>` for a side
   * output; absent in unit tests of one-input steps.
   */
  readonly inputs?: readonly string[];
  /**
   * The changelog mode of each input, in `inputs` order (see `Plan.modes`); absent in unit tests
   * that build an operator outside a plan, where every input is append-only.
   */
  readonly inputModes?: readonly ChangelogMode[];
  /** Folder relative paths in the config resolve against. */
  readonly baseDir: string;
  /** Processing time, for expressions calling now(). */
  readonly clock: Clock;
  /**
   * The tree of the expression at config `path`, one the spec's `expressions` declares, as plan
   * resolution parsed it: a factory compiles it (`compileExpression` takes trees) and never
   * parses the config's text. Throws INTERNAL for a path the spec does not declare.
   */
  expression(path: string): Expr;
  /** Functions given by the TypeScript API, by step id (YAML plans have none). */
  readonly functions: ReadonlyMap<string, unknown>;
  /** The registered lookup types, for a step that reads a lookup table; absent in unit tests that need none. */
  readonly lookup?: (type: string) => LookupSpec | undefined;
  /** The registered lookup types' names, for messages. */
  readonly lookupTypes?: () => readonly string[];
}

/** Where a step sends its late records. */
export type LatePolicy = 'late_output' | 'dead_letter' | 'drop';
