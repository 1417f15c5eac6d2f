/**
 * Config schema of the `kafka` source, and its parsing into reader settings.
 */

import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import {
  type InputLimits,
  inputLimitFields,
  parseDuration,
  SluiceError,
  type Static,
  Type,
  toEpochMillis,
} from '@sluice/core';
import { connectionFields } from './connection.ts';
import type { ValueFormat } from './formats.ts';
import type { RegistrySettings } from './schema-registry.ts';
import { registrySettings, schemaRegistryOptions } from './schema-registry-config.ts';

/** What Kafka accepts as a `group.instance.id`. */
const GROUP_INSTANCE_ID = '^[A-Za-z0-9._-]{1,249}$';

/** Config schema of the `kafka` source. */
export const kafkaSourceConfig = Type.Object(
  {
    ...connectionFields,
    topics: Type.Array(Type.String({ minLength: 1 }), {
      minItems: 1,
      description:
        'Topics to read. They must exist: the source never creates topics, and an unknown topic ' +
        'fails the job with CONFIG_INVALID.',
      examples: [['orders', 'refunds']],
    }),
    group_id: Type.String({
      minLength: 1,
      description:
        'Consumer group. Workers with the same group share the partitions; offsets are committed ' +
        'to it after each durable checkpoint.',
      examples: ['sluice-orders'],
    }),
    partitioned_by: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        minItems: 1,
        description:
          'The record fields the topics are partitioned by: the producers’ message key is made of ' +
          'these fields alone, so records with equal values are in one partition. Only a pipeline ' +
          'scaled out over workers (`sluice run --worker-id`) reads it: a keyed step whose key ' +
          'includes these fields keeps its state in each task; one that groups by another key ' +
          '(a window per region over a topic keyed by user) gets its records through a ' +
          'repartition topic that the workers create and manage. Absent: every keyed step is ' +
          'taken to be keyed as the topics are partitioned, and nothing is regrouped.',
        examples: [['user_id']],
      }),
    ),
    static_membership: Type.Boolean({
      default: true,
      description:
        'Join the group as a static member (KIP-345) named by `group_instance_id`: a worker ' +
        'restarted after a crash takes its partitions back at once, without a rebalance, instead ' +
        'of waiting for the group to expire the dead member (`session_timeout`). A clean stop ' +
        'leaves the group, so its partitions move to the other workers at once. `false`: a ' +
        'dynamic member, as Kafka consumers are by default.',
      examples: [false],
    }),
    group_instance_id: Type.Optional(
      Type.String({
        pattern: GROUP_INSTANCE_ID,
        description:
          'With `static_membership`: this worker’s name in the group. It must stay the same across ' +
          'restarts of one worker and differ between workers of one group: when a second process ' +
          'joins with the same id, the broker fences the first, which stops with CONFIG_INVALID. ' +
          'Default: `sluice-<pipeline>-<source id>-<host name>-<folder>`, where `<folder>` is a hash ' +
          'of the pipeline file’s folder — so workers on different machines, or in different folders ' +
          'of one machine, differ; set it when several workers share a host name and folder (e.g. ' +
          // biome-ignore lint/suspicious/noTemplateCurlyInString: a pipeline file's ${VAR} reference, shown as such
          '`orders-${WORKER}`). Letters, digits, `.`, `_` and `-`, at most 249.',
        examples: ['orders-worker-1'],
      }),
    ),
    start: Type.String({
      default: 'earliest',
      description:
        'Where a partition starts when neither a checkpoint nor the group has an offset for it: ' +
        '`earliest`, `latest`, or a time (ISO-8601 or epoch ms) — the first record at or after it.',
      examples: ['latest', '2025-01-31T00:00:00Z'],
    }),
    format: Type.Enum(['json', 'string', 'bytes', 'avro', 'json_schema'], {
      default: 'json',
      description:
        'How a value becomes a record: `json` — the value is a JSON object (anything else is a ' +
        'decode failure); `string` — `{ value }` with the UTF-8 text; `bytes` — `{ value }` with ' +
        'the bytes in base64; `avro` and `json_schema` — the Confluent wire format (byte 0, a ' +
        '4-byte schema id, the payload) with the schema of that id from `schema_registry`: Avro ' +
        'decoded to JSON-compatible values, or a JSON object validated against its JSON Schema. ' +
        'A value-less record (tombstone) fails in `json`, `avro` and `json_schema`, is ' +
        '`{ value: null }` otherwise.',
      examples: ['avro'],
    }),
    schema_registry: Type.Optional(schemaRegistryOptions),
    ...inputLimitFields,
    include_metadata: Type.Boolean({
      default: true,
      description:
        'Add `_kafka: { topic, partition, offset, timestamp, key, headers }` to each record (key ' +
        'and header values as UTF-8 text, null when absent). Turn it off in a pipeline that passes ' +
        'records on unchanged: a JSON record without it reaches a JSON sink with the text it was ' +
        'read as, which the sink writes as it is instead of serializing the record again.',
      examples: [false],
    }),
    isolation_level: Type.Enum(['read_committed', 'read_uncommitted'], {
      default: 'read_committed',
      description: '`read_committed` skips records of aborted transactions and waits for open ones.',
      examples: ['read_uncommitted'],
    }),
    session_timeout: Type.String({
      default: '10s',
      description: 'How long the group waits for a silent member before giving its partitions to others.',
      examples: ['30s'],
    }),
    heartbeat_interval: Type.String({
      default: '1s',
      description: 'How often the member tells the group it is alive (well under `session_timeout`).',
      examples: ['3s'],
    }),
    fetch_max_wait: Type.String({
      default: '500ms',
      description: 'How long the broker may hold a fetch open waiting for new records.',
      examples: ['100ms'],
    }),
    fetch_max_bytes: Type.Integer({
      minimum: 1024,
      default: 16_777_216,
      description: 'Upper bound of one fetch response, in bytes.',
      examples: [4_194_304],
    }),
    partition_fetch_max_bytes: Type.Integer({
      minimum: 1024,
      default: 1_048_576,
      description: 'Upper bound of one partition in a fetch response, in bytes.',
      examples: [262_144],
    }),
    max_buffered_bytes: Type.Integer({
      minimum: 1024,
      default: 67_108_864,
      description:
        'Bytes of fetched record batches held ahead of the pipeline; fetching pauses above it, as above ' +
        '`max_buffered_records` (whichever is reached first).',
      examples: [16_777_216],
    }),
    max_buffered_records: Type.Integer({
      minimum: 1,
      default: 20_000,
      description:
        'Records fetched ahead of the pipeline; fetching pauses above it (backpressure reaches ' +
        'the broker).',
      examples: [50_000],
    }),
  },
  { additionalProperties: false },
);

