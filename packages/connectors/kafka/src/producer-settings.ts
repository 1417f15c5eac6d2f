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
  key: Buffer | undefined;
  /** Undefined: no value (a tombstone). */
  value: Buffer | undefined;
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

/** Library options shared by the producers: retries with Sluice's capped, jittered backoff. */
export function libraryOptions(settings: ProducerSettings): BaseOptions {
  const { retry } = settings;
  return {
    ...settings.base,
    requestTimeout: settings.requestTimeout,
    retries: Math.max(0, retry.maxAttempts - 1),
    retryDelay: (_client, _operation, attempt, _retries, error) =>
      isBusyCoordinator(error)
        ? Math.min(100, 5 * 2 ** attempt)
        : backoffDelay(attempt, retry.initialBackoff, retry.maxBackoff, retry.random),
  };
}
