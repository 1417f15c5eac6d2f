/**
 * The reader of a repartition topic (the downstream part of a task of a regrouping pipeline, see
 * docs/ARCHITECTURE.md, Repartition topics): partition p of the topic for task p, through the
 * `kafka` source's reader in task mode (`read_committed`: only the upstream tasks' committed
 * transactions). It unwraps the envelopes `repartition-sink.ts` writes, gives each record the
 * event time it had upstream, and gives the partition's watermark itself — the minimum over every
 * upstream task's latest marker (`RepartitionWatermarks`), for each record as it stood before it.
 *
 * Its position is the inner reader's offsets and each producer's latest marker (the markers before
 * the offsets are not read again after a restore). Once a checkpoint holding a position is durable,
 * the records before its offset are deleted from the topic (DeleteRecords, at most every 30 s, as
 * Kafka Streams purges its repartition topics): this task is the only reader of its partition.
 */

import { Admin } from '@platformatic/kafka';
import {
  defineSource,
  INSERT,
  type Row,
  type RowKind,
  SluiceError,
  type SourceBatch,
  type SourceContext,
  type SourceLag,
  type SourceReader,
  Type,
  validateConfig,
} from '@sluice/core';
import { clientOptions } from './client-errors.ts';
import type { RepartitionMarker } from './repartition-sink.ts';
import { type ProducerWatermarks, RepartitionWatermarks } from './repartition-watermarks.ts';
import { kafkaSource } from './source.ts';
import { type KafkaSourceConfig, kafkaSourceConfig } from './source-config.ts';
import { type KafkaPosition, READER_ID } from './source-reader.ts';

/** Least time between two purges: a short checkpoint interval must not send a DeleteRecords each time. */
const PURGE_INTERVAL_MS = 30_000;

const repartitionSourceConfig = Type.Object(
  {
    kafka: Type.Record(Type.String(), Type.Unknown(), {
      description: 'The `kafka` source config the topic is read with (topic, connection, group).',
    }),
    producers: Type.Integer({ minimum: 1, description: 'Upstream tasks writing into the topic.' }),
    changelog: Type.Optional(
      Type.Object(
        {
          mode: Type.Union([Type.Literal('upsert'), Type.Literal('retract')], {
            description: 'The changelog the crossing stream is.',
          }),
          key: Type.Array(Type.String(), { description: 'The fields that identify a row of it.' }),
        },
        {
          additionalProperties: false,
          description: 'When an updating stream crosses: its records carry their row kinds. Absent: appends.',
        },
      ),
    ),
  },
  { additionalProperties: false },
);

/** What the reader checkpoints. */
interface RepartitionPosition {
  readonly offsets: KafkaPosition;
  readonly producers: ProducerWatermarks;
}

function restoredOf(value: unknown, step: string): RepartitionPosition | undefined {
  if (value === undefined) return undefined;
  const v = value as Partial<RepartitionPosition> | null;
  if (
    v === null ||
    typeof v !== 'object' ||
    typeof v.offsets !== 'object' ||
    typeof v.producers !== 'object'
  ) {
    throw new SluiceError(
      'CHECKPOINT_INCOMPATIBLE',
      `the checkpointed position of a repartition topic ${JSON.stringify(value)} is not { offsets, producers }`,
      { step },
    );
  }
  return v as RepartitionPosition;
}

class RepartitionReader implements SourceReader {
  readonly partition = READER_ID;
  readonly #inner: SourceReader;
  readonly #watermarks: RepartitionWatermarks;
  readonly #config: KafkaSourceConfig;
  readonly #ctx: SourceContext;
  /** Whether an updating stream crosses: the records carry their row kinds. */
  readonly #changelog: boolean;
  #admin: Admin | undefined;
  /** Offsets already purged, by `topic/partition`. */
  readonly #purged = new Map<string, number>();
  /** When the last purge was sent (ms; −∞: never). */
  #purgedAt = Number.NEGATIVE_INFINITY;

  constructor(
    inner: SourceReader,
    producers: number,
    config: KafkaSourceConfig,
    ctx: SourceContext,
    changelog: boolean,
  ) {
    this.#inner = inner;
    this.#changelog = changelog;
    this.#watermarks = new RepartitionWatermarks(producers);
    this.#config = config;
    this.#ctx = ctx;
  }

  restore(saved: ProducerWatermarks): void {
    this.#watermarks.restore(saved);
  }

