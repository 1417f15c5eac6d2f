/**
 * `GET /metrics`: a job's counters in the Prometheus text format, from a `prom-client` registry
 * of the server's own (never the global one, so two servers in one process do not mix).
 *
 * Counters and gauges are read from `Job.metrics()` when scraped; the checkpoint duration
 * histogram observes each completed checkpoint once, from `Job.checkpointHistory()`, at each
 * scrape and at each rate sample; the sink write and commit histograms observe each call as it
 * ends (`sink-timings.ts`).
 */

import type { Job } from '@sluice/core';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { SinkTimings } from './sink-timings.ts';
import { viewTable } from './views.ts';

/** The Prometheus registry of one served job, and the hook that keeps its histogram current. */
export interface JobRegistry {
  readonly registry: Registry;
  /** Observes the checkpoints completed since the last call. */
  observeCheckpoints(): void;
  /** The sinks' write and commit timings (also in the registry as histograms). */
  readonly sinkTimings: SinkTimings;
  /** Stops listening to the job. */
  close(): void;
}

/** Builds the registry of `job`'s metrics, every series labelled with its pipeline. */
export function jobRegistry(job: Job, now: () => number): JobRegistry {
  const registry = new Registry();
  const pipeline = job.plan.name;
  registry.setDefaultLabels({ pipeline });

  const stepCounter = (name: string, help: string, pick: (c: { [k: string]: number }) => number) =>
    new Counter({
      name,
      help,
      labelNames: ['step'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [step, c] of Object.entries(job.metrics().steps))
          this.inc({ step }, pick(c as unknown as { [k: string]: number }));
      },
    });
  stepCounter('sluice_step_records_in_total', 'Records a step took in.', (c) => c.in);
  stepCounter(
    'sluice_step_records_out_total',
    'Records a step passed on (for an aggregate: absorbed into results).',
    (c) => c.out,
  );
  stepCounter(
    'sluice_step_results_total',
    'Records an aggregating step emitted as results.',
    (c) => c.results,
  );
  stepCounter(
    'sluice_step_records_dead_total',
    'Records a step sent to the dead-letter output.',
    (c) => c.dead,
  );
  stepCounter('sluice_step_records_late_total', 'Records a step found late.', (c) => c.late);
  stepCounter(
    'sluice_step_records_filtered_total',
    'Records a step dropped on purpose (filters, dedupe).',
    (c) => c.filtered,
  );

  new Counter({
    name: 'sluice_source_records_in_total',
    help: 'Records read from a source, including those that failed to decode.',
    labelNames: ['source'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [source, c] of Object.entries(job.metrics().sources)) this.inc({ source }, c.in);
    },
  });
  new Counter({
    name: 'sluice_source_records_dead_total',
    help: 'Records of a source that became dead letters before the first step (decode, event time).',
    labelNames: ['source'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [source, c] of Object.entries(job.metrics().sources)) this.inc({ source }, c.dead);
    },
  });
  new Gauge({
    name: 'sluice_source_lag',
    help: 'How far a source trails its system, by upstream partition, in `unit`: records still to read (Kafka consumer lag) or WAL bytes not yet confirmed (PostgreSQL slot lag). Polled every few seconds; absent for sources that cannot say.',
    labelNames: ['source', 'partition', 'unit'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [source, c] of Object.entries(job.metrics().sources))
        for (const [partition, lag] of Object.entries(c.lag ?? {}))
          this.set({ source, partition, unit: c.lagUnit ?? 'records' }, lag);
    },
  });
  const sinkCounter = (name: string, help: string, pick: 'written' | 'rejected') =>
    new Counter({
      name,
      help,
      labelNames: ['sink'],
      registers: [registry],
      collect() {
        this.reset();
        const m = job.metrics();
        for (const [sink, c] of [...Object.entries(m.sinks), ...Object.entries(m.outputs)])
          this.inc({ sink }, c[pick]);
      },
    });
  sinkCounter(
    'sluice_sink_records_written_total',
    'Records a sink (or the dead-letter or late output) wrote.',
    'written',
  );
  sinkCounter(
    'sluice_sink_records_rejected_total',
    'Records a sink refused for good (sent to the dead-letter output).',
    'rejected',
  );

  new Gauge({
    name: 'sluice_watermark_lag_seconds',
    help: 'How far a step’s watermark trails the wall clock (absent before its first watermark and after the end of input).',
    labelNames: ['step'],
    registers: [registry],
    collect() {
      this.reset();
      const t = now();
      for (const [step, wm] of Object.entries(job.stepWatermarks()))
        if (Number.isFinite(wm)) this.set({ step }, (t - wm) / 1000);
    },
  });
  new Gauge({
    name: 'sluice_pipeline_watermark_seconds',
    help: 'The pipeline watermark (the minimum over active sources), as a Unix time.',
    registers: [registry],
    collect() {
      const wm = job.metrics().watermark;
      if (Number.isFinite(wm)) this.set(wm / 1000);
      else this.reset();
    },
  });
  new Gauge({
    name: 'sluice_last_checkpoint_id',
    help: 'Id of the last completed checkpoint (0 before the first).',
    registers: [registry],
    collect() {
      this.set(job.metrics().lastCheckpointId ?? 0);
    },
  });

  new Gauge({
    name: 'sluice_last_checkpoint_size_bytes',
    help: 'Size of the last completed checkpoint, encoded (absent before the first). Views keep their whole table in every checkpoint, so this grows with them.',
    registers: [registry],
    collect() {
      const last = job.checkpointHistory().at(-1);
      if (last === undefined) this.reset();
      else this.set(last.bytes);
    },
  });
  new Gauge({
    name: 'sluice_view_rows',
    help: 'Rows a view holds (in memory, and in each checkpoint).',
    labelNames: ['view'],
    registers: [registry],
    collect() {
      this.reset();
      for (const sink of job.plan.sinks) {
        if (sink.type !== 'view') continue;
        const name = (sink.config as { name?: string }).name ?? sink.id;
        const table = viewTable(pipeline, name);
        if (table) this.set({ view: name }, table.size);
      }
    },
  });

  const stateGauge = (name: string, help: string, label: 'step' | 'sink' | 'source', keys = false) =>
    new Gauge({
      name,
      help,
      labelNames: [label],
      registers: [registry],
      collect() {
        this.reset();
        const sizes = job.stateSizes();
        if (sizes === undefined) return;
        const part = label === 'step' ? sizes.steps : label === 'sink' ? sizes.sinks : sizes.sources;
        for (const [id, size] of Object.entries(part)) {
          if (!keys) this.set({ [label]: id }, size.bytes);
          else if (size.keys !== undefined) this.set({ [label]: id }, size.keys);
        }
      },
    });
  stateGauge(
    'sluice_step_state_bytes',
    'Bytes a step’s state (its snapshot and keyed state) took in the last checkpoint, as encoded.',
    'step',
  );
  stateGauge(
    'sluice_step_state_keys',
    'Keys in a step’s keyed state at the last checkpoint (its largest keyed map’s entries).',
    'step',
    true,
  );
  stateGauge(
    'sluice_sink_state_bytes',
    'Bytes a sink’s pending state (a view’s rows and changes, a file sink’s parts) took in the last checkpoint.',
    'sink',
  );
  stateGauge(
    'sluice_source_state_bytes',
    'Bytes a source’s positions took in the last checkpoint.',
    'source',
  );

  let seen = 0;
  const observeCheckpoints = () => {
    for (const c of job.checkpointHistory()) {
      if (c.id <= seen) continue;
      durations.observe(c.durationMs / 1000);
      seen = c.id;
    }
  };
  const durations = new Histogram({
    name: 'sluice_checkpoint_duration_seconds',
    help: 'How long checkpoints took: snapshot, write and commits.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
    collect: observeCheckpoints,
  });
  const sinkTimings = new SinkTimings(job, registry);
  return { registry, observeCheckpoints, sinkTimings, close: () => sinkTimings.close() };
}
