/**
 * Config schema of the `kafka` sink (the only place its defaults live), the settings derived
 * from it, and the checkpoint state of an exactly-once sink.
 */

import { parseDuration, retryConfig, SluiceError, type Static, Type } from '@sluice/core';
import { connectionFields } from './connection.ts';
import { schemaRegistryOptions } from './schema-registry-config.ts';

/** Config schema of the `kafka` sink. */
export const kafkaSinkConfig = Type.Object(
  {
    ...connectionFields,
    topic: Type.String({
      minLength: 1,
      description:
        'Topic to write. It must exist: the sink never creates topics, and an unknown topic fails ' +
        'the job when it starts (CONFIG_INVALID).',
      examples: ['orders-enriched'],
    }),
    key: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'SQL expression over the record giving the message key: text as UTF-8, numbers and ' +
          'booleans as their decimal or `true`/`false` text, objects and arrays as JSON; NULL or ' +
          'absent: no key. A record on which it fails goes to the dead-letter output.',
        examples: ['customer_id', "region || '/' || CAST(store AS VARCHAR)"],
      }),
    ),
    changelog: Type.Optional(
      Type.Enum(['upsert'], {
        description:
          'Write an updating stream (e.g. an `aggregate` without a window) as an upsert changelog, the ' +
          'form Kafka Streams tables, ksqlDB tables and Flink’s `upsert-kafka` read: each insert or ' +
          'update is a message holding the new row under its `key` (required); a delete, or a retracted ' +
          'row that no update of the same key replaces, is a tombstone (the key, no value); an ' +
          'update-before followed by the update-after of its key is written as the update-after only. ' +
          'Use a compacted topic to keep the latest row per key. When the input’s key is known (an ' +
          '`aggregate` without a window: its `key`), `key` must read every field of it, or the pipeline is ' +
          'refused (PLAN_KEY_MISMATCH). Absent: the sink takes only inserts, and ' +
          'a pipeline that sends it an updating stream is refused.',
        examples: ['upsert'],
      }),
    ),
    headers: Type.Record(Type.String({ minLength: 1 }), Type.String({ minLength: 1 }), {
      default: {},
      description:
        'Message headers: header name → SQL expression over the record, its value converted like ' +
        '`key`; a NULL value leaves the header out. A record on which one fails goes to the ' +
        'dead-letter output.',
      examples: [{ source: "'sluice'", region: 'region' }],
    }),
    format: Type.Enum(['json', 'string', 'avro', 'json_schema'], {
      default: 'json',
      description:
        'How a record becomes the message value: `json` — the record as JSON text (without the ' +
        '`_kafka` metadata field a Kafka source adds); a record read as JSON (without metadata) that ' +
        'no step changed is written as the text it was read from, as the producer spelled it; `string` — the record’s `value` field as ' +
        'UTF-8 text (what the Kafka source’s `string` format reads), a NULL `value` giving a ' +
        'tombstone; a record without a text or NULL `value` goes to the dead-letter output. ' +
        '`avro` and `json_schema` — the Confluent wire format (byte 0, the 4-byte schema id, the ' +
        'payload), as Confluent’s serializers write it: `schema` is registered under `subject` in ' +
        '`schema_registry` when the sink opens, and each record (without `_kafka`) is written as ' +
        'Avro binary or, once valid against the JSON Schema, as JSON text; a record that does not ' +
        'match the schema goes to the dead-letter output with the field named.',
      examples: ['avro'],
    }),
    schema_registry: Type.Optional(schemaRegistryOptions),
    schema: Type.Optional(
      Type.Union([Type.String({ minLength: 1 }), Type.Object({}, { additionalProperties: true })], {
        description:
          '`avro` and `json_schema` (required by them): the schema records are written with — its ' +
          'JSON text (a string starting with `{`, `[` or `"`) or an object inline, or a path to a ' +
          'file holding it (relative to the pipeline file). Avro: bytes and fixed are written from ' +
          'base64 text, `decimal` from exact decimal text such as `"12.30"` (never rounded), ' +
          'timestamps from epoch numbers or ISO-8601 text, `date` from days or `YYYY-MM-DD`, the ' +
          'way the `kafka` source reads them back; fields the schema does not name are left out, a ' +
          'missing one takes its default. Schema references are not supported.',
        examples: ['./order.avsc'],
      }),
    ),
    subject: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          '`avro` and `json_schema`: the registry subject the schema is registered under. Default: ' +
          '`<topic>-value` (Confluent’s TopicNameStrategy for values). Registering a schema the ' +
          'subject already has keeps its id; one its compatibility level refuses fails the job at ' +
          'start (CONFIG_INVALID).',
        examples: ['orders-value'],
      }),
    ),
    partitioner: Type.Enum(['murmur2_hash', 'round_robin'], {
      default: 'murmur2_hash',
      description:
        '`murmur2_hash` — a keyed message goes to partition `(murmur2(key) & 0x7fffffff) mod ' +
        'partitions`, where the Java client’s default partitioner puts it, so one key always lands ' +
        'in one partition; messages without a key rotate over the partitions. `round_robin` — every ' +
        'message goes to the next partition, key or not.',
      examples: ['round_robin'],
    }),
    timestamp: Type.String({
      minLength: 1,
      default: 'event_time',
      description:
        'The message timestamp: `event_time` — the record’s event time (what windows and ' +
        'watermarks used; for a window’s result, its end − 1 ms), as Flink’s Kafka sink and ' +
        'Kafka Streams write it by default; `now` — the time of writing; or an SQL expression over the ' +
        'record giving epoch milliseconds or ISO-8601 text (NULL: the time of writing; a record on which ' +
        'it fails, or whose value is no time, goes to the dead-letter output; write `"now"` or ' +
        '`"event_time"` to read fields of those names). A topic with ' +
        '`message.timestamp.type=LogAppendTime` stamps records itself and ignores this. Time-based ' +
        'retention counts from these timestamps: records stamped longer ago than the topic’s ' +
        '`retention.ms` are deleted soon after they are written — replaying old data with event ' +
        'times does that, and the sink warns once when it happens (see the description).',
      examples: ['now', 'coalesce(updated_at, created_at)'],
    }),
    delivery: Type.Enum(['at_least_once', 'exactly_once'], {
      default: 'at_least_once',
      description:
        '`at_least_once` — an idempotent producer; a write is done when every record is ' +
        'acknowledged by all in-sync replicas; records after the last checkpoint are written again ' +
        'after a crash. `exactly_once` — the records between two checkpoints form one Kafka ' +
        'transaction, committed when the checkpoint is durable; `read_committed` consumers see every ' +
        'record once (see the description for the exact guarantee).',
      examples: ['exactly_once'],
    }),
    transactional_id: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          '`exactly_once`: the Kafka transactional id. It must stay the same across restarts (a ' +
          'restarted job fences its previous incarnation with it) and be unique to this sink in ' +
          'one running process. Default: `sluice-<pipeline>-<sink id>`. Under `sluice run --worker-id` ' +
          'each task appends `-task-<partition>`, so the id moves with the task and its next owner ' +
          'fences the previous one on the broker; set it per process only when several processes run ' +
          'the same pipeline without workers.',
        examples: ['orders-worker-1-out'],
      }),
    ),
    transaction_timeout: Type.String({
      default: '15m',
      description:
        '`exactly_once`: how long the broker lets a transaction stay open before aborting it. It ' +
        'must exceed the checkpoint interval plus the time a crashed job takes to restart, or ' +
        'the records of the checkpoint being committed at the crash are lost; it is also how long ' +
        '`read_committed` consumers wait behind the open transaction of a job that crashed and ' +
        'does not come back. At most the broker’s `transaction.max.timeout.ms` (15m by default).',
      examples: ['5m'],
    }),
    batch_bytes: Type.Integer({
      minimum: 16_384,
      default: 1_000_000,
      description:
        'Most bytes of records in one produce request (records queued while a request is in ' +
        'flight go out together in the next). Lowered to the topic’s `max.message.bytes` when that is smaller.',
      examples: [4_000_000],
    }),
    compression: Type.Enum(['none', 'gzip', 'snappy', 'lz4', 'zstd'], {
      default: 'none',
      description: 'Compression of the record batches.',
      examples: ['zstd'],
    }),
    request_timeout: Type.String({
      default: '30s',
      description:
        'Longest wait for a broker’s answer to one request; then the attempt fails and is retried.',
      examples: ['10s'],
    }),
    retry: retryConfig,
  },
  { additionalProperties: false },
);

