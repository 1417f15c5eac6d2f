/**
 * The `kafka` source: a consumer-group member whose offsets live in Sluice's checkpoints.
 */

import { defineSource, SluiceError, type SourceContext, type SourceReader } from '@sluice/core';
import { GroupConsumer } from './client.ts';
import { clientOptions, connectionSecrets } from './client-errors.ts';
import { registrySecrets } from './schema-registry-config.ts';
import { type KafkaSourceConfig, kafkaSourceConfig, sourceSettings } from './source-config.ts';
import { type KafkaPosition, KafkaReader, READER_ID } from './source-reader.ts';

/** The restored position of the reader, checked: `{ "topic/partition": offset }`. */
function restoredPosition(restored: unknown, step: string): KafkaPosition {
  if (restored === undefined) return {};
  const bad = () =>
    new SluiceError(
      'CHECKPOINT_INCOMPATIBLE',
      `the checkpointed Kafka position ${JSON.stringify(restored)} is not { "topic/partition": offset }; ` +
        'restart with --from-scratch',
      { step },
    );
  if (restored === null || typeof restored !== 'object' || Array.isArray(restored)) throw bad();
  const out: KafkaPosition = {};
  for (const [key, offset] of Object.entries(restored)) {
    if (!/^.+\/\d+$/.test(key) || typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
      throw bad();
    }
    out[key] = offset;
  }
  return out;
}

function open(config: KafkaSourceConfig, ctx: SourceContext): SourceReader[] {
  let settings: ReturnType<typeof sourceSettings>;
  try {
    settings = sourceSettings(config, { id: ctx.id, pipeline: ctx.pipeline, baseDir: ctx.baseDir });
  } catch (err) {
    if (err instanceof SluiceError)
      throw new SluiceError(err.code, err.message, { step: ctx.id, path: err.path });
    throw err;
  }
  const restored = restoredPosition(ctx.restored[READER_ID], ctx.id);
  const client = new GroupConsumer(clientOptions(config, ctx.baseDir, ctx.id), {
    groupId: settings.groupId,
    groupInstanceId: settings.groupInstanceId,
    sessionTimeoutMs: settings.sessionTimeoutMs,
    heartbeatIntervalMs: settings.heartbeatIntervalMs,
    rebalanceTimeoutMs: Math.max(settings.sessionTimeoutMs, 30_000),
    readCommitted: settings.readCommitted,
    maxWaitMs: settings.maxWaitMs,
    maxBytes: settings.maxBytes,
    partitionMaxBytes: settings.partitionMaxBytes,
  });
  const { partitionsAssigned, partitionsRevoked } = ctx;
  return [
    new KafkaReader({
      step: ctx.id,
      settings,
      client,
      log: ctx.log,
      secrets: [...connectionSecrets(config), ...registrySecrets(config)],
      restored,
      now: () => ctx.clock.now(),
      ...(ctx.task ? { task: ctx.task.partition } : {}),
      partitionsAssigned: partitionsAssigned && ((ps) => partitionsAssigned(READER_ID, ps)),
      partitionsRevoked: partitionsRevoked && ((ps) => partitionsRevoked(READER_ID, ps)),
    }),
  ];
}