  async read(max: number, signal: AbortSignal): Promise<SourceBatch | null> {
    const batch = await this.#inner.read(max, signal);
    if (batch === null) return null;
    const n = batch.records.length;
    if (n === 0) return batch;
    const wm = this.#watermarks;
    const before = wm.current;
    const records: Row[] = [];
    const times: number[] = [];
    const watermarks: number[] = [];
    const kinds: RowKind[] = [];
    let moved = false;
    for (let i = 0; i < n; i++) {
      const envelope = batch.records[i];
      const marker = envelope.m as RepartitionMarker | undefined;
      if (marker !== undefined) {
        if (wm.update(marker.p, marker.w ?? Number.NEGATIVE_INFINITY, marker.i === true)) moved = true;
        continue;
      }
      records.push(envelope.r as Row);
      times.push(envelope.t as number);
      watermarks.push(wm.current);
      if (this.#changelog) kinds.push((envelope.c as RowKind | undefined) ?? INSERT);
    }
    const out: SourceBatch = { records, times, watermark: wm.current };
    if (this.#changelog) out.kinds = kinds;
    if (moved && watermarks.some((w) => w !== before)) out.watermarks = watermarks;
    if (batch.partition !== undefined) out.partition = batch.partition;
    if (batch.failures !== undefined) out.failures = batch.failures;
    return out;
  }

  position(): RepartitionPosition {
    return { offsets: this.#inner.position() as KafkaPosition, producers: this.#watermarks.snapshot() };
  }

  async commit(position: unknown): Promise<void> {
    const { offsets } = position as RepartitionPosition;
    await this.#inner.commit?.(offsets);
    await this.#purge(offsets);
  }

  /**
   * Deletes what a durable checkpoint has read, at most every `PURGE_INTERVAL_MS`; a failure is
   * logged, a later commit tries again.
   */
  async #purge(offsets: KafkaPosition): Promise<void> {
    const now = Date.now();
    if (now - this.#purgedAt < PURGE_INTERVAL_MS) return;
    const partitions: { topic: string; partition: number; offset: number }[] = [];
    for (const [key, offset] of Object.entries(offsets)) {
      if ((this.#purged.get(key) ?? 0) >= offset) continue;
      const slash = key.lastIndexOf('/');
      partitions.push({ topic: key.slice(0, slash), partition: Number(key.slice(slash + 1)), offset });
    }
    if (partitions.length === 0) return;
    this.#purgedAt = now;
    try {
      this.#admin ??= new Admin({
        ...clientOptions(this.#config, this.#ctx.baseDir, this.#ctx.id),
        autocreateTopics: false,
      });
      await this.#admin.deleteRecords({
        topics: partitions.map((p) => ({
          name: p.topic,
          partitions: [{ partition: p.partition, offset: BigInt(p.offset) }],
        })),
      });
      for (const p of partitions) this.#purged.set(`${p.topic}/${p.partition}`, p.offset);
    } catch (err) {
      this.#ctx.log.warn('repartition topic: deleting read records failed; the next checkpoint tries again', {
        source: this.#ctx.id,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  lag(signal: AbortSignal): Promise<SourceLag | undefined> {
    return this.#inner.lag?.(signal) ?? Promise.resolve(undefined);
  }

  async close(): Promise<void> {
    await this.#inner.close();
    await this.#admin?.close().catch(() => {});
  }
}

/** The internal source the planner puts at the start of a regrouping pipeline's downstream part. */
export const repartitionSource = defineSource({
  type: 'kafka_repartition',
  summary: 'Reads one partition of a repartition topic, with the watermark its upstream tasks wrote.',
  delivery: 'exactly-once',
  identity: ['kafka'],
  description: 'Internal: read by a scaled-out worker for a step that regroups, never by a pipeline file.',
  example: 'type: kafka_repartition',
  config: repartitionSourceConfig,
  changelog: (config) =>
    config.changelog === undefined
      ? undefined
      : {
          mode: config.changelog.mode,
          key: config.changelog.key,
          reason: 'it carries an updating stream across a repartition topic',
        },
  create(config) {
    const checked = validateConfig<KafkaSourceConfig>(kafkaSourceConfig, config.kafka);
    if (!checked.ok) {
      throw new SluiceError(
        'INTERNAL',
        `the repartition topic's source config is invalid: ${JSON.stringify(checked.issues)}`,
      );
    }
    const kafka = checked.value;
    return {
      async open(ctx: SourceContext): Promise<SourceReader[]> {
        if (ctx.task === undefined) {
          throw new SluiceError('INTERNAL', 'a repartition topic is read by the tasks of a worker only', {
            step: ctx.id,
          });
        }
        const restored = restoredOf(ctx.restored[READER_ID], ctx.id);
        const inner = await kafkaSource
          .create(kafka)
          .open({ ...ctx, restored: restored === undefined ? {} : { [READER_ID]: restored.offsets } });
        const reader = new RepartitionReader(
          inner[0],
          config.producers,
          kafka,
          ctx,
          config.changelog !== undefined,
        );
        if (restored !== undefined) reader.restore(restored.producers);
        return [reader];
      },
    };
  },
});
