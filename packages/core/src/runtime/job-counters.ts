/**
 * A job's counters: flattened for checkpoints (so totals survive restarts) and summed into
 * `JobMetrics`.
 */

import type { Node } from './graph.ts';
import type { JobMetrics, StepCounters } from './metrics.ts';
import type { SinkRunner } from './sink-runner.ts';

/** What a source has read and sent to dead letters. */
export interface SourceCounters {
  readonly id: string;
  /** Records read, including those that failed to decode or had no valid event time. */
  in: number;
  /** Records sent to dead letters at the source (decode or event-time failures). */
  dead: number;
  /** The lag its readers last reported (see `SourceRuntime.lag`). */
  lag?(): { lag: { [partition: string]: number }; unit: 'records' | 'bytes' } | undefined;
}

/** The counted parts of a job. */
export interface Counted {
  sources: readonly SourceCounters[];
  nodes: readonly Node[];
  /** Sinks fed by steps or sources. */
  sinks: readonly SinkRunner[];
  /** Dead-letter and late outputs. */
  outputs: readonly SinkRunner[];
  /** The job's own counters. */
  job: JobCounters;
}

/** What the job counts of itself. */
export interface JobCounters {
  /** Times the job was restarted after a failure (`JobOptions.restart`), over its checkpointed history. */
  restarts: number;
}

/** Every counter under a stable name (`source:<id>:in`, `step:<id>:dead`, …): checkpoint format. */
export function flattenCounters(job: Counted): { [name: string]: number } {
  const c: { [name: string]: number } = {};
  for (const src of job.sources) {
    c[`source:${src.id}:in`] = src.in;
    c[`source:${src.id}:dead`] = src.dead;
  }
  for (const node of job.nodes) {
    for (const [k, v] of Object.entries(node.counters)) c[`step:${node.id}:${k}`] = v;
  }
  for (const runner of [...job.sinks, ...job.outputs]) {
    c[`sink:${runner.id}:written`] = runner.written;
    c[`sink:${runner.id}:rejected`] = runner.rejected;
  }
  c['job:restarts'] = job.job.restarts;
  return c;
}

/** Sets every counter from what `flattenCounters` produced (missing names count 0). */
export function restoreCounters(job: Counted, c: { readonly [name: string]: number }): void {
  for (const src of job.sources) {
    src.in = c[`source:${src.id}:in`] ?? 0;
    src.dead = c[`source:${src.id}:dead`] ?? 0;
  }
  for (const node of job.nodes) {
    for (const k of Object.keys(node.counters) as (keyof StepCounters)[]) {
      node.counters[k] = c[`step:${node.id}:${k}`] ?? 0;
    }
  }
  for (const runner of [...job.sinks, ...job.outputs]) {
    runner.written = c[`sink:${runner.id}:written`] ?? 0;
    runner.rejected = c[`sink:${runner.id}:rejected`] ?? 0;
  }
  job.job.restarts = c['job:restarts'] ?? 0;
}

/** The counters part of `JobMetrics`, with the totals. */
export function sumCounters(
  job: Counted,
): Pick<
  JobMetrics,
  | 'recordsIn'
  | 'recordsOut'
  | 'deadLetters'
  | 'late'
  | 'filtered'
  | 'unread'
  | 'sources'
  | 'steps'
  | 'sinks'
  | 'outputs'
  | 'restarts'
> {
  const sources: JobMetrics['sources'] = {};
  let recordsIn = 0;
  let deadLetters = 0;
  for (const src of job.sources) {
    const m: JobMetrics['sources'][string] = { in: src.in, dead: src.dead };
    const lag = src.lag?.();
    if (lag !== undefined) {
      m.lag = lag.lag;
      m.lagUnit = lag.unit;
    }
    sources[src.id] = m;
    recordsIn += src.in;
    deadLetters += src.dead;
  }
  const steps: JobMetrics['steps'] = {};
  let late = 0;
  let filtered = 0;
  let unread = 0;
  for (const node of job.nodes) {
    const c = node.snapshotCounters();
    steps[node.id] = c;
    deadLetters += c.dead;
    late += c.late;
    filtered += c.filtered;
    unread += c.unread;
  }
  const sinks: JobMetrics['sinks'] = {};
  let recordsOut = 0;
  for (const runner of job.sinks) {
    sinks[runner.id] = { written: runner.written, rejected: runner.rejected };
    recordsOut += runner.written;
    deadLetters += runner.rejected;
  }
  const outputs: JobMetrics['outputs'] = {};
  for (const runner of job.outputs)
    outputs[runner.id] = { written: runner.written, rejected: runner.rejected };
  return {
    recordsIn,
    recordsOut,
    deadLetters,
    late,
    filtered,
    unread,
    sources,
    steps,
    sinks,
    outputs,
    restarts: job.job.restarts,
  };
}
