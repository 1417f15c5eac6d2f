/**
 * The `kafka` sink: records to one Kafka topic, with keys and headers from SQL expressions,
 * at-least-once through an idempotent producer or exactly-once through transactions tied to
 * checkpoints (`sink-transactional.ts`).
 */

import {
  defineSink,
  formatName,
  type Sink,
  type SinkBatch,
  type SinkContext,
  type SinkInfo,
  type SinkRejection,
  SluiceError,
} from '@sluice/core';
import { KafkaProducer } from './producer.ts';
import { ProduceError } from './producer-errors.ts';
import { type KafkaSinkConfig, kafkaSinkConfig } from './sink-config.ts';
import { chunkEnds, type EncodedBatch, sinkExpressions } from './sink-encode.ts';
import { type CheckedConfig, checkConfig, type SinkSetup, setUpSink, sinkError } from './sink-setup.ts';
import { TransactionalKafkaSink } from './sink-transactional.ts';

/** The at-least-once sink: an idempotent producer, each write done when all of it is acknowledged. */
class KafkaSink implements Sink {
  readonly #config: KafkaSinkConfig;
  readonly #checked: CheckedConfig;
  #setup: SinkSetup | undefined;
  #producer: KafkaProducer | undefined;

  constructor(config: KafkaSinkConfig, sink?: SinkInfo) {
    this.#config = config;
    this.#checked = checkConfig(config, sink);
  }

