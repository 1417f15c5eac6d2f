/**
 * How a Kafka worker gets into its group and stays there: every step of joining (the topics'
 * metadata, the repartition topic, JoinGroup/SyncGroup) and every rejoin is tried again with
 * capped exponential backoff and full jitter until the worker stops. A loaded or restarting
 * broker answers JoinGroup with errors for a while (COORDINATOR_NOT_AVAILABLE,
 * REBALANCE_IN_PROGRESS, timeouts), and the library gives up after a few tries of its own; only a
 * failure no retry can fix — a configuration error (a missing topic, bad options) or one of
 * authentication or authorization — ends the worker.
 */

import { backoffDelay, type Logger, SluiceError, sleep } from '@sluice/core';
import { describeKafkaError, isPermanent, toSourceError } from './client-errors.ts';

/** The first wait after a failed attempt, ms; it doubles with each further failure. */
export const JOIN_INITIAL_BACKOFF_MS = 500;
/** The longest wait between attempts, ms. */
export const JOIN_MAX_BACKOFF_MS = 30_000;

/** What `untilJoined` needs besides the attempt itself. */
export interface JoinRetry {
  /** What is being done, for the log and the final error: `joining the group`. */
  readonly what: string;
  /** Aborted when the worker stops: the loop ends (resolving false). */
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** The source the worker's group belongs to (named in errors). */
  readonly step: string;
  /** Strings to scrub from messages (SASL passwords). */
  readonly secrets: readonly string[];
  /** Log fields naming the worker. */
  readonly fields: { readonly [name: string]: unknown };
  /** Random numbers in [0, 1) for the jitter. */
  readonly random?: () => number;
}

/**
 * Calls `attempt` until it resolves (true), the signal aborts (false), or it fails with an error
 * no retry can fix (rejects with a SluiceError: the SluiceError thrown, or CONFIG_INVALID for an
 * authentication or authorization failure). Every other failure is logged with its reason and
 * tried again after a capped, jittered, exponentially growing wait.
 */
export async function untilJoined(attempt: () => Promise<void>, retry: JoinRetry): Promise<boolean> {
  for (let n = 1; !retry.signal.aborted; n++) {
    try {
      await attempt();
      if (n > 1) retry.log.info(`worker: ${retry.what} succeeded`, { ...retry.fields, attempts: n });
      return true;
    } catch (err) {
      if (retry.signal.aborted) return false;
      if (err instanceof SluiceError && !err.retryable) throw err;
      if (isPermanent(err)) throw toSourceError(err, retry.what, retry.step, retry.secrets);
      const delay = backoffDelay(n, JOIN_INITIAL_BACKOFF_MS, JOIN_MAX_BACKOFF_MS, retry.random);
      retry.log.warn(`worker: ${retry.what} failed; trying again`, {
        ...retry.fields,
        attempt: n,
        delay_ms: delay,
        error: err instanceof SluiceError ? err.message : describeKafkaError(err, retry.secrets),
      });
      await sleep(delay, retry.signal);
    }
  }
  return false;
}
