/**
 * What the steps on the asynchronous boundary (`map_async`, `lookup`) share: their options —
 * `concurrency`, `capacity`, `ordered`, `timeout`, `retries` — and `AsyncCalls`, which runs each
 * call under them: at most `concurrency` at once, each bounded by `timeout` (ASYNC_TIMEOUT), a
 * call that timed out or threw a transient `SluiceError` tried again after a capped, jittered
 * backoff (`backoffDelay` of `connectors/backoff.ts`), the slot freed while it waits.
 */

import Type from 'typebox';
import { backoffDelay, requestedDelay, sleep } from '../connectors/backoff.ts';
import { SluiceError } from '../errors.ts';
import { formatDuration, parseDuration } from '../time.ts';

/** Longest wait before the first retry of a call; it doubles with each further retry. */
const FIRST_BACKOFF = 100;
/** Cap on the wait between attempts. */
const MAX_BACKOFF = 5_000;

/**
 * The options of an asynchronous step, as TypeBox properties to spread into its config. `call`
 * and `calls` name what one call is, for the descriptions ("call of the function").
 */
export function asyncCallFields(call: string, calls: string) {
  return {
    concurrency: Type.Integer({
      minimum: 1,
      default: 32,
      description: `Most ${calls} running at once, over all batches in flight.`,
    }),
    capacity: Type.Integer({
      minimum: 1,
      default: 4,
      description:
        'Most batches in flight; while this many are, the sources wait (backpressure). Checkpoints and the end of input wait for them to finish.',
    }),
    ordered: Type.Boolean({
      default: true,
      description:
        'Emit results in input order (a function of the input, like any other step), or as each batch finishes (lower latency; the order, and what event-time steps after it decide, then depend on timing).',
    }),
    timeout: Type.String({
      default: '30s',
      description: `A ${call} that has not settled after this long fails with ASYNC_TIMEOUT (and is retried).`,
    }),
    retries: Type.Integer({
      minimum: 0,
      default: 2,
      description: `Further attempts for a ${call} that timed out or failed with a transient error (a SluiceError whose code is retryable), each after a random wait of up to 100 ms, 200 ms, … (at most 5 s); then the record goes to the dead letters. Other errors go there at once.`,
    }),
  };
}

/** The options `asyncCallFields` declares, validated. */
export interface AsyncCallOptions {
  readonly concurrency: number;
  readonly timeout: string;
  readonly retries: number;
}

/** Counts calls running and lets the next caller in when one ends. */
class Limiter {
  #running = 0;
  readonly #queue: (() => void)[] = [];
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Calls running now. */
  get running(): number {
    return this.#running;
  }

  async run<T>(f: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#limit) await new Promise<void>((r) => this.#queue.push(r));
    this.#running++;
    try {
      return await f();
    } finally {
      this.#running--;
      this.#queue.shift()?.();
    }
  }
}

/** Runs the calls of one asynchronous step under its `concurrency`, `timeout` and `retries`. */
export class AsyncCalls {
  readonly #limiter: Limiter;
  readonly #timeout: number;
  readonly #attempts: number;

  /** Throws CONFIG_INVALID (path `timeout`) on a bad duration. */
  constructor(options: AsyncCallOptions) {
    this.#limiter = new Limiter(options.concurrency);
    this.#timeout = parseDuration(options.timeout, 'timeout');
    this.#attempts = options.retries + 1;
  }

  /** Calls running now (for tests and metrics). */
  get running(): number {
    return this.#limiter.running;
  }

  /**
   * Runs `call` until it resolves: each attempt waits for a free slot, gets a signal aborted on
   * its timeout or when `signal` aborts, and fails with ASYNC_TIMEOUT when it has not settled in
   * time. A failure that is not a retryable SluiceError, the last failure, or an abort rejects.
   */
  async run<T>(call: (signal: AbortSignal) => Promise<T>, signal: AbortSignal): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.attempt(call, signal);
      } catch (err) {
        if (!this.mayRetry(err, attempt, signal)) throw err;
        await this.pause(attempt, signal, requestedDelay(err));
      }
    }
  }

  /** One attempt of `call`: in a free slot, failing with ASYNC_TIMEOUT after the timeout. */
  attempt<T>(call: (signal: AbortSignal) => Promise<T>, signal: AbortSignal): Promise<T> {
    return this.#limiter.run(() => this.#once(call, signal));
  }

  /** Whether a call whose attempt number `attempt` (1-based) failed with `err` is tried again. */
  mayRetry(err: unknown, attempt: number, signal: AbortSignal): boolean {
    return err instanceof SluiceError && err.retryable && attempt < this.#attempts && !signal.aborted;
  }

  /**
   * Waits before the attempt after number `attempt`: capped and jittered, but at least
   * `requested` ms (what the failure asked for: an HTTP `Retry-After`, see `requestedDelay`);
   * resolves early on abort.
   */
  async pause(attempt: number, signal: AbortSignal, requested = 0): Promise<void> {
    await sleep(Math.max(backoffDelay(attempt, FIRST_BACKOFF, MAX_BACKOFF), requested), signal);
  }

  /** One attempt, failing with ASYNC_TIMEOUT after the timeout (the attempt's signal is then aborted). */
  async #once<T>(call: (signal: AbortSignal) => Promise<T>, signal: AbortSignal): Promise<T> {
    const attempt = new AbortController();
    const onAbort = () => attempt.abort();
    signal.addEventListener('abort', onAbort);
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await Promise.race([
        call(attempt.signal),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            attempt.abort();
            reject(
              new SluiceError(
                'ASYNC_TIMEOUT',
                `the call did not finish within ${formatDuration(this.#timeout)}`,
              ),
            );
          }, this.#timeout);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
  }
}