/** The `kafka` source spec. */
export const kafkaSource = defineSource({
  type: 'kafka',
  delivery: 'at-least-once',
  // Offsets belong to these topics and this group; brokers, start and tuning may change.
  identity: ['topics', 'group_id'],
  summary: 'Reads Kafka topics as a consumer-group member, with offsets kept in Sluice checkpoints.',
  description: [
    'Joins the consumer group `group_id` and reads the partitions Kafka assigns it; several',
    'Sluice workers with the same group share the partitions. One reader multiplexes the assigned',
    'partitions, and each Kafka partition (`topic/3`) gets its own watermark. The batch times are',
    'the Kafka timestamps (used when no `event_time` is configured).',
    '',
    'Offsets live in the checkpoint: the position is `{ "topic/partition": next offset }` for the',
    'records read so far. Nothing is auto-committed: offsets are committed to the group only',
    'after the checkpoint that holds them is durable. Where a partition starts, first match wins:',
    '1. its offset in the restored checkpoint (the first time it is assigned after a restart);',
    '2. the group’s committed offset (or, if greater, the last durable checkpoint’s offset this',
    '   worker knows — a commit may have failed);',
    '3. `start`: `earliest`, `latest`, or the first record at or after a time.',
    '',
    'A rebalance loses nothing: a revoked partition’s unread records are dropped and re-read by its',
    'new owner from the group’s committed offset, which never passes a durable checkpoint; a',
    'partition assigned again starts from the committed offset, never from a stale in-memory one.',
    'Delivery is at-least-once. A restart from a checkpoint resumes each partition exactly at its',
    'checkpointed offset, so a lone worker reads nothing twice; but a partition that moves to another',
    'worker in a rebalance restarts at the group’s committed offset, so records the previous owner',
    'read after its last checkpoint are read again.',
    '',
    'The source is a static member of its group (KIP-345) unless `static_membership: false`: it',
    'joins under `group_instance_id`, so a worker restarted after a crash gets its partitions back',
    'at once, without a rebalance, instead of waiting for the group to drop the dead member after',
    '`session_timeout`. A worker that crashes and does not come back holds its partitions for',
    '`session_timeout`, as a dynamic member does. A clean stop (SIGINT/SIGTERM, end of input, a',
    'failed job) leaves the group, so the other workers take its partitions at once. Two running',
    'workers must not share an instance id: the broker fences the older one, which stops with',
    'CONFIG_INVALID naming `group_instance_id`.',
    '',
    'Under `sluice run --worker-id` (a pipeline scaled out over workers, see the README) the source',
    'runs inside one task per partition number: it reads partition n of every topic in `topics`',
    '(all must have the same number of partitions) without joining the group — the workers are the',
    'group’s members — and commits nothing to it: the offsets live in the task’s checkpoints in the',
    'shared store, which move with the task, so its next owner resumes at exactly those offsets.',
    '',
    'With `include_metadata` each record gets `_kafka: { topic, partition, offset, timestamp, key,',
    'headers }` (key and header values as UTF-8 text). A value that does not decode (malformed',
    'JSON, JSON that is not an object, a tombstone in `json`) goes to the dead-letter output with',
    'its topic, partition and offset; reading continues. Broker outages are retried with capped',
    'backoff without losing the position; an unknown topic, an authentication or authorization',
    'failure, or a broker certificate that does not verify stops the job (CONFIG_INVALID).',
    '',
    'Formats `avro` and `json_schema` read values in the Confluent wire format (byte 0, a 4-byte',
    'big-endian schema id, the payload) with schemas from a Confluent-compatible Schema Registry',
    '(`schema_registry.url`), fetched once per id (`GET {url}/schemas/ids/{id}`) before the records',
    'that use them are decoded. Avro decodes to JSON-compatible values: long → number (a long',
    'beyond ±(2^53 − 1) fails the record), bytes and fixed → base64, enum → its symbol, union → the',
    'value of the branch written (unions a JSON value cannot tell apart, such as int and long, are',
    'not supported), logical types → their underlying value (`timestamp-millis` → epoch ms) except',
    '`decimal` → an exact decimal string; a top-level non-record `v` becomes `{ value: v }`. JSON',
    'Schema values must be JSON objects valid against their schema (Ajv). Dead letters (with topic,',
    'partition, offset and the value in base64): a value not in the wire format, an id the registry',
    'does not have, a schema of the other kind or one that does not compile, a payload that does',
    'not decode or validate. An unreachable registry (or a 5xx) is retried with capped backoff while',
    'decoding waits; a 401/403 or a URL that is not a registry stops the job (CONFIG_INVALID).',
    'Schema references are not supported yet.',
  ].join('\n'),
  example: [
    'type: kafka',
    'brokers: [127.0.0.1:9092]',
    'topics: [orders]',
    'group_id: sluice-orders',
    'start: earliest',
    'format: json',
  ].join('\n'),
  config: kafkaSourceConfig,
  metadata: {
    topic: {
      expression: '_kafka.topic',
      description: 'the topic of the record',
      requires: { include_metadata: true },
    },
    partition: {
      expression: '_kafka.partition',
      description: 'its partition',
      requires: { include_metadata: true },
    },
    offset: {
      expression: '_kafka.offset',
      description: 'its offset in the partition',
      requires: { include_metadata: true },
    },
    timestamp: {
      expression: '_kafka.timestamp',
      description: 'its Kafka timestamp (epoch ms; create or log-append time, as the topic says)',
      requires: { include_metadata: true },
    },
    key: {
      expression: '_kafka.key',
      description: 'its key as UTF-8 text (NULL: none)',
      requires: { include_metadata: true },
    },
    headers: {
      expression: '_kafka.headers',
      description: 'its headers as a map of UTF-8 texts',
      requires: { include_metadata: true },
    },
  },
  create(config) {
    return {
      async open(ctx: SourceContext): Promise<SourceReader[]> {
        return open(config, ctx);
      },
    };
  },
});
