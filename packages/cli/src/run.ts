/**
 * `sluice run`: load, start, report progress, stop gracefully on SIGINT/SIGTERM, and fail the run
 * when it produces more dead letters than `--max-dead-letters` allows.
 */

import { readFile } from 'node:fs/promises';
import { createLogger, Job, type LogLevel, RestartBackoff, runWithRestarts, SluiceError } from '@sluice/core';
import {
  allDeadWarning,
  type DeadLetterLimit,
  deadLetterLimitExit,
  limitCrossed,
  parseDeadLetterLimit,
} from './dead-letters.ts';
import { explain } from './explain.ts';
import { withIngestToken } from './ingest-token.ts';
import type { RunOptionsRaw } from './main.ts';
import { explainScript, loadWithPlugins } from './plugins.ts';
import { parseRestart } from './restart-option.ts';
import {
  parseRateLimit,
  parseServeAddress,
  type Served,
  type ServeExtras,
  startServer,
} from './serve-option.ts';
import { reportProgress, StatusLine } from './status.ts';
import { filteredSummary } from './summary.ts';

const levels = new Set(['debug', 'info', 'warn', 'error', 'silent']);

/** Runs a pipeline file; returns the process exit code. */
export async function runCommand(file: string, opts: RunOptionsRaw): Promise<number> {
  if (!levels.has(opts.logLevel)) {
    process.stderr.write(`sluice: --log-level must be one of ${[...levels].join(', ')}\n`);
    return 2;
  }
  let limit: DeadLetterLimit | undefined;
  if (opts.maxDeadLetters !== undefined) {
    limit = parseDeadLetterLimit(opts.maxDeadLetters);
    if (limit === undefined) {
      process.stderr.write(
        `sluice: --max-dead-letters must be a count (0 fails on any dead letter) or a percentage of the records read such as 5%, got '${opts.maxDeadLetters}'\n`,
      );
      return 2;
    }
  }
  const address = opts.serve === undefined ? undefined : parseServeAddress(opts.serve);
  if (opts.serve !== undefined && address === undefined) {
    process.stderr.write(
      `sluice: --serve must be a port or host:port such as 8080 or 0.0.0.0:8080, got '${opts.serve}'\n`,
    );
    return 2;
  }
  const restart = parseRestart(opts, 0);
  if (typeof restart === 'string') {
    process.stderr.write(`sluice: ${restart}\n`);
    return 2;
  }
  if (restart.maxAttempts > 0 && opts.serve !== undefined) {
    // The server is bound to one job; a restarted job is another.
    process.stderr.write('sluice: --restart-attempts does not combine with --serve yet\n');
    return 2;
  }
  const extras = await serveExtras(opts);
  if (typeof extras === 'string') {
    process.stderr.write(`sluice: ${extras}\n`);
    return 2;
  }
  const tty = process.stderr.isTTY === true;
  const format =
    opts.logFormat === 'json' || opts.logFormat === 'text' ? opts.logFormat : tty ? 'text' : 'json';
  const status = tty && opts.status ? new StatusLine((s) => process.stderr.write(s)) : undefined;
  const write = status ? (line: string) => status.print(line) : undefined;
  const log = createLogger({ level: opts.logLevel as LogLevel, format, ...(write ? { write } : {}) });
  let job: Job;
  let served: Served | undefined;
  let loaded: Awaited<ReturnType<typeof loadWithPlugins>>;
  try {
    // A SQL script's EXPLAINs print their plans; a script of nothing else runs nothing.
    const shown = await explainScript(file);
    if (shown !== undefined) process.stdout.write(shown.text);
    if (shown?.only) return 0;
    const found = await loadWithPlugins(file);
    // The plan with SLUICE_INGEST_TOKEN given to the http_server sources: a restart runs it too.
    loaded = { ...found, plan: withIngestToken(found.plan, process.env) };
    const { plan, functions, registry } = loaded;
    // Checks every component before any is opened, so that a bad option is reported at its line.
    await Job.validate(plan, { registry, functions });
    job = await Job.create(plan, { registry, log, functions, fromScratch: opts.fromScratch === true });
    if (address) {
      try {
        served = await startServer(job, address, process.env, extras);
      } catch (err) {
        await job.discard();
        throw err;
      }
      log.info('serving', { url: served.url });
    }
    log.info('pipeline started', { pipeline: plan.name, file });
  } catch (err) {
    process.stderr.write(explain(err, file));
    return 1;
  }

  const stopper = new AbortController();
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    if (interrupts > 1) {
      process.stderr.write(`\nsluice: second ${signal}, exiting without a final checkpoint\n`);
      process.exit(130);
    }
    log.info('stopping: draining, taking a final checkpoint', { signal });
    stopper.abort();
    job.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const progress = reportProgress(() => job.metrics(), { log, ...(status ? { status } : {}) });
  let failedByLimit = false;
  const watch =
    limit && 'count' in limit
      ? setInterval(() => {
          const crossed = limitCrossed(limit, job.metrics(), false);
          if (crossed === undefined) return;
          failedByLimit = true;
          job.fail(crossed);
        }, 100)
      : undefined;
  try {
    // A transient failure restarts the job from its last checkpoint when --restart-attempts allows.
    const backoff = new RestartBackoff(restart);
    const { plan, functions, registry } = loaded;
    const result = await runWithRestarts(
      async (attempt) => {
        if (attempt > 0)
          job = await Job.create(plan, { registry, log, functions, restart: backoff.restarts });
        return job.run();
      },
      restart,
      { log, backoff, signal: stopper.signal },
    );
    clearInterval(watch);
    progress.stop();
    if (result === undefined) {
      log.info('pipeline stopped while waiting to restart', { restarts: backoff.restarts });
      return 0;
    }
    const m = result.metrics;
    log.info(result.status === 'completed' ? 'pipeline completed' : 'pipeline stopped', {
      records_in: m.recordsIn,
      records_out: m.recordsOut,
      filtered: filteredSummary(job.plan, m),
      unread_side_outputs: m.unread,
      dead_letters: m.deadLetters,
      late: m.late,
      last_checkpoint: m.lastCheckpointId ?? null,
      sinks: m.sinks,
      outputs: m.outputs,
    });
    const crossed = limit && limitCrossed(limit, m, true);
    if (crossed) {
      process.stderr.write(explain(crossed, file));
      return deadLetterLimitExit;
    }
    const warning = allDeadWarning(m, file);
    if (warning) log.warn(warning, { records_in: m.recordsIn, dead_letters: m.deadLetters });
    return 0;
  } catch (err) {
    clearInterval(watch);
    progress.stop();
    process.stderr.write(explain(err, file));
    return failedByLimit && err instanceof SluiceError && err.code === 'DEAD_LETTER_LIMIT'
      ? deadLetterLimitExit
      : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await served?.close();
  }
}

