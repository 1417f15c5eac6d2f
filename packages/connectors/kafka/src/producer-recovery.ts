/**
 * Committing a transaction that a previous incarnation of the sink prepared at a checkpoint and
 * did not live to commit (Flink's "resume transaction", done with the protocol directly).
 *
 * Kafka ends a transaction on `EndTxn(transactional id, producer id, epoch)` from anyone who
 * presents the producer id and epoch that opened it; the client library has no call for that
 * (it only ends transactions it began), so this file sends FindCoordinator and EndTxn itself
 * through the library's connection layer. Kafka 4.4 does not offer KIP-939's
 * `initTransactions(keepPreparedTxn)` (InitProducerId stops at version 5), and the library does
 * not expose it either.
 */

import {
  Base,
  type BaseOptions,
  FindCoordinatorKeyTypes,
  kGetApi,
  kGetBootstrapConnection,
  kGetConnection,
} from '@platformatic/kafka';
import { retry } from '@sluice/core';
import { isPermanent, kafkaErrorName } from './client-errors.ts';
import { libraryOptions, type ProducerIdentity, type ProducerSettings } from './producer-settings.ts';

/**
 * What committing a prepared transaction found:
 * - `committed`: it is committed now (or was already, at this epoch);
 * - `superseded`: a newer epoch of the transactional id exists — the transaction ended before
 *   (committed, unless the broker aborted it on timeout);
 * - `not_open`: it is neither open nor committed at this epoch (it was aborted).
 */
export type RecoveryOutcome = 'committed' | 'superseded' | 'not_open';

interface Coordinator {
  key: string;
  nodeId: number;
  host: string;
  port: number;
}

interface ApiCall<A extends unknown[], R> {
  async: (connection: unknown, ...args: A) => Promise<R>;
}

/** A bare client of the library: connections, API versions, nothing else. */
class CoordinatorClient extends Base<BaseOptions> {
  api<A extends unknown[], R>(name: string): Promise<ApiCall<A, R>> {
    return new Promise((resolve, reject) => {
      this[kGetApi](name, (err, api) => (err ? reject(err) : resolve(api as unknown as ApiCall<A, R>)));
    });
  }

  bootstrap(): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this[kGetBootstrapConnection]((err, connection) => (err ? reject(err) : resolve(connection)));
    });
  }

  connect(host: string, port: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this[kGetConnection]({ host, port }, (err, connection) => (err ? reject(err) : resolve(connection)));
    });
  }
}

const SUPERSEDED = new Set(['PRODUCER_FENCED', 'INVALID_PRODUCER_EPOCH', 'INVALID_PRODUCER_ID_MAPPING']);
/** Errors that end the attempt for good (the rest are retried, up to the policy's attempts). */
const FINAL = new Set([
  ...SUPERSEDED,
  'INVALID_TXN_STATE',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'TRANSACTIONAL_ID_NOT_FOUND',
  'CLUSTER_AUTHORIZATION_FAILED',
  'SASL_AUTHENTICATION_FAILED',
]);

/**
 * Commits the transaction that `transactionalId` opened under `identity`. Retries retriable
 * failures (coordinator moving or loading, the broker unreachable) with the settings' policy;
 * rejects with the last failure when they run out or the failure is final.
 */
export async function commitPrepared(
  settings: ProducerSettings,
  transactionalId: string,
  identity: ProducerIdentity,
  signal?: AbortSignal,
): Promise<RecoveryOutcome> {
  const client = new CoordinatorClient({ ...libraryOptions(settings), retries: 0 });
  try {
    return await retry(
      async () => {
        try {
          const find = await client.api<[number, string[]], { coordinators: Coordinator[] }>(
            'FindCoordinator',
          );
          const found = await find.async(await client.bootstrap(), FindCoordinatorKeyTypes.TRANSACTION, [
            transactionalId,
          ]);
          const coordinator =
            found.coordinators.find((c) => c.key === transactionalId) ?? found.coordinators[0];
          const connection = await client.connect(coordinator.host, coordinator.port);
          const end = await client.api<[string, bigint, number, boolean], unknown>('EndTxn');
          await end.async(connection, transactionalId, identity.producerId, identity.producerEpoch, true);
          return 'committed';
        } catch (err) {
          const name = kafkaErrorName(err);
          if (name !== undefined && SUPERSEDED.has(name)) return 'superseded';
          if (name === 'INVALID_TXN_STATE') return 'not_open';
          throw err;
        }
      },
      { ...settings.retry, isRetryable: (err) => !FINAL.has(kafkaErrorName(err) ?? '') && !isPermanent(err) },
      signal,
    );
  } finally {
    await client.close();
  }
}
