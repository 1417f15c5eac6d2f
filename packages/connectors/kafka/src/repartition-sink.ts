/**
 * The writer of a repartition topic (the upstream part of a task of a regrouping pipeline, see
 * docs/ARCHITECTURE.md, Repartition topics): each record goes to the partition its new key hashes
 * to, and the task's watermark goes to every partition as a marker, all inside the exactly-once
 * `kafka` sink's transactions — committed with the checkpoint that holds the task's source offsets.
 *
 * Messages are JSON envelopes, so that a record keeps every field it has (a `_kafka` of its own
 * source included) and its event time: `{ "k": key, "t": time, "r": record }` for a record (with
 * `"c": kind`, its `RowKind`, when an updating stream crosses and it is not an insert),
 * `{ "k": …, "m": { "p": producer, "w": watermark } }` for a marker. A marker's key is one that
 * hashes (murmur2, as every Kafka client places keys) to the partition it is meant for.
 */

import {
  compileExpression,
  defineSink,
  INSERT,
  type Row,
  type Sink,
  type SinkBatch,
  type SinkContext,
  type SinkRejection,
  SluiceError,
  Type,
  validateConfig,
} from '@sluice/core';
import { partitioner } from './producer-partitioner.ts';
import { kafkaSink } from './sink.ts';
import { type KafkaSinkConfig, kafkaSinkConfig } from './sink-config.ts';

/** Config of the internal `kafka_repartition` sink, written by the worker's planner. */
const repartitionSinkConfig = Type.Object(
  {
    kafka: Type.Record(Type.String(), Type.Unknown(), {
      description: 'The `kafka` sink config the records are written with (topic, connection).',
    }),
    key: Type.Array(Type.String(), { minItems: 1, description: 'SQL expressions of the new key.' }),
    partitions: Type.Integer({ minimum: 1, description: 'Partitions of the repartition topic.' }),
  },
  { additionalProperties: false },
);

/**
 * A marker of producer `p`: its watermark `w` after the records it wrote before (null: −∞), and
 * `i` when its input is idle (it holds nothing back until its next marker without `i`).
 */
export interface RepartitionMarker {
  readonly p: number;
  readonly w: number | null;
  readonly i?: true;
}

/** For each partition of a topic of `partitions`, a message key that the Kafka partitioner places there. */
export function markerKeys(partitions: number): string[] {
  const hash = partitioner('murmur2_hash');
  const keys: (string | undefined)[] = new Array(partitions);
  let left = partitions;
  for (let k = 0; left > 0; k++) {
    const key = `sluice-watermark-${k}`;
    const p = (hash(key) as number) % partitions;
    if (keys[p] === undefined) {
      keys[p] = key;
      left--;
    }
  }
  return keys as string[];
}

/** A composite key's values, in order (a loop rather than a closure per record). */
function keyOf(fields: readonly ((r: Row) => unknown)[], r: Row): unknown[] {
  const out = new Array<unknown>(fields.length);
  for (let i = 0; i < fields.length; i++) out[i] = fields[i](r);
  return out;
}

class RepartitionSink implements Sink {
  readonly takesWatermarks = true;
  readonly #inner: Sink;
  readonly #key: ((r: Row) => unknown)[];
  readonly #markerKeys: string[];
  #producer = 0;
  #written = Number.NEGATIVE_INFINITY;
  #idle = false;

  constructor(kafka: KafkaSinkConfig, key: readonly string[], partitions: number) {
    this.#inner = kafkaSink.create(kafka);
    this.#key = key.map((text, i) => compileExpression(text, { path: `key[${i}]` }).evaluate);
    this.#markerKeys = markerKeys(partitions);
  }

  async open(ctx: SinkContext): Promise<void> {
    if (ctx.task === undefined) {
      throw new SluiceError('INTERNAL', 'a repartition topic is written by the tasks of a worker only', {
        step: ctx.id,
      });
    }
    this.#producer = ctx.task.partition;
    await this.#inner.open(ctx);
  }

  async write(batch: SinkBatch): Promise<SinkRejection[] | undefined> {
    const { records, times, kinds } = batch;
    const n = records.length;
    const out: Row[] = new Array(n);
    const outTimes: number[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const r = records[i];
      const k = this.#key.length === 1 ? this.#key[0](r) : keyOf(this.#key, r);
      const kind = kinds?.[i] ?? INSERT;
      out[i] =
        kind === INSERT
          ? { k: JSON.stringify(k ?? null), t: times[i], r }
          : { k: JSON.stringify(k ?? null), t: times[i], r, c: kind };
      outTimes[i] = times[i];
    }
    const w = batch.watermark;
    const idle = batch.idle === true;
    // A marker per partition after the records: every record of this producer before it is in.
    const known = w !== undefined && (Number.isSafeInteger(w) || w === Number.NEGATIVE_INFINITY);
    if (known && (w > this.#written || idle !== this.#idle)) {
      const marker: RepartitionMarker = {
        p: this.#producer,
        w: w === Number.NEGATIVE_INFINITY ? null : w,
        ...(idle ? { i: true as const } : {}),
      };
      const time = Math.max(0, w, this.#written);
      for (const key of this.#markerKeys) {
        out.push({ k: key, m: marker });
        outTimes.push(time);
      }
      if (w > this.#written) this.#written = w;
      this.#idle = idle;
    }
    const rejected = await this.#inner.write({ records: out, times: outTimes });
    // Indexes below n are the input's records; a refused marker is the sink's failure.
    if (rejected?.some((r) => r.index >= n)) {
      throw new SluiceError('SINK_UNAVAILABLE', 'Kafka refused a watermark marker of the repartition topic');
    }
    return rejected;
  }

  prepareCommit(checkpointId: number): Promise<unknown> {
    return this.#inner.prepareCommit!(checkpointId);
  }

  commit(checkpointId: number): Promise<void> {
    return this.#inner.commit!(checkpointId);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  async abort(): Promise<void> {
    await this.#inner.abort?.();
  }
}

/** The internal sink the planner puts at the end of a regrouping pipeline's upstream part. */
export const repartitionSink = defineSink({
  type: 'kafka_repartition',
  summary: 'Writes a repartition topic: records by their new key, and the watermark to every partition.',
  delivery: 'exactly-once',
  description: 'Internal: written by a scaled-out worker for a step that regroups, never by a pipeline file.',
  example: 'type: kafka_repartition',
  config: repartitionSinkConfig,
  // An updating stream crosses too: each record with its row kind (`c`; absent: an insert).
  changelog: { consumes: () => ['append', 'upsert', 'retract'], hint: '' },
  create: (config) => {
    const checked = validateConfig<KafkaSinkConfig>(kafkaSinkConfig, config.kafka);
    if (!checked.ok) {
      throw new SluiceError(
        'INTERNAL',
        `the repartition topic's sink config is invalid: ${JSON.stringify(checked.issues)}`,
      );
    }
    if (checked.value.delivery !== 'exactly_once') {
      throw new SluiceError('INTERNAL', 'a repartition topic is written exactly once');
    }
    return new RepartitionSink(checked.value, config.key, config.partitions);
  },
});
