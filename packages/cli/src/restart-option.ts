/**
 * `--restart-attempts` and `--restart-backoff` of `sluice run`: the restart strategy (see
 * `runWithRestarts` of @sluice/core) a worker's tasks and, when asked, a single-process run use
 * to come back from a transient failure from their last checkpoint.
 */

import { defaultRestartStrategy, parseDuration, type RestartStrategy, SluiceError } from '@sluice/core';

/** What `sluice run` reads of the restart options. */
export interface RestartOptionsRaw {
  restartAttempts?: string;
  restartBackoff?: string;
}

/**
 * The restart strategy `opts` ask for; without `--restart-attempts`, `attempts` restarts in a
 * row (a worker: the default 10; a single process: 0, no restart). Returns a message for a
 * usage error.
 */
export function parseRestart(opts: RestartOptionsRaw, attempts: number): RestartStrategy | string {
  let maxAttempts = attempts;
  if (opts.restartAttempts !== undefined) {
    const raw = opts.restartAttempts.trim();
    if (!/^\d+$/.test(raw) || Number(raw) > 1_000_000) {
      return `--restart-attempts must be a whole number of restarts in a row (0: none), got '${opts.restartAttempts}'`;
    }
    maxAttempts = Number(raw);
  }
  let { initialBackoff, maxBackoff } = defaultRestartStrategy;
  if (opts.restartBackoff !== undefined) {
    const [first, second, ...rest] = opts.restartBackoff.split(',').map((p) => p.trim());
    try {
      if (rest.length > 0 || first === '') throw new SluiceError('CONFIG_INVALID', 'too many parts');
      initialBackoff = parseDuration(first, '--restart-backoff');
      maxBackoff =
        second === undefined
          ? Math.max(maxBackoff, initialBackoff)
          : parseDuration(second, '--restart-backoff');
    } catch {
      return `--restart-backoff must be the first delay, optionally with the longest: 1s or 500ms,30s, got '${opts.restartBackoff}'`;
    }
    if (maxBackoff < initialBackoff) {
      return `--restart-backoff: the longest delay (${second}) is shorter than the first (${first})`;
    }
  }
  return { ...defaultRestartStrategy, maxAttempts, initialBackoff, maxBackoff };
}
