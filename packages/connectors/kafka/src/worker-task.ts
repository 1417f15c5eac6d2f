/**
 * One run of a worker's task (see `KafkaWorker`): a job per part of the pipeline, each restoring
 * the newest checkpoint of its own slot, run together until every part has ended.
 */

import { Job, type Logger, type Plan, type TaskIdentity } from '@sluice/core';
import type { KafkaWorkerOptions } from './worker.ts';

/** A plan a task runs: the whole pipeline, or one part of a regrouping one. */
export interface TaskPart {
  readonly plan: Plan;
  /** The part's name (`TaskIdentity.part`); undefined: the first. */
  readonly part: string | undefined;
}

/** One task as the worker runs it. */
export interface TaskRun {
  readonly partition: number;
  /** The task's jobs, one per part, once created. */
  jobs: Job[];
  /** Aborted when the task is to stop (revoked, worker stopping). */
  readonly stop: AbortController;
  /** Settles when the task's job has ended and its store is released. */
  done: Promise<void>;
}

/**
 * Runs `run`'s task once: a job per part, each restoring the newest checkpoint of its slot.
 * Rejects when a part fails (the other parts are stopped first: the task is one unit of
 * ownership), once every part has ended and released its store.
 */
export async function runTaskOnce(
  run: TaskRun,
  parts: readonly TaskPart[],
  options: KafkaWorkerOptions,
  log: Logger,
  restart: number,
): Promise<void> {
  const { partition, stop } = run;
  run.jobs = [];
  try {
    for (const { plan, part } of parts) {
      const task: TaskIdentity = part === undefined ? { partition } : { partition, part };
      const job = await Job.create(plan, {
        registry: options.registry,
        log,
        task,
        ...(restart > 0 ? { restart } : {}),
        ...(options.functions ? { functions: options.functions } : {}),
        ...(options.tickInterval ? { tickInterval: options.tickInterval } : {}),
        checkpointStore: (ctx) => options.checkpointStore({ ...ctx, task, signal: stop.signal }),
      });
      run.jobs.push(job);
      if (stop.signal.aborted) job.stop();
    }
  } catch (err) {
    // A part that could not start: the parts made so far give their slots back unrun.
    await Promise.all(run.jobs.map((job) => job.discard().catch(() => {})));
    throw err;
  }
  log.info('worker: task started', {
    worker: options.workerId,
    task: partition,
    ...(restart > 0 ? { restarts: run.jobs[0].metrics().restarts } : {}),
  });
  const settled = await Promise.allSettled(
    run.jobs.map((job) =>
      job.run().catch((err: unknown) => {
        for (const other of run.jobs) other.stop();
        throw err;
      }),
    ),
  );
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed !== undefined) {
    log.info('worker: task stopped', { worker: options.workerId, task: partition, status: 'failed' });
    throw failed.reason;
  }
  const results = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  log.info('worker: task stopped', {
    worker: options.workerId,
    task: partition,
    status: results.map((r) => r.status).join(','),
    last_checkpoint: results[0].metrics.lastCheckpointId ?? null,
  });
}
