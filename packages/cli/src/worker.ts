/**
 * `sluice run --worker-id ID --checkpoint-store postgres://…`: runs the pipeline as one worker of
 * a scaled-out group (see @sluice/kafka's `KafkaWorker`): the tasks of the partitions Kafka
 * assigns it, each checkpointing to its own slot of the shared PostgreSQL store. With
 * `--threads N` (N > 1) the process runs N such workers, one per worker thread
 * (`worker-threads.ts`).
 */

import {
  type CheckpointStore,
  createLogger,
  defaultRestartStrategy,
  type Logger,
  type LogLevel,
  parseDuration,
  SluiceError,
} from '@sluice/core';
import { explain } from './explain.ts';
import type { RunOptionsRaw } from './main.ts';
import { loadWithPlugins } from './plugins.ts';
import { parseRestart } from './restart-option.ts';
import { parseThreads, runWorkerThreads } from './worker-threads.ts';

/** Runs `file` as worker `opts.workerId` (N workers with `--threads N`); returns the process exit code. */
export async function runWorkerCommand(
  file: string,
  opts: RunOptionsRaw & { workerId: string },
): Promise<number> {
  const log = workerLogger(opts);
  const threads = parseThreads(opts.threads);
  if (typeof threads === 'string') {
    process.stderr.write(`sluice: ${threads}\n`);
    return 2;
  }
  const stopper = new AbortController();
  let stop: () => void = () => stopper.abort();
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    if (interrupts > 1) {
      process.stderr.write(`\nsluice: second ${signal}, exiting without final checkpoints\n`);
      process.exit(130);
    }
    log.info('worker stopping: tasks drain, take final checkpoints and release their state', { signal });
    stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const refused = refusedOption(opts);
    if (refused !== undefined) {
      process.stderr.write(`sluice: ${refused}\n`);
      return 2;
    }
    if (threads > 1) {
      const run = runWorkerThreads(file, opts, threads, log);
      stop = run.stop;
      if (interrupts > 0) run.stop();
      return await run.done;
    }
    try {
      await runWorker(file, opts, opts.workerId, log, stopper.signal);
      return 0;
    } catch (err) {
      process.stderr.write(explain(err, file));
      return 1;
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** The logger of a worker process (or thread), from `--log-level` and `--log-format`. */
export function workerLogger(opts: RunOptionsRaw, base?: { [k: string]: unknown }): Logger {
  const format = opts.logFormat === 'text' ? 'text' : 'json';
  return createLogger({ level: opts.logLevel as LogLevel, format, ...(base ? { base } : {}) });
}

/** Why `opts` cannot run as a worker (a usage error), or undefined. */
function refusedOption(opts: RunOptionsRaw): string | undefined {
  if (opts.fromScratch) {
    // Every task start (each rebalance) would throw the moved state away.
    return "--from-scratch does not combine with --worker-id; clear the pipeline's rows of the checkpoint store instead";
  }
  if (opts.serve !== undefined) {
    // The server answers for one job; a worker runs a job per task, and its tasks come and go
    // with every rebalance, so its views would hold an unknown share of the keys.
    return (
      '--serve does not combine with --worker-id yet: a worker runs one job per task and its tasks move between workers, ' +
      'so no single server sees the whole pipeline; see the workers with `sluice status <pipeline> --checkpoint-store <url>`, ' +
      'or write the results to a store (PostgreSQL, Redis, DuckDB) and serve them from there'
    );
  }
  if (opts.maxDeadLetters !== undefined) {
    return '--max-dead-letters does not combine with --worker-id yet: each task counts only its own dead letters';
  }
  const restart = parseRestart(opts, defaultRestartStrategy.maxAttempts);
  return typeof restart === 'string' ? restart : undefined;
}

/**
 * Runs `file` as the group member `workerId` until `signal` aborts (then every task drains, takes
 * its final checkpoint and releases its slot) or the worker fails (rejects).
 */
export async function runWorker(
  file: string,
  opts: RunOptionsRaw,
  workerId: string,
  log: Logger,
  signal: AbortSignal,
): Promise<void> {
  const url = opts.checkpointStore ?? process.env.SLUICE_CHECKPOINT_STORE;
  const kind = url === undefined ? undefined : storeKind(url);
  if (url === undefined || kind === undefined) {
    throw new SluiceError(
      'CONFIG_INVALID',
      '--worker-id needs a shared checkpoint store: --checkpoint-store postgres://user@host:5432/db ' +
        'or s3://bucket/prefix/ (or SLUICE_CHECKPOINT_STORE); the local folder cannot follow partitions between workers',
    );
  }
  const leaseMs = parseDuration(opts.lease ?? '10s', '--lease');
  const restart = parseRestart(opts, defaultRestartStrategy.maxAttempts);
  if (typeof restart === 'string') throw new SluiceError('CONFIG_INVALID', restart);
  const { plan, functions, registry } = await loadWithPlugins(file);
  const [{ KafkaWorker }, makeStore] = await Promise.all([
    importPackage<typeof import('@sluice/kafka')>('@sluice/kafka'),
    storeFactory(url, kind),
  ]);
  const worker = KafkaWorker.create(plan, {
    registry,
    functions,
    log,
    workerId,
    signal,
    restart,
    checkpointStore: (ctx) =>
      makeStore({
        pipeline: ctx.pipeline,
        // A regrouping pipeline's task has a second part, reading the repartition topic.
        slot: `tasks/${ctx.task.partition}${ctx.task.part === undefined ? '' : `/${ctx.task.part}`}`,
        owner: workerId,
        keep: ctx.keep,
        leaseMs,
        signal: ctx.signal,
        log: ctx.log,
      }),
  });
  log.info('worker started', { pipeline: plan.name, worker: workerId, file });
  await worker.run();
  log.info('worker stopped', { pipeline: plan.name, worker: workerId });
}

/** The kinds of shared checkpoint store a worker can use, by URL scheme. */
type StoreKind = 'postgres' | 's3';

/** Which shared store `url` names; undefined when none. */
export function storeKind(url: string): StoreKind | undefined {
  if (/^postgres(ql)?:\/\//.test(url)) return 'postgres';
  if (url.startsWith('s3://')) return 's3';
  return undefined;
}

/** What every slot's store is made from, besides the store's URL. */
interface SlotOptions {
  pipeline: string;
  slot: string;
  owner: string;
  keep: number;
  leaseMs: number;
  signal?: AbortSignal;
  log?: Logger;
}

/** Makes the stores of one shared checkpoint store, one per slot (one client for them all with S3). */
async function storeFactory(url: string, kind: StoreKind): Promise<(o: SlotOptions) => CheckpointStore> {
  if (kind === 'postgres') {
    const { PostgresCheckpointStore } =
      await importPackage<typeof import('@sluice/postgres')>('@sluice/postgres');
    return (o) => new PostgresCheckpointStore({ url, ...o });
  }
  const { S3CheckpointStore, s3StoreLocation } =
    await importPackage<typeof import('@sluice/s3')>('@sluice/s3');
  const location = s3StoreLocation(url);
  return (o) => new S3CheckpointStore({ ...location, ...o });
}

/** Imports connector package `pkg`, which `what` (`--worker-id`) needs; PIPELINE_LOAD says how to install it. */
export async function importPackage<T>(pkg: string, what = '--worker-id'): Promise<T> {
  try {
    return (await import(pkg)) as T;
  } catch (err) {
    throw new SluiceError('PIPELINE_LOAD', `${what} needs the package ${pkg}: run \`npm install ${pkg}\``, {
      cause: err,
    });
  }
}
