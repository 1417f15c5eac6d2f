/**
 * Helpers for tests against the real Kafka broker (`scripts/services.sh up kafka`): the
 * reachability check that skips (or, under CI, fails), unique names, topic admin and a per-file
 * topic fixture, producing with the client library, and the `kafka` source's reader and sink's
 * config and context outside a job. The broker's address and Kafka's own tools, the independent
 * client, are in `test-support-tools.ts`, re-exported here.
 *
 * Exported as `@sluice/kafka/testing` for the CLI's end-to-end tests. Not a stable public API:
 * it changes with the tests that use it.
 */

import { Admin, ConfigResourceTypes, Producer } from '@platformatic/kafka';
import {
  type DecodeFailure,
  type Logger,
  type Row,
  type SinkContext,
  type SourceBatch,
  type SourceContext,
  type SourceReader,
  silentLogger,
  systemClock,
  validateConfig,
} from '@sluice/core';
import { portOpen, reportMissingService } from '@sluice/core/testing';
import { type KafkaSinkConfig, kafkaSinkConfig } from './sink-config.ts';
import { kafkaSource } from './source.ts';
import type { KafkaSourceConfig } from './source-config.ts';
import { READER_ID } from './source-reader.ts';

import { KAFKA_BROKER, REPO_ROOT } from './test-support-tools.ts';

export {
  type ConsoleRecord,
  type ConsumedRecord,
  consoleConsume,
  consoleProduce,
  KAFKA_BROKER,
  KAFKA_HOST,
  kafkaTool,
  REPO_ROOT,
  services,
  type ToolResult,
} from './test-support-tools.ts';
export { portOpen, reportMissingService };

let reachable: Promise<boolean> | undefined;

/**
 * Whether the broker answers on 127.0.0.1:9092. When it does not, prints "skipped: kafka not
 * reachable at 127.0.0.1:9092 …" and returns false — except under CI, where it throws (see
 * `reportMissingService`).
 */
export async function kafkaAvailable(): Promise<boolean> {
  reachable ??= portOpen(KAFKA_BROKER);
  const ok = await reachable;
  if (!ok) reportMissingService(`kafka not reachable at ${KAFKA_BROKER} (scripts/services.sh up kafka)`);
  return ok;
}

let counter = 0;

/** A topic (or group, transactional id, pipeline) name no other test or run uses. */
export function uniqueName(label: string): string {
  return `sluice-test-${label}-${process.pid}-${Date.now().toString(36)}-${counter++}`;
}

async function withAdmin<T>(fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = new Admin({
    clientId: 'sluice-test-admin',
    bootstrapBrokers: [KAFKA_BROKER],
    retries: 5,
    retryDelay: 200,
  });
  try {
    return await fn(admin);
  } finally {
    await admin.close();
  }
}

/**
 * Creates a topic through the admin API, with topic `configs` (`max.message.bytes`, …), and
 * waits until its partitions have leaders (throws after 5 s).
 */
