/**
 * Settings and record shapes of the `kafka` sink's producers, and the client library options
 * derived from them.
 */

import type { BaseOptions, CompressionAlgorithmValue } from '@platformatic/kafka';
import { backoffDelay, type RetryPolicy } from '@sluice/core';
import { kafkaErrorName } from './client-errors.ts';
import type { PartitionerKind } from './producer-partitioner.ts';

/** One message to produce. */
export interface ProducerRecord {
  /** Bytes, or text written as UTF-8 straight into the batch; undefined: no key. */
  key: Buffer | string | undefined;
  /** The UTF-8 length of a text `key`, when the caller measured it already. */
  keyBytes?: number;
  /** Bytes, or text written as UTF-8 straight into the batch; undefined: no value (a tombstone). */
  value: Buffer | string | undefined;
  /** The UTF-8 length of a text `value`, when the caller measured it already. */
  valueBytes?: number;
  headers: Map<Buffer, Buffer> | undefined;
  /** Epoch ms; undefined: the time of sending. */
  timestamp: number | undefined;
}

/** The producer id and epoch a producer writes with; a transaction is ended by them. */
export interface ProducerIdentity {
  producerId: bigint;
  producerEpoch: number;
}

/** Client settings of a sink's producers. */
export interface ProducerSettings {
  /** Brokers, client id, TLS, SASL (see `clientOptions`). */
  readonly base: BaseOptions;
  /** Backoff of every retried request; its `onRetry` hears of each retry (the sink logs them). */
  readonly retry: RetryPolicy;
  /** Longest wait for one request's answer, ms. */
  readonly requestTimeout: number;
  readonly compression: CompressionAlgorithmValue;
  readonly partitioner: PartitionerKind;
}

/** Whether a library retry should wait only briefly: the transaction coordinator is finishing a transaction. */
function isBusyCoordinator(err: unknown): boolean {
  return kafkaErrorName(err) === 'CONCURRENT_TRANSACTIONS';
}

/**
 * Library options shared by the producers: retries with Sluice's capped, jittered backoff,
 * each reported to the policy's `onRetry` (except the short waits for a busy coordinator).
 */
export function libraryOptions(settings: ProducerSettings): BaseOptions {
  const { retry } = settings;
  return {
    ...settings.base,
    requestTimeout: settings.requestTimeout,
    retries: Math.max(0, retry.maxAttempts - 1),
    retryDelay: (_client, _operation, attempt, _retries, error) => {
      if (isBusyCoordinator(error)) return Math.min(100, 5 * 2 ** attempt);
      const delay = backoffDelay(attempt, retry.initialBackoff, retry.maxBackoff, retry.random);
      retry.onRetry?.(error, attempt, delay);
      return delay;
    },
  };
}
