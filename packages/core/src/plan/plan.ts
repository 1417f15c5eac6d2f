/**
 * The plan: the serializable graph every front end (YAML, TypeScript, later SQL) compiles to.
 *
 * The runtime only sees plans. Ids are stable: a step's id names its state in checkpoints, so a
 * restarted job finds its state again. Configs are already validated against their component
 * specs (defaults applied) when a plan reaches the runtime.
 */

import type { ErrorLocation } from '../errors.ts';
import type { Expr, RecordSchema } from '../expr/index.ts';
import type { ChangelogMode } from '../spec.ts';
import type { StreamKey } from './keys.ts';

/**
 * The parsed SQL expressions of a source, step or sink, by config path (`where`, `fields.total`,
 * `key[0]`, `event_time.expression`): set by `resolvePlan`, which parses each expression once, so
 * that front ends type-check before running and the runtime compiles trees, never text. Plain data
 * (JSON: no class instances, functions or non-finite numbers), so a plan with them can be stored,
 * sent and compared.
 */
export type PlanExpressions = { readonly [path: string]: Expr };

/** How a source assigns event time and watermarks. */
export interface EventTimeConfig {
  /** Field holding epoch ms or ISO-8601 text. Exclusive with `expression`. */
  field?: string;
  /** SQL expression computing the event time. */
  expression?: string;
  /** Bounded out-of-orderness: watermark = max event time seen − this, in ms. */
  maxOutOfOrderness: number;
  /** A partition with no record for this long stops holding the watermark back (ms). */
  idleTimeout?: number;
}

export interface PlanSource {
  readonly id: string;
  readonly type: string;
  readonly config: unknown;
  /** Absent: processing time (the time the record was read). */
  readonly eventTime?: EventTimeConfig;
  /** `event_time.expression` parsed (see {@link PlanExpressions}). */
  readonly expressions?: PlanExpressions;
}

/**
 * What a step or sink reads: a source's or step's id for its (main) output, or
 * `<step id>.<port>` for a side output of a step (`detect.timeouts`). Ids hold no dots, so the
 * first dot separates the two.
 */
export type StreamRef = string;

/** The step (or source) id and the side-output port a {@link StreamRef} names. */
export function parseStreamRef(ref: StreamRef): { readonly id: string; readonly port?: string } {
  const dot = ref.indexOf('.');
  return dot < 0 ? { id: ref } : { id: ref.slice(0, dot), port: ref.slice(dot + 1) };
}

/**
 * The name by which the expressions of a step that names its inputs (a join, a lookup) read an
 * input's records: its id, or for a side output its port (`timeouts.user` for
 * `detect.timeouts`).
 */
export function inputName(ref: StreamRef): string {
  const dot = ref.indexOf('.');
  return dot < 0 ? ref : ref.slice(dot + 1);
}

/** The id of the source or step a {@link StreamRef} reads from. */
export function refId(ref: StreamRef): string {
  const dot = ref.indexOf('.');
  return dot < 0 ? ref : ref.slice(0, dot);
}

export interface PlanStep {
  readonly id: string;
  readonly type: string;
  /** What this step reads, in port order: sources' or steps' ids, or side outputs (`<step>.<port>`). */
  readonly inputs: readonly StreamRef[];
  readonly config: unknown;
  /** The expressions its spec declares (`StepSpec.expressions`), parsed (see {@link PlanExpressions}). */
  readonly expressions?: PlanExpressions;
}

export interface PlanSink {
  readonly id: string;
  readonly type: string;
  /** Id of the source or step whose output the sink writes, or a side output (`<step>.<port>`). */
  readonly input: StreamRef;
  readonly config: unknown;
  /** The expressions its spec declares (`SinkSpec.expressions`), parsed (see {@link PlanExpressions}). */
  readonly expressions?: PlanExpressions;
}

/** A sink-like output that is not fed by a step: dead letters or late records. */
export interface PlanOutput {
  readonly type: string;
  readonly config: unknown;
  /** As {@link PlanSink.expressions}. */
  readonly expressions?: PlanExpressions;
}

export interface CheckpointSettings {
  /** Milliseconds between checkpoints; 0 disables periodic checkpoints. */
  readonly interval: number;
  /** Checkpoint directory (relative to the pipeline file's folder). */
  readonly dir: string;
  /** How many completed checkpoints to keep. */
  readonly keep: number;
}

export interface PipelineSettings {
  readonly checkpoint: CheckpointSettings;
  /** Most records a source read returns. */
  readonly batchSize: number;
  /** Default idle timeout of source partitions (ms). */
  readonly idleTimeout: number;
  /** Records a sink may have queued before sources pause (backpressure). */
  readonly sinkQueueRecords: number;
  /** Bytes (estimated, see `batchBytes`) a sink may have queued before sources pause. */
  readonly sinkQueueBytes: number;
}

export interface Plan {
  readonly name: string;
  /**
   * What the records of each source and step look like, where known: set by `resolvePlan`,
   * which checks every step's expressions against them (see `schema.ts`). A side output's is
   * under its reference (`detect.timeouts`).
   */
  readonly schemas?: { readonly [id: string]: RecordSchema };
  /**
   * What each source, step and side output (`detect.timeouts`) is keyed by, where known: its
   * partition key (what keyed state groups by) and its unique keys (the fields that identify a
   * row of an updating stream). Set by `resolvePlan`, which checks upsert sinks against them
   * (see `keys.ts`).
   */
  readonly keys?: { readonly [ref: string]: StreamKey };
  /**
   * The changelog mode of each source, step and side output that is not append-only (absent:
   * appends). Set by `resolvePlan`'s changelog check (see `changelog-check.ts`).
   */
  readonly modes?: { readonly [ref: string]: ChangelogMode };
  readonly sources: readonly PlanSource[];
  readonly steps: readonly PlanStep[];
  readonly sinks: readonly PlanSink[];
  readonly deadLetter?: PlanOutput;
  /** Where late records go when a step says `on_late: late_output`. */
  readonly lateOutput?: PlanOutput;
  readonly settings: PipelineSettings;
  /** Folder relative paths resolve against. */
  readonly baseDir: string;
  /** Where each config path came from (e.g. `steps[2].fields.region`), for error messages. */
  readonly locations?: { readonly [path: string]: ErrorLocation };
}

export const defaultSettings: PipelineSettings = {
  checkpoint: { interval: 10_000, dir: '.sluice/checkpoints', keep: 3 },
  batchSize: 1024,
  idleTimeout: 5_000,
  sinkQueueRecords: 16_384,
  sinkQueueBytes: 64 * 1024 ** 2,
};