  async open(ctx: SinkContext): Promise<void> {
    // A checkpoint written in exactly_once mode may hold a prepared transaction: setUpSink commits it.
    const setup = await setUpSink(this.#config, this.#checked, ctx);
    this.#setup = setup;
    const producer = new KafkaProducer(setup.settings, this.#config.topic);
    try {
      await producer.init();
    } catch (err) {
      await producer.close().catch(() => {});
      throw sinkError(setup, `cannot connect a producer to ${this.#config.brokers.join(', ')}`, err);
    }
    this.#producer = producer;
    setup.log.info('kafka sink ready', {
      topic: this.#config.topic,
      partitions: setup.topic.partitions,
      delivery: 'at_least_once',
    });
  }

  async write(input: SinkBatch): Promise<SinkRejection[] | undefined> {
    const setup = this.#setup!;
    const batch = setup.encoder.encode(input, Date.now());
    const n = batch.messages.length;
    if (n === 0) return batch.rejections;
    const rejections = batch.rejections ?? [];
    const ends = chunkEnds(batch.sizes, setup.batchBytes);
    let from = 0;
    for (const end of ends) {
      const { messages } = batch;
      try {
        await this.#producer!.send(ends.length === 1 ? messages : messages.slice(from, end));
      } catch (err) {
        const positions = Array.from({ length: end - from }, (_, i) => from + i);
        await this.#refused(batch, positions, err, rejections);
      }
      from = end;
    }
    return rejections.length > 0 ? rejections : undefined;
  }

  /** Sends the messages at `positions` again (after a refusal), finding the refused ones. */
  async #send(batch: EncodedBatch, positions: number[], rejections: SinkRejection[]): Promise<void> {
    try {
      await this.#producer!.send(positions.map((p) => batch.messages[p]));
    } catch (err) {
      await this.#refused(batch, positions, err, rejections);
    }
  }

  /**
   * After sending the messages at `positions` failed with `err`: when Kafka refused records,
   * those it names are rejected and the rest of their batches sent again; when it names none (a
   * batch too large), the refused batches are split in halves until the refused records are
   * found. Batches of other partitions in the same request were appended and are not sent again.
   * Any other failure is the sink's.
   */
  async #refused(
    batch: EncodedBatch,
    positions: number[],
    err: unknown,
    rejections: SinkRejection[],
  ): Promise<void> {
    if (!(err instanceof ProduceError && err.kind === 'record')) {
      throw sinkError(this.#setup!, `producing to topic '${this.#config.topic}' failed`, err);
    }
    const unsent = err.unsent.map((u) => positions[u]);
    const reject = (p: number) =>
      rejections.push({ index: batch.indexes[p], message: `Kafka refused the record: ${err.message}` });
    if (err.named !== undefined && err.named.length > 0) {
      const named = new Set(err.named.map((u) => positions[u]));
      for (const p of named) reject(p);
      const rest = unsent.filter((p) => !named.has(p));
      if (rest.length > 0) await this.#send(batch, rest, rejections);
    } else if (unsent.length === 1) {
      reject(unsent[0]);
    } else {
      const middle = Math.ceil(unsent.length / 2);
      await this.#send(batch, unsent.slice(0, middle), rejections);
      await this.#send(batch, unsent.slice(middle), rejections);
    }
  }

  async close(): Promise<void> {
    await this.#producer?.close();
  }
}

/** The `kafka` sink spec. */
export const kafkaSink = defineSink({
  type: 'kafka',
  summary: 'Writes records to a Kafka topic, at-least-once or exactly-once with transactions.',
  delivery: { option: 'delivery', values: { at_least_once: 'at-least-once', exactly_once: 'exactly-once' } },
  description: [
    'Each record becomes one message of `topic`: its value is the record as JSON (`format: json`),',
    'the text of its `value` field (`format: string`), or the record in the Confluent wire format',
    '(`format: avro` or `json_schema`, below); the optional `key` and `headers` are SQL',
    'expressions over the record. A record whose key or header expression fails, that cannot be',
    'encoded, or that Kafka would refuse (larger than the topic’s `max.message.bytes`, no key on a',
    'compacted topic, a timestamp outside the topic’s window) goes to the dead-letter output',
    '(SINK_REJECTED); the others are written. Keyed messages are placed like the Java client places',
    'them (murmur2), so one key always lands in one partition.',
    '',
    'An updating stream (an `aggregate` without a window) is written with `changelog: upsert`: each',
    'row under its `key`, a tombstone (the key, no value) for a delete or a retraction that no update',
    'of the key replaces, the form a compacted topic, a Kafka Streams or ksqlDB table and Flink’s',
    '`upsert-kafka` connector read. Without it, such a pipeline is refused before it starts.',
    '',
    'Each message carries a timestamp (`timestamp`): by default the record’s event time, as Flink’s',
    'Kafka sink and Kafka Streams write it; `now` writes the time of writing; an SQL expression picks',
    'it per record. Kafka deletes records by these timestamps: replaying data whose event times are',
    'older than the topic’s `retention.ms` writes records the broker deletes soon after. When the sink',
    'opens it reads the topic’s `retention.ms`, `cleanup.policy` and `message.timestamp.type`',
    '(DescribeConfigs), and it warns once when it writes a timestamp older than the retention — never',
    'for a topic that keeps records for ever (`retention.ms=-1`, or no `delete` policy) or stamps them',
    'itself (`LogAppendTime`).',
    '',
    'Formats `avro` and `json_schema` write what Confluent’s serializers write and the `kafka`',
    'source’s formats of the same names read: byte 0, the 4-byte big-endian schema id, then Avro',
    'binary or JSON text. When the sink opens it registers `schema` under `subject` (default',
    '`<topic>-value`) in `schema_registry` (`POST {url}/subjects/{subject}/versions`); a schema the',
    'subject already has keeps its id. A schema the registry refuses (incompatible with the',
    'subject’s earlier versions, or invalid), a 401/403 or a URL that is not a registry fails the',
    'job at start with CONFIG_INVALID; an unreachable registry is retried like the broker (`retry`).',
    'A record that does not match the schema — a missing field without a default, a wrong type, a',
    'value Avro cannot hold, a JSON Schema violation — goes to the dead-letter output with the',
    'field named. Schema references, Protobuf and key schemas are not supported.',
    '',
    'The producer is idempotent with `acks=all`: within one producer session a retried request',
    'never duplicates or reorders messages. Records are sent in batches of at most `batch_bytes`;',
    'what arrives while a request is in flight goes out together in the next. Transient failures',
    '(broker unreachable or restarting, leader moving) are retried with capped exponential backoff',
    'and jitter (`retry`), each retry logged as a warning; when the attempts run out the job fails',
    'with SINK_UNAVAILABLE and resumes from its last checkpoint on restart. Wrong credentials, a',
    'broker certificate that does not verify, or missing ACLs fail it at once with CONFIG_INVALID.',
    '',
    '**`delivery: at_least_once`** (default): a write is done when all its messages are',
    'acknowledged, so a checkpoint covers only acknowledged records. After a crash the records',
    'since the last checkpoint are written again: consumers may see duplicates, never gaps.',
    '',
    '**`delivery: exactly_once`**: the records between two checkpoints go into one Kafka',
    'transaction (transactional id `transactional_id`, by default `sluice-<pipeline>-<sink id>`).',
    'At a checkpoint the sink waits until every message is acknowledged and records the',
    'transaction’s producer id and epoch in the checkpoint; once the checkpoint is durable it',
    'commits the transaction, and writes after the checkpoint wait for that commit and then open',
    'the next transaction under a new producer epoch. When the job starts from a checkpoint, the',
    'sink first commits the transaction that checkpoint prepared (a crash may have come between',
    'the durable checkpoint and the commit) by sending EndTxn with its producer id and epoch, then',
    'initializes its producer, which fences every earlier incarnation and aborts the transaction',
    'it left open (records after the checkpoint, which the job replays). A `read_committed`',
    'consumer therefore sees every record exactly once, and sees a checkpoint’s records only after',
    'that checkpoint completes (output latency is the checkpoint interval). If a send fails after',
    'its retries, the transaction is aborted and the job fails, to be restarted from its last',
    'checkpoint; a failed commit is never aborted — the restart commits it.',
    '',
    'The guarantee has one limit, shared with every Kafka transactional sink without KIP-939 (which',
    'Kafka 4.4 does not offer): the broker aborts a transaction left open longer than',
    '`transaction_timeout`. If a job crashes after a checkpoint became durable but before its',
    'commit, and stays down until that transaction is older than `transaction_timeout`, its',
    'records are lost (the restart logs a warning when that can have happened). Keep',
    '`transaction_timeout` well above the checkpoint interval plus the restart time. Two processes',
    'must not share a transactional id: the newer fences the older, which then fails.',
    '`read_committed` consumers wait behind an open transaction, so a job that crashes and does',
    'not come back delays them by up to `transaction_timeout`. Without checkpoints nothing is',
    'committed until the final checkpoint at the end of input.',
  ].join('\n'),
  example: [
    'type: kafka',
    'brokers: [127.0.0.1:9092]',
    'topic: orders-enriched',
    'key: customer_id',
    'headers:',
    '  source: "\'sluice\'"',
    'delivery: exactly_once',
  ].join('\n'),
  config: kafkaSinkConfig,
  changelog: {
    consumes: (config) => (config.changelog === 'upsert' ? ['append', 'upsert', 'retract'] : ['append']),
    hint: 'set `changelog: upsert` with a `key` expression (each row under its key, a tombstone for a delete)',
    upsertKey: (config) =>
      config.changelog === 'upsert' && config.key !== undefined ? { path: 'key' } : undefined,
    // One field is the key as it is; several, a JSON array of their values (in the key's order).
    primaryKey: (fields) => ({
      changelog: 'upsert',
      key:
        fields.length === 1
          ? formatName(fields[0])
          : `'[' || ${fields.map((f) => `to_json(${formatName(f)})`).join(" || ',' || ")} || ']'`,
    }),
  },
  expressions: sinkExpressions,
  create: (config, sink) => {
    if (config.changelog === 'upsert' && config.key === undefined) {
      throw new SluiceError(
        'CONFIG_INVALID',
        'changelog: upsert needs `key`, the expression giving the primary key each row and tombstone is written under, e.g. key: region',
        { path: 'key' },
      );
    }
    return config.delivery === 'exactly_once'
      ? new TransactionalKafkaSink(config, sink)
      : new KafkaSink(config, sink);
  },
});
