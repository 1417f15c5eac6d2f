/**
 * `sluice run --worker-id ID --checkpoint-store postgres://…`: runs the pipeline as one worker of
 * a scaled-out group (see @sluice/kafka's `KafkaWorker`): the tasks of the partitions Kafka
 * assigns it, each checkpointing to its own slot of the shared PostgreSQL store.
 */

import { createLogger, type LogLevel, parseDuration, SluiceError } from '@sluice/core';
import { explain } from './explain.ts';
import type { RunOptionsRaw } from './main.ts';
import { loadWithPlugins } from './plugins.ts';

/** Runs `file` as worker `opts.workerId`; returns the process exit code. */
export async function runWorkerCommand(
  file: string,
  opts: RunOptionsRaw & { workerId: string },
): Promise<number> {
  const format = opts.logFormat === 'text' ? 'text' : 'json';
  const log = createLogger({ level: opts.logLevel as LogLevel, format });
  let stop: (() => void) | undefined;
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    if (interrupts > 1) {
      process.stderr.write(`\nsluice: second ${signal}, exiting without final checkpoints\n`);
      process.exit(130);
    }
    log.info('worker stopping: tasks drain, take final checkpoints and release their state', { signal });
    stop?.();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  if (opts.fromScratch) {
    // Every task start (each rebalance) would throw the moved state away.
    process.stderr.write(
      "sluice: --from-scratch does not combine with --worker-id; clear the pipeline's rows of the checkpoint store instead\n",
    );
    return 2;
  }
  if (opts.serve !== undefined || opts.maxDeadLetters !== undefined) {
    process.stderr.write('sluice: --serve and --max-dead-letters do not combine with --worker-id yet\n');
    return 2;
  }
  try {
    const url = opts.checkpointStore ?? process.env.SLUICE_CHECKPOINT_STORE;
    if (url === undefined || !/^postgres(ql)?:\/\//.test(url)) {
      throw new SluiceError(
        'CONFIG_INVALID',
        '--worker-id needs a shared checkpoint store: --checkpoint-store postgres://user@host:5432/db ' +
          '(or SLUICE_CHECKPOINT_STORE); the local folder cannot follow partitions between workers',
      );
    }
    const leaseMs = parseDuration(opts.lease ?? '10s', '--lease');
    const { plan, functions, registry } = await loadWithPlugins(file);
    const [{ KafkaWorker }, { PostgresCheckpointStore }] = await Promise.all([
      importPackage<typeof import('@sluice/kafka')>('@sluice/kafka'),
      importPackage<typeof import('@sluice/postgres')>('@sluice/postgres'),
    ]);
    const worker = KafkaWorker.create(plan, {
      registry,
      functions,
      log,
      workerId: opts.workerId,
      checkpointStore: (ctx) =>
        new PostgresCheckpointStore({
          url,
          pipeline: ctx.pipeline,
          // A regrouping pipeline's task has a second part, reading the repartition topic.
          slot: `tasks/${ctx.task.partition}${ctx.task.part === undefined ? '' : `/${ctx.task.part}`}`,
          owner: opts.workerId,
          keep: ctx.keep,
          leaseMs,
          signal: ctx.signal,
          log: ctx.log,
        }),
    });
    stop = () => worker.stop();
    if (interrupts > 0) worker.stop();
    log.info('worker started', { pipeline: plan.name, worker: opts.workerId, file });
    await worker.run();
    log.info('worker stopped', { pipeline: plan.name, worker: opts.workerId });
    return 0;
  } catch (err) {
    process.stderr.write(explain(err, file));
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
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