export async function createTopic(
  name: string,
  partitions = 3,
  configs: { [name: string]: string } = {},
): Promise<void> {
  await withAdmin(async (admin) => {
    await admin.createTopics({
      topics: [name],
      partitions,
      replicas: 1,
      configs: Object.entries(configs).map(([key, value]) => ({ name: key, value })),
    });
    for (let i = 0; i < 50; i++) {
      const md = await admin.metadata({ topics: [name], forceUpdate: true }).catch(() => undefined);
      const t = md?.topics.get(name);
      if (t && t.partitions.length === partitions && t.partitions.every((p) => p.leader >= 0)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`topic ${name} has no leaders after 5 s`);
  });
}

/** Changes topic configs; the topic's other configs keep their values. */
export async function alterTopic(name: string, configs: { [name: string]: string }): Promise<void> {
  await withAdmin((admin) =>
    admin.incrementalAlterConfigs({
      resources: [
        {
          resourceType: ConfigResourceTypes.TOPIC,
          resourceName: name,
          configs: Object.entries(configs).map(([key, value]) => ({ name: key, configOperation: 0, value })),
        },
      ],
    }),
  );
}

/** Deletes topics (missing ones are ignored). */
export async function deleteTopics(...names: string[]): Promise<void> {
  await withAdmin((admin) => admin.deleteTopics({ topics: names })).catch(() => {});
}

/**
 * The topics of one test file: `create` makes a uniquely named one, `cleanup` (for the file's
 * `after` hook) deletes all it made — none when the broker was never reached.
 */
export class Topics {
  readonly #created: string[] = [];

  /** Creates a topic named after `label` (see `createTopic`) and returns its name. */
  async create(label: string, partitions = 3, configs: { [name: string]: string } = {}): Promise<string> {
    const name = uniqueName(label);
    this.#created.push(name);
    await createTopic(name, partitions, configs);
    return name;
  }

  async cleanup(): Promise<void> {
    if (this.#created.length > 0) await deleteTopics(...this.#created);
  }
}

/** The earliest offset still in each of the `partitions` partitions of `topic` (what retention or DeleteRecords left). */
export async function earliestOffsets(topic: string, partitions: number): Promise<number[]> {
  return withAdmin(async (admin) => {
    const listed = await admin.listOffsets({
      topics: [
        {
          name: topic,
          partitions: Array.from({ length: partitions }, (_, partitionIndex) => ({
            partitionIndex,
            timestamp: -2n,
          })),
        },
      ],
    });
    const out: number[] = [];
    for (const p of listed[0]?.partitions ?? []) out[p.partitionIndex] = Number(p.offset);
    return out;
  });
}

/** Offsets a group has committed for a topic, by partition (absent: none). */
export async function committedOffsets(group: string, topic: string): Promise<Map<number, number>> {
  return withAdmin(async (admin) => {
    const result = await admin.listConsumerGroupOffsets({ groups: [group] });
    const out = new Map<number, number>();
    for (const g of result) {
      for (const t of g.topics) {
        if (t.name !== topic) continue;
        for (const p of t.partitions)
          if (p.committedOffset >= 0n) out.set(p.partitionIndex, Number(p.committedOffset));
      }
    }
    return out;
  });
}

/** Sets a (stopped) group's committed offsets, by partition — as an operator would reset them. */
export async function setCommittedOffsets(
  group: string,
  topic: string,
  offsets: Map<number, number>,
): Promise<void> {
  await withAdmin((admin) =>
    admin.alterConsumerGroupOffsets({
      groupId: group,
      topics: [
        {
          name: topic,
          partitionOffsets: [...offsets].map(([partition, offset]) => ({
            partition,
            offset: BigInt(offset),
          })),
        },
      ],
    }),
  );
}

/** A record produced by `produce`. */
export interface ProducedRecord {
  partition: number;
  /** Text (as UTF-8) or raw bytes. */
  value: string | Buffer;
  key?: string;
  timestamp?: number;
}

/**
 * Produces records quickly through the client library (for bulk and timing-sensitive tests
 * where the console producer's JVM start would dominate); `partition` is explicit.
 */
export async function produce(topic: string, records: readonly ProducedRecord[]): Promise<void> {
  const producer = new Producer({
    clientId: 'sluice-test-producer',
    bootstrapBrokers: [KAFKA_BROKER],
    idempotent: true,
    acks: -1,
  });
  try {
    for (let i = 0; i < records.length; i += 5_000) {
      await producer.send({
        messages: records.slice(i, i + 5_000).map((r) => {
          const m: { topic: string; partition: number; value: Buffer; key?: Buffer; timestamp?: bigint } = {
            topic,
            partition: r.partition,
            value: typeof r.value === 'string' ? Buffer.from(r.value) : r.value,
          };
          if (r.key !== undefined) m.key = Buffer.from(r.key);
          if (r.timestamp !== undefined) m.timestamp = BigInt(r.timestamp);
          return m;
        }),
      });
    }
  } finally {
    await producer.close();
  }
}

/** A logger that keeps every line, to check what was (and was not) logged. */
export interface CapturingLogger extends Logger {
  readonly lines: { level: string; message: string; fields?: { [k: string]: unknown } }[];
}

export function capturingLogger(): CapturingLogger {
  const lines: CapturingLogger['lines'] = [];
  const at =
    (level: string) =>
    (message: string, fields?: { [k: string]: unknown }): void => {
      lines.push({ level, message, fields });
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Opens the reader of a `kafka` source from a raw config (defaults applied as a pipeline would). */
export async function openKafkaReader(
  config: { [k: string]: unknown },
  options: { restored?: unknown; log?: Logger; id?: string } & Pick<
    SourceContext,
    'partitionsAssigned' | 'partitionsRevoked'
  > = {},
): Promise<SourceReader> {
  const checked = validateConfig<KafkaSourceConfig>(kafkaSource.config, {
    brokers: [KAFKA_BROKER],
    ...config,
  });
  if (!checked.ok) throw new Error(`invalid kafka config: ${JSON.stringify(checked.issues)}`);
  const restored: { [partition: string]: unknown } = {};
  if (options.restored !== undefined) restored[READER_ID] = options.restored;
  const readers = await kafkaSource.create(checked.value).open({
    id: options.id ?? 'in',
    restored,
    clock: systemClock,
    baseDir: process.cwd(),
    signal: new AbortController().signal,
    log: options.log ?? silentLogger,
    partitionsAssigned: options.partitionsAssigned,
    partitionsRevoked: options.partitionsRevoked,
  });
  return readers[0];
}

/** What `readUntil` collected: records and failures with their partitions, and every batch. */
export interface Collected {
  records: Row[];
  failures: (DecodeFailure & { partition: string })[];
  batches: SourceBatch[];
}

/**
 * Reads until `done(collected)` holds, or throws after `timeoutMs` (a bounded loop: every read
 * returns within ~200 ms when there is nothing to read).
 */
export async function readUntil(
  reader: SourceReader,
  done: (c: Collected) => boolean,
  timeoutMs = 15_000,
  into: Collected = { records: [], failures: [], batches: [] },
): Promise<Collected> {
  const deadline = Date.now() + timeoutMs;
  const signal = new AbortController().signal;
  while (!done(into)) {
    if (Date.now() > deadline) {
      throw new Error(`readUntil: timed out after ${timeoutMs} ms with ${into.records.length} records`);
    }
    const batch = await reader.read(1024, signal);
    if (batch === null) break;
    into.batches.push(batch);
    for (const r of batch.records) into.records.push(r);
    for (const f of batch.failures ?? []) into.failures.push({ ...f, partition: batch.partition ?? '' });
  }
  return into;
}

/** A `kafka` sink config with defaults applied, as a pipeline would give it. */
export function sinkConfig(options: { [k: string]: unknown }): KafkaSinkConfig {
  const result = validateConfig<KafkaSinkConfig>(kafkaSinkConfig, { brokers: [KAFKA_BROKER], ...options });
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.value;
}

/** A sink context outside a job (by default, id `out` and a capturing logger). */
export function sinkContext(
  options: { id?: string; pipeline?: string; restored?: unknown; log?: Logger } = {},
): SinkContext {
  return {
    id: options.id ?? 'out',
    pipeline: options.pipeline,
    restored: options.restored,
    clock: systemClock,
    baseDir: REPO_ROOT,
    signal: new AbortController().signal,
    log: options.log ?? capturingLogger(),
  };
}