/** Options of the `kafka` sink, defaults applied. */
export type KafkaSinkConfig = Static<typeof kafkaSinkConfig>;

/** The transactional id used when `transactional_id` is not set. */
export function defaultTransactionalId(pipeline: string | undefined, sinkId: string): string {
  return pipeline === undefined ? `sluice-${sinkId}` : `sluice-${pipeline}-${sinkId}`;
}

/** Durations of the config in milliseconds; CONFIG_INVALID naming the field when one is bad. */
export function sinkDurations(config: KafkaSinkConfig): {
  transactionTimeout: number;
  requestTimeout: number;
} {
  const transactionTimeout = parseDuration(config.transaction_timeout, 'transaction_timeout');
  const requestTimeout = parseDuration(config.request_timeout, 'request_timeout');
  if (transactionTimeout < 1000) {
    throw new SluiceError('CONFIG_INVALID', 'transaction_timeout must be at least 1s', {
      path: 'transaction_timeout',
    });
  }
  return { transactionTimeout, requestTimeout };
}

/**
 * A transaction prepared at a checkpoint: enough to commit it after a crash (Kafka lets the
 * producer id and epoch that opened a transaction end it).
 */
export interface PreparedTransaction {
  /** Producer id, as decimal text (it is a 64-bit integer). */
  producerId: string;
  producerEpoch: number;
  /** Wall-clock time of the transaction's first write, epoch ms: the broker's timeout runs from about then. */
  startedAt: number;
  /** Records written in it. */
  records: number;
}

/**
 * What an exactly-once `kafka` sink checkpoints (`prepareCommit`): its transactional id and the
 * transaction that holds the records written since the previous checkpoint (null when there
 * were none). Field names are part of the checkpoint format.
 */
export interface KafkaSinkState {
  transactionalId: string;
  prepared: PreparedTransaction | null;
}

/** Checks a restored state; CHECKPOINT_INCOMPATIBLE when it is not one this sink wrote. */
export function checkSinkState(restored: unknown, step: string): KafkaSinkState | undefined {
  if (restored === undefined || restored === null) return undefined;
  const s = restored as Partial<KafkaSinkState>;
  const p = s.prepared as Partial<PreparedTransaction> | null | undefined;
  const ok =
    typeof restored === 'object' &&
    typeof s.transactionalId === 'string' &&
    s.transactionalId !== '' &&
    (p === null ||
      (typeof p === 'object' &&
        p !== undefined &&
        typeof p.producerId === 'string' &&
        /^\d+$/.test(p.producerId) &&
        Number.isInteger(p.producerEpoch) &&
        Number.isFinite(p.startedAt) &&
        Number.isInteger(p.records)));
  if (!ok) {
    throw new SluiceError(
      'CHECKPOINT_INCOMPATIBLE',
      `checkpointed state ${JSON.stringify(restored)} is not a kafka sink state; restart with --from-scratch`,
      { step },
    );
  }
  return s as KafkaSinkState;
}
