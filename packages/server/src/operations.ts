/**
 * The operations API's answers: the job's status and totals, its step graph with counters, rates
 * and watermarks, its checkpoint history and its recent dead letters. Rates are per second over
 * the last sampling interval (`RateSampler`).
 */

import type { Job, JobMetrics, StateSize } from '@sluice/core';
import type { SinkTimings } from './sink-timings.ts';
import { viewTable } from './views.ts';

/** A number for JSON: ±Infinity and NaN (no watermark yet, or the end of time) become null. */
const finite = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? null : n);

/** Samples a job's metrics at an interval, so that answers can carry rates. */
export class RateSampler {
  readonly #job: Job;
  readonly #now: () => number;
  #previous: { at: number; metrics: JobMetrics } | undefined;
  #current: { at: number; metrics: JobMetrics };
  readonly #timer: NodeJS.Timeout;

  constructor(job: Job, now: () => number, intervalMs: number) {
    this.#job = job;
    this.#now = now;
    this.#current = { at: now(), metrics: job.metrics() };
    this.#timer = setInterval(() => this.sample(), intervalMs);
    this.#timer.unref();
  }

  /** Takes a sample now. */
  sample(): void {
    this.#previous = this.#current;
    this.#current = { at: this.#now(), metrics: this.#job.metrics() };
  }

  /** Per-second rate of a counter between the last two samples (0 before the second sample). */
  rate(pick: (m: JobMetrics) => number | undefined): number {
    const prev = this.#previous;
    if (!prev) return 0;
    const dt = (this.#current.at - prev.at) / 1000;
    if (dt <= 0) return 0;
    return Math.max(0, ((pick(this.#current.metrics) ?? 0) - (pick(prev.metrics) ?? 0)) / dt);
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/** `GET /api/job`. */
export function jobInfo(job: Job, startedAt: number, now: number) {
  const m = job.metrics();
  return {
    pipeline: job.plan.name,
    status: job.status,
    startedAt,
    uptimeMs: now - startedAt,
    totals: {
      recordsIn: m.recordsIn,
      recordsOut: m.recordsOut,
      deadLetters: m.deadLetters,
      late: m.late,
      filtered: m.filtered,
      unread: m.unread,
    },
    watermark: finite(m.watermark),
    watermarkLagMs: Number.isFinite(m.watermark) ? now - m.watermark : null,
    lastCheckpoint:
      m.lastCheckpointId === undefined ? null : { id: m.lastCheckpointId, completedAt: m.lastCheckpointAt },
  };
}

/** `GET /api/steps`: every source, step and sink with its inputs, counters and rates. */
export function stepGraph(job: Job, rates: RateSampler, now: number, timings: SinkTimings) {
  const m = job.metrics();
  const sizes = job.stateSizes();
  const state = (size: StateSize | undefined, checkpointId = sizes?.checkpointId) =>
    size === undefined ? null : { ...size, checkpointId };
  const watermarks = job.stepWatermarks();
  const sourceWatermarks = job.sourceWatermarks();
  const plan = job.plan;
  const sources = plan.sources.map((s) => ({
    id: s.id,
    kind: 'source' as const,
    type: s.type,
    inputs: [] as string[],
    counters: m.sources[s.id] ?? { in: 0, dead: 0 },
    rates: {
      inPerSec: rates.rate((x) => x.sources[s.id]?.in),
      outPerSec: rates.rate((x) => outOfSource(x, s.id)),
    },
    ...watermarkOf(sourceWatermarks[s.id], now),
    state: state(sizes?.sources[s.id]),
  }));
  const steps = plan.steps.map((s) => {
    return {
      id: s.id,
      kind: 'step' as const,
      type: s.type,
      inputs: [...s.inputs],
      counters: m.steps[s.id],
      rates: {
        inPerSec: rates.rate((x) => x.steps[s.id]?.in),
        outPerSec: rates.rate((x) => x.steps[s.id]?.out),
        resultsPerSec: rates.rate((x) => x.steps[s.id]?.results),
      },
      ...watermarkOf(watermarks[s.id], now),
      state: state(sizes?.steps[s.id]),
    };
  });
  const queues = job.sinkQueues();
  const sinks = plan.sinks.map((s) => ({
    id: s.id,
    kind: 'sink' as const,
    type: s.type,
    inputs: [s.input],
    counters: m.sinks[s.id] ?? { written: 0, rejected: 0 },
    rates: {
      inPerSec: rates.rate((x) => x.sinks[s.id]?.written),
      outPerSec: rates.rate((x) => x.sinks[s.id]?.written),
    },
    ...queueOf(queues[s.id]),
    writeLatency: timings.latency(s.id),
    state: sinkState(plan.name, s, sizes?.sinks[s.id], sizes?.checkpointId),
  }));
  return { pipeline: plan.name, nodes: [...sources, ...steps, ...sinks] };
}

/**
 * A sink's state at the last checkpoint; for a view, `keys` is its rows (now: the view is in
 * memory, so counting costs nothing).
 */
function sinkState(
  pipeline: string,
  sink: Job['plan']['sinks'][number],
  size: StateSize | undefined,
  checkpointId: number | undefined,
) {
  if (size === undefined) return null;
  if (sink.type !== 'view') return { ...size, checkpointId };
  const name = (sink.config as { name?: string }).name ?? sink.id;
  return { ...size, keys: viewTable(pipeline, name)?.size, checkpointId };
}

/**
 * A sink's queue: records waiting, how full it is (0 to 1), and whether it is full — then it holds
 * the sources back (backpressure).
 */
function queueOf(q: { queued: number; fill: number } | undefined) {
  const fill = q?.fill ?? 0;
  return { queued: q?.queued ?? 0, queueFill: fill, backpressure: fill >= 1 };
}

/** A watermark and how far it trails `now`; both null when there is none (before the first, after the end). */
function watermarkOf(wm: number | undefined, now: number) {
  const known = wm !== undefined && Number.isFinite(wm);
  return { watermark: known ? wm : null, watermarkLagMs: known ? now - wm : null };
}

/** What a source passed on: what it read less what failed to decode or carried no valid time. */
function outOfSource(m: JobMetrics, id: string): number | undefined {
  const c = m.sources[id];
  return c && c.in - c.dead;
}

/** `GET /api/checkpoints`. */
export function checkpoints(job: Job) {
  return { checkpoints: job.checkpointHistory().toReversed() };
}

/**
 * `GET /api/dead-letters`: the newest first, at most `limit`, each with its number in this run
 * (`id`, what replay takes).
 */
export function deadLetters(job: Job, limit: number) {
  const letters = job.numberedDeadLetters();
  return {
    total: job.metrics().deadLetters,
    deadLetters: letters
      .slice(-limit)
      .toReversed()
      .map(({ id, letter }) => ({ id, ...letter, eventTime: finite(letter.eventTime) ?? undefined })),
  };
}
