/**
 * How long sink writes and commits take, from `Job.observeSinkTimes`: Prometheus histograms
 * (`sluice_sink_write_duration_seconds`, `sluice_sink_commit_duration_seconds`, by sink) and, for
 * the status API and `sluice top`, quantiles over each sink's last writes.
 */

import type { Job } from '@sluice/core';
import { Histogram, type Registry } from 'prom-client';

/** From half a millisecond (a view, a file) to half a minute (a warehouse load, a slow commit). */
export const SINK_SECONDS_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

/** How many of a sink's last writes its quantiles are taken over. */
const WINDOW = 512;

/** A sink's recent write latency, in milliseconds; null values before its first write. */
export interface WriteLatency {
  /** Writes since the server started. */
  writes: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

/** The last `WINDOW` write durations of one sink, in seconds. */
class Recent {
  readonly samples = new Float64Array(WINDOW);
  count = 0;

  add(seconds: number): void {
    this.samples[this.count % WINDOW] = seconds;
    this.count++;
  }

  summary(): WriteLatency {
    const n = Math.min(this.count, WINDOW);
    if (n === 0) return { writes: 0, p50Ms: null, p99Ms: null, maxMs: null };
    const sorted = this.samples.slice(0, n).sort();
    // Nearest rank: the smallest sample at or above the quantile's share of samples.
    const at = (q: number) => round(sorted[Math.min(n - 1, Math.ceil(q * n) - 1)] * 1000);
    return { writes: this.count, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: round(sorted[n - 1] * 1000) };
  }
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

/** Listens to a job's sink timings for as long as the server runs. */
export class SinkTimings {
  readonly #recent = new Map<string, Recent>();
  readonly #stop: () => void;

  /** Registers the histograms in `registry` and starts listening to `job`. */
  constructor(job: Job, registry: Registry) {
    const writes = new Histogram({
      name: 'sluice_sink_write_duration_seconds',
      help: 'How long a sink’s write of one batch took (the dead-letter and late outputs as $dead_letter, $late_output).',
      labelNames: ['sink'],
      buckets: SINK_SECONDS_BUCKETS,
      registers: [registry],
    });
    const commits = new Histogram({
      name: 'sluice_sink_commit_duration_seconds',
      help: 'How long a sink’s commit at a checkpoint took (sinks with two-phase commit only).',
      labelNames: ['sink'],
      buckets: SINK_SECONDS_BUCKETS,
      registers: [registry],
    });
    this.#stop = job.observeSinkTimes((sink, op, seconds) => {
      if (op === 'commit') {
        commits.observe({ sink }, seconds);
        return;
      }
      writes.observe({ sink }, seconds);
      let recent = this.#recent.get(sink);
      if (recent === undefined) {
        recent = new Recent();
        this.#recent.set(sink, recent);
      }
      recent.add(seconds);
    });
  }

  /** The recent write latency of `sink`. */
  latency(sink: string): WriteLatency {
    return this.#recent.get(sink)?.summary() ?? { writes: 0, p50Ms: null, p99Ms: null, maxMs: null };
  }

  /** Stops listening. */
  close(): void {
    this.#stop();
  }
}
