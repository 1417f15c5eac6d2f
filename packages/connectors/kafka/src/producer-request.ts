/**
 * One Produce request (versions 9–11, acks=all) carrying pre-encoded record batches to one
 * partition leader, and what its answer means for each partition.
 */

import { produceV9, produceV10, produceV11, protocolErrorsCodesById, Writer } from '@platformatic/kafka';
import { isRecordErrorName } from './producer-errors.ts';

/** Produce versions this file writes: the flexible ones before topic ids (Kafka 2.8+). */
export const PRODUCE_VERSIONS = { min: 9, max: 11 } as const;

const parsers = { 9: produceV9.parseResponse, 10: produceV10.parseResponse, 11: produceV11.parseResponse };

/** A connection as the client library hands it out (only `send` is used). */
export interface BrokerConnection {
  send(
    apiKey: number,
    apiVersion: number,
    createPayload: () => Writer,
    parser: (typeof parsers)[9],
    hasRequestHeaderTaggedFields: boolean,
    hasResponseHeaderTaggedFields: boolean,
    callback: (error: Error | null, response?: unknown) => void,
  ): void;
}

/** How one partition's batch fared. */
export type PartitionOutcome =
  /** Appended (or appended before: a duplicate sequence after a retry). */
  | { kind: 'ok' }
  /** Not appended; sending the same batch again may succeed (leader moved, replicas short, …). */
  | { kind: 'retry'; error: string }
  /** Kafka refused records of the batch; `records` lists their indexes when Kafka named them. */
  | { kind: 'record'; error: string; records: number[] | undefined }
  /** The producer's id, epoch or sequence is no longer valid (fenced, expired, out of order). */
  | { kind: 'producer'; error: string }
  /** Not allowed or not supported: no retry helps. */
  | { kind: 'refused'; error: string };

const PRODUCER = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'UNKNOWN_PRODUCER_ID',
  'INVALID_PRODUCER_EPOCH',
  'PRODUCER_FENCED',
  'INVALID_PRODUCER_ID_MAPPING',
  'INVALID_TXN_STATE',
  'TRANSACTION_COORDINATOR_FENCED',
]);
const REFUSED = new Set([
  'TOPIC_AUTHORIZATION_FAILED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'UNSUPPORTED_FOR_MESSAGE_FORMAT',
  'UNSUPPORTED_VERSION',
  'INVALID_REQUIRED_ACKS',
  'UNSUPPORTED_COMPRESSION_TYPE',
]);

interface PartitionResponse {
  index: number;
  errorCode: number;
  errorMessage: string | null;
  recordErrors: { batchIndex: number; batchIndexErrorMessage: string | null }[];
}

interface ProduceResponse {
  responses: { name: string; partitionResponses: PartitionResponse[] }[];
}

function outcomeOf(p: PartitionResponse): PartitionOutcome {
  if (p.errorCode === 0) return { kind: 'ok' };
  const name = protocolErrorsCodesById[p.errorCode] ?? `KAFKA_ERROR_${p.errorCode}`;
  if (name === 'DUPLICATE_SEQUENCE_NUMBER') return { kind: 'ok' };
  const details = [p.errorMessage, ...p.recordErrors.map((e) => e.batchIndexErrorMessage)].filter(
    (m): m is string => typeof m === 'string' && m !== '',
  );
  const error = details.length > 0 ? `${name} (${[...new Set(details)].join('; ')})` : name;
  if (isRecordErrorName(name)) {
    const records = p.recordErrors.length > 0 ? p.recordErrors.map((e) => e.batchIndex) : undefined;
    return { kind: 'record', error, records };
  }
  if (PRODUCER.has(name)) return { kind: 'producer', error };
  if (REFUSED.has(name)) return { kind: 'refused', error };
  return { kind: 'retry', error };
}

/**
 * Sends one Produce request with acks=all and resolves with the outcome of each partition (by
 * partition number). Rejects when the request as a whole fails (connection lost, no answer
 * within the connection's request timeout): its batches may or may not have been appended.
 */
export function produce(
  connection: BrokerConnection,
  version: number,
  topic: string,
  transactionalId: string | undefined,
  timeoutMs: number,
  batches: readonly { partition: number; bytes: Buffer }[],
): Promise<Map<number, PartitionOutcome>> {
  const parser = parsers[version as keyof typeof parsers];
  const payload = () =>
    Writer.create()
      .appendString(transactionalId ?? null)
      .appendInt16(-1)
      .appendInt32(timeoutMs)
      .appendArray([topic], (w, name) => {
        w.appendString(name).appendArray([...batches], (pw, b) => {
          pw.appendInt32(b.partition)
            .appendUnsignedVarInt(b.bytes.length + 1)
            .append(b.bytes);
        });
      })
      .appendTaggedFields();
  return new Promise((resolve, reject) => {
    connection.send(0, version, payload, parser, true, true, (err, response) => {
      // The parser throws (here: passes as err) when a partition has an error; the parsed
      // response rides along on it.
      const parsed = (err === null ? response : (err as { response?: unknown }).response) as
        | ProduceResponse
        | undefined;
      if (parsed?.responses === undefined) {
        reject(err ?? new Error('Produce: empty response'));
        return;
      }
      const out = new Map<number, PartitionOutcome>();
      for (const t of parsed.responses) for (const p of t.partitionResponses) out.set(p.index, outcomeOf(p));
      for (const b of batches) {
        if (!out.has(b.partition))
          out.set(b.partition, { kind: 'retry', error: 'no answer for the partition' });
      }
      resolve(out);
    });
  });
}
