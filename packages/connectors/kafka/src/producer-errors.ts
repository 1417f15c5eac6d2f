/**
 * How the `kafka` sink treats a failed producer operation.
 */

import { GenericError } from '@platformatic/kafka';
import { isPermanent, kafkaErrorName } from './client-errors.ts';

/**
 * `record` — Kafka refused records (too large, invalid); `fenced` — a newer producer with the
 * same transactional id took over; `refused` — credentials, ACLs or options are wrong;
 * `unavailable` — the broker could not be reached, or answered with retriable errors until the
 * retries ran out, or the producer's state was lost.
 */
export type FailureKind = 'record' | 'fenced' | 'refused' | 'unavailable';

/** A send that failed; positions are indexes into the records given to `send`. */
export class ProduceError extends Error {
  override readonly name = 'ProduceError';
  readonly kind: FailureKind;
  /** `record`: positions of the records not appended (their whole batches were refused). */
  readonly unsent: readonly number[];
  /** `record`: positions Kafka named as the refused ones, when it named them. */
  readonly named: readonly number[] | undefined;

  constructor(kind: FailureKind, message: string, unsent: readonly number[] = [], named?: readonly number[]) {
    super(message);
    this.kind = kind;
    this.unsent = unsent;
    this.named = named;
  }
}

const RECORD = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'INVALID_TIMESTAMP',
  'CORRUPT_MESSAGE',
]);
const FENCED = new Set([
  'PRODUCER_FENCED',
  'INVALID_PRODUCER_EPOCH',
  'INVALID_PRODUCER_ID_MAPPING',
  'TRANSACTION_COORDINATOR_FENCED',
]);
const REFUSED = new Set([
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'INVALID_TRANSACTION_TIMEOUT',
  'UNKNOWN_TOPIC_OR_PARTITION',
  'TOPIC_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'UNSUPPORTED_FOR_MESSAGE_FORMAT',
  'UNSUPPORTED_VERSION',
]);

/** The kind of any failure: a ProduceError says it; a library error is classified by its Kafka error name. */
export function failureKind(err: unknown): FailureKind {
  if (err instanceof ProduceError) return err.kind;
  const name = kafkaErrorName(err);
  if (name !== undefined) {
    if (RECORD.has(name)) return 'record';
    if (FENCED.has(name)) return 'fenced';
    if (REFUSED.has(name)) return 'refused';
  }
  if (isPermanent(err)) return 'refused';
  if (err instanceof GenericError && err.code === 'PLT_KFK_USER') return 'refused';
  return 'unavailable';
}

/** Kafka errors that refuse records themselves (too large, invalid): no retry of them helps. */
export function isRecordErrorName(name: string): boolean {
  return RECORD.has(name);
}

/** Kafka errors in a Produce answer that say the producer's id, epoch or sequence was fenced off. */
export function isFencedName(name: string): boolean {
  return FENCED.has(name);
}
