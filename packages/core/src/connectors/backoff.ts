/**
 * Retries with capped exponential backoff and full jitter, shared by connectors.
 */

import Type, { type Static } from 'typebox';
import { SluiceError } from '../errors.ts';
import { parseDuration } from '../time.ts';
import { HttpFailure } from './http-client.ts';

/**
 * The delay before retrying after failed attempt number `attempt` (1-based): a uniformly random
 * time between 0 and `min(max, initial × 2^(attempt − 1))` milliseconds ("full jitter").
 */
export function backoffDelay(attempt: number, initial: number, max: number, random = Math.random): number {
  const ceiling = Math.min(max, initial * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

/** How `retry` retries. Durations are milliseconds. */
export interface RetryPolicy {
  /** Attempts in all, the first included (1 = no retry). */
  readonly maxAttempts: number;
  readonly initialBackoff: number;
  readonly maxBackoff: number;
  /** Random numbers in [0, 1) for the jitter; `Math.random` by default. */
  readonly random?: () => number;
  /** Whether a failure may pass on another attempt. Default: `SluiceError.retryable`, else false. */
  readonly isRetryable?: (err: unknown) => boolean;
  /** The least delay the failure asks for (e.g. an HTTP `Retry-After`), in ms. */
  readonly retryAfter?: (err: unknown) => number | undefined;
  /** Called before each wait, e.g. to log the failure. */
  readonly onRetry?: (err: unknown, attempt: number, delay: number) => void;
}

const defaultRetryable = (err: unknown) => err instanceof SluiceError && err.retryable;

/**
 * The longest wait a failure may ask for (`Retry-After`): a server that answers "come back in a
 * year" (or a hostile one) must not park a pipeline; after this the request is tried again and
 * asks again.
 */
export const MAX_REQUESTED_DELAY_MS = 10 * 60_000;

/**
 * The least delay a failure asks for before the next attempt, in ms: the `Retry-After` of the
 * HTTP response behind it (its cause), if any.
 */
export function requestedDelay(err: unknown): number | undefined {
  const asked =
    err instanceof SluiceError && err.cause instanceof HttpFailure ? err.cause.retryAfter : undefined;
  return asked === undefined ? undefined : Math.min(asked, MAX_REQUESTED_DELAY_MS);
}

/**
 * Resolves after `ms` milliseconds with true, or as soon as `signal` aborts with false. Keeps
 * no timer alive after an abort.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Calls `fn(attempt)` until it resolves, waiting `backoffDelay` between attempts (at least what
 * `retryAfter` asks for). Rethrows at once a failure that is not retryable, and the last failure
 * after `maxAttempts`; rejects with `signal.reason` when the signal aborts.
 */
export async function retry<T>(
  fn: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  signal?: AbortSignal,
): Promise<T> {
  const isRetryable = policy.isRetryable ?? defaultRetryable;
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (err) {
      signal?.throwIfAborted();
      if (attempt >= policy.maxAttempts || !isRetryable(err)) throw err;
      const jittered = backoffDelay(attempt, policy.initialBackoff, policy.maxBackoff, policy.random);
      const delay = Math.max(jittered, Math.min(policy.retryAfter?.(err) ?? 0, MAX_REQUESTED_DELAY_MS));
      policy.onRetry?.(err, attempt, delay);
      if (!(await sleep(delay, signal))) signal?.throwIfAborted();
    }
  }
}

/** Config block for a connector's retries; connectors embed it as their `retry` option. */
export const retryConfig = Type.Object(
  {
    max_attempts: Type.Integer({
      minimum: 1,
      default: 8,
      description: 'Attempts in all, the first included; then the failure is reported.',
      examples: [3],
    }),
    initial_backoff: Type.String({
      default: '200ms',
      description: 'Longest wait before the first retry; it doubles with each further retry.',
      examples: ['1s'],
    }),
    max_backoff: Type.String({
      default: '10s',
      description: 'Cap on the wait between attempts (each wait is random up to the cap: full jitter).',
      examples: ['30s'],
    }),
  },
  {
    additionalProperties: false,
    default: {},
    description: 'Retries of transient failures: capped exponential backoff with full jitter.',
  },
);

/** The `retry` option, defaults applied. */
export type RetryConfig = Static<typeof retryConfig>;

/** Parses a `retry` option into a policy; throws CONFIG_INVALID naming the field under `path`. */
export function retryPolicy(config: RetryConfig, path = 'retry'): RetryPolicy {
  return {
    maxAttempts: config.max_attempts,
    initialBackoff: parseDuration(config.initial_backoff, `${path}.initial_backoff`),
    maxBackoff: parseDuration(config.max_backoff, `${path}.max_backoff`),
  };
}