/** The server options beside `--serve` (TLS files read here), or what is wrong with them. */
async function serveExtras(opts: RunOptionsRaw): Promise<ServeExtras | string> {
  const { serveTlsCert, serveTlsKey, serveRateLimit } = opts;
  if (opts.serve === undefined) {
    const alone =
      serveTlsCert !== undefined
        ? '--serve-tls-cert'
        : serveTlsKey !== undefined
          ? '--serve-tls-key'
          : serveRateLimit !== undefined
            ? '--serve-rate-limit'
            : undefined;
    return alone === undefined ? {} : `${alone} needs --serve`;
  }
  const extras: ServeExtras = {};
  if ((serveTlsCert === undefined) !== (serveTlsKey === undefined))
    return '--serve-tls-cert and --serve-tls-key go together: the certificate and its private key';
  if (serveTlsCert !== undefined && serveTlsKey !== undefined) {
    try {
      extras.tls = { cert: await readFile(serveTlsCert), key: await readFile(serveTlsKey) };
    } catch (err) {
      return `cannot read the TLS certificate or key: ${(err as Error).message}`;
    }
  }
  if (serveRateLimit !== undefined) {
    const limit = parseRateLimit(serveRateLimit);
    if (limit === undefined)
      return `--serve-rate-limit must be requests per second, optionally with a burst, such as 50 or 50,200, got '${serveRateLimit}'`;
    extras.rateLimit = limit;
  }
  return extras;
}
