/**
 * Restarting a failed job from its last durable checkpoint, with exponentially growing, jittered
 * and capped delays: the one restart strategy of `sluice run` (opt-in) and of every task of a
 * scaled-out worker. It follows Flink 2.x's default `exponential-delay` restart strategy (initial
 * backoff 1 s, multiplier 1.5, max backoff 1 min, jitter ±10%, backoff reset after 1 h without a
 * failure); unlike Flink's default (no limit on attempts) it gives up after a number of failures
 * in a row, so a failure that keeps coming back is reported instead of being retried for ever.
 */

import { type Logger, silentLogger } from '../connector.ts';
import { sleep } from '../connectors/backoff.ts';
import { SluiceError, toSluiceError } from '../errors.ts';

/** How failures are restarted. Durations are milliseconds. */
export interface RestartStrategy {
  /** Restarts in a row (without `resetAfter` of running between them) before the failure is final; 0: none. */
  readonly maxAttempts: number;
  /** The delay before the first restart. */
  readonly initialBackoff: number;
  /** The longest delay between restarts. */
  readonly maxBackoff: number;
  /** What each further failure in a row multiplies the delay by. */
  readonly multiplier: number;
  /** The delay is moved by a random amount up to this fraction of it, either way (0 … 1). */
  readonly jitter: number;
  /** A run this long without a failure starts the count and the delay again from the beginning. */
  readonly resetAfter: number;
}

/** Flink 2.x's exponential-delay defaults, with at most 10 restarts in a row. */
export const defaultRestartStrategy: RestartStrategy = {
  maxAttempts: 10,
  initialBackoff: 1000,
  maxBackoff: 60_000,
  multiplier: 1.5,
  jitter: 0.1,
  resetAfter: 3_600_000,
};

/** No restart: the first failure is final (what `sluice run` does unless told otherwise). */
export const noRestart: RestartStrategy = { ...defaultRestartStrategy, maxAttempts: 0 };

/**
 * Whether a restart may cure `err`: a transient failure of an external system (a sink or source
 * that could not be reached past its own retries, a lookup or call that timed out, an I/O error).
 * A user error (configuration, data) or a bug (INTERNAL) would only fail again.
 */
export function isRestartable(err: unknown): boolean {
  const e = toSluiceError(err);
  return e.retryable && e.kind === 'external';
}

/**
 * The delay before restart number `attempt` (1-based, counted within the current run of failures):
 * `min(maxBackoff, initialBackoff × multiplier^(attempt − 1))`, moved by up to ± `jitter` of it.
 */
export function restartDelay(strategy: RestartStrategy, attempt: number, random = Math.random): number {
  const base = Math.min(
    strategy.maxBackoff,
    strategy.initialBackoff * strategy.multiplier ** Math.max(0, attempt - 1),
  );
  return Math.max(0, Math.round(base * (1 + strategy.jitter * (2 * random() - 1))));
}

/** Counts failures in a row and says how long to wait before the next restart, or that it is over. */
export class RestartBackoff {
  readonly #strategy: RestartStrategy;
  readonly #now: () => number;
  readonly #random: () => number;
  #inRow = 0;
  #restarts = 0;
  #startedAt = 0;

  constructor(strategy: RestartStrategy, now: () => number = Date.now, random: () => number = Math.random) {
    this.#strategy = strategy;
    this.#now = now;
    this.#random = random;
  }

  /** Restarts so far (over the whole life of this backoff). */
  get restarts(): number {
    return this.#restarts;
  }

  /** Failures in the current run of failures. */
  get inRow(): number {
    return this.#inRow;
  }

  /** Call when a run starts. */
  started(): void {
    this.#startedAt = this.#now();
  }

  /**
   * Call when a run failed with `err`: the delay before restarting it (counted as a restart), or
   * undefined when it must not be restarted (not restartable, or `maxAttempts` reached).
   */
  failed(err: unknown): number | undefined {
    if (this.#now() - this.#startedAt >= this.#strategy.resetAfter) this.#inRow = 0;
    if (!isRestartable(err) || this.#inRow >= this.#strategy.maxAttempts) return undefined;
    this.#inRow++;
    this.#restarts++;
    return restartDelay(this.#strategy, this.#inRow, this.#random);
  }
}

/** What `runWithRestarts` is told besides the run and the strategy. */
export interface RestartOptions {
  /** Aborting it ends the wait before a restart: `runWithRestarts` then resolves undefined. */
  readonly signal?: AbortSignal;
  readonly log?: Logger;
  /** What restarts, for the log (e.g. `{ task: 3 }`). */
  readonly fields?: { readonly [name: string]: unknown };
  /** Called before each wait for a restart, with the restarts so far (this one included). */
  readonly onRestart?: (restarts: number, err: SluiceError, delay: number) => void;
  /** The backoff to count with (for a caller that shows its count); a new one by default. */
  readonly backoff?: RestartBackoff;
}

/**
 * Calls `run` until it resolves, restarting it after a restartable failure as `strategy` says
 * (`run` restores its job from the newest durable checkpoint, so nothing is lost). Rejects with
 * the failure when it may not be restarted, saying so when restarts ran out; resolves undefined
 * when `signal` aborts while waiting to restart.
 */
export async function runWithRestarts<T>(
  run: (attempt: number) => Promise<T>,
  strategy: RestartStrategy,
  options: RestartOptions = {},
): Promise<T | undefined> {
  const log = options.log ?? silentLogger;
  const backoff = options.backoff ?? new RestartBackoff(strategy);
  for (let attempt = 0; ; attempt++) {
    backoff.started();
    try {
      return await run(attempt);
    } catch (err) {
      const e = toSluiceError(err);
      if (options.signal?.aborted) throw e;
      const delay = backoff.failed(e);
      if (delay === undefined) {
        if (backoff.inRow === 0 || !isRestartable(e)) throw e;
        throw new SluiceError(
          e.code,
          `${e.message} — failed ${backoff.inRow + 1} times in a row; giving up after ${strategy.maxAttempts} restarts`,
          {
            cause: e,
            ...(e.step !== undefined ? { step: e.step } : {}),
            ...(e.path !== undefined ? { path: e.path } : {}),
          },
        );
      }
      log.warn('restarting from the last checkpoint after a failure', {
        ...options.fields,
        error: e.describe(),
        restart: backoff.inRow,
        of: strategy.maxAttempts,
        delay_ms: delay,
      });
      options.onRestart?.(backoff.restarts, e, delay);
      if (!(await sleep(delay, options.signal))) return undefined;
    }
  }
}