export type KafkaSourceConfig = Static<typeof kafkaSourceConfig>;

/** Where a partition with no checkpointed and no committed offset starts. */
export type StartPolicy = 'earliest' | 'latest' | number;

/** `start` as a policy; CONFIG_INVALID when it is neither a keyword nor a time. */
export function parseStart(value: string): StartPolicy {
  const v = value.trim();
  if (v === 'earliest' || v === 'latest') return v;
  const ms = toEpochMillis(v);
  if (!Number.isFinite(ms) || ms < 0) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `start: '${value}' is neither earliest, latest, an ISO-8601 time nor epoch milliseconds`,
      { path: 'start' },
    );
  }
  return ms;
}

/** Reader settings derived from the config (durations parsed, defaults applied). */
export interface SourceSettings {
  readonly topics: readonly string[];
  readonly groupId: string;
  /** The static member's `group.instance.id`; undefined for a dynamic member. */
  readonly groupInstanceId: string | undefined;
  readonly start: StartPolicy;
  readonly format: ValueFormat;
  /** Set for the registry formats (`avro`, `json_schema`). */
  readonly schemaRegistry: RegistrySettings | undefined;
  readonly includeMetadata: boolean;
  /** `json` and `string`: JSON depth and what invalid UTF-8 becomes. */
  readonly limits: InputLimits;
  readonly readCommitted: boolean;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly maxWaitMs: number;
  readonly maxBytes: number;
  readonly partitionMaxBytes: number;
  readonly maxBuffered: number;
  readonly maxBufferedBytes: number;
}

/** Where a source runs: what the default `group_instance_id` is derived from. */
export interface SourceIdentity {
  /** Source id in the pipeline. */
  readonly id: string;
  readonly pipeline: string | undefined;
  /** The pipeline file's folder. */
  readonly baseDir: string;
  /** The machine's host name (`os.hostname()` when not given). */
  readonly host?: string;
}

/**
 * The `group_instance_id` used when none is configured: the pipeline, the source, the host name
 * and a hash of the pipeline file's folder — the same for every restart of one worker, different
 * for workers on other machines or in other folders. Characters Kafka does not accept become `_`.
 */
export function defaultGroupInstanceId(identity: SourceIdentity): string {
  const folder = createHash('sha256').update(identity.baseDir).digest('hex').slice(0, 8);
  const parts = ['sluice', identity.pipeline, identity.id, identity.host ?? hostname(), folder];
  const id = parts
    .filter((p) => p !== undefined && p !== '')
    .join('-')
    .replace(/[^A-Za-z0-9._-]/g, '_');
  // Kafka's limit is 249 characters: keep the end, where the host and the folder hash are.
  return id.length > 249 ? id.slice(id.length - 249) : id;
}

export function sourceSettings(config: KafkaSourceConfig, identity: SourceIdentity): SourceSettings {
  const sessionTimeoutMs = parseDuration(config.session_timeout, 'session_timeout');
  const heartbeatIntervalMs = parseDuration(config.heartbeat_interval, 'heartbeat_interval');
  if (heartbeatIntervalMs >= sessionTimeoutMs) {
    throw new SluiceError('CONFIG_INVALID', 'heartbeat_interval must be shorter than session_timeout', {
      path: 'heartbeat_interval',
    });
  }
  if (!config.static_membership && config.group_instance_id !== undefined) {
    throw new SluiceError(
      'CONFIG_INVALID',
      'group_instance_id names a static member, but static_membership is false; remove one of them',
      { path: 'group_instance_id' },
    );
  }
  return {
    topics: [...new Set(config.topics)],
    groupId: config.group_id,
    groupInstanceId: config.static_membership
      ? (config.group_instance_id ?? defaultGroupInstanceId(identity))
      : undefined,
    start: parseStart(config.start),
    format: config.format as ValueFormat,
    schemaRegistry: registrySettings(config, 'reads schemas from'),
    includeMetadata: config.include_metadata,
    limits: { maxDepth: config.max_depth, invalidUtf8: config.invalid_utf8 },
    readCommitted: config.isolation_level === 'read_committed',
    sessionTimeoutMs,
    heartbeatIntervalMs,
    maxWaitMs: parseDuration(config.fetch_max_wait, 'fetch_max_wait'),
    maxBytes: config.fetch_max_bytes,
    partitionMaxBytes: config.partition_fetch_max_bytes,
    maxBuffered: config.max_buffered_records,
    maxBufferedBytes: config.max_buffered_bytes,
  };
}
