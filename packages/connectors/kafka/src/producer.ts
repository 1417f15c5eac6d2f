/**
 * Sluice's own small interface over the `@platformatic/kafka` producer, for the `kafka` sink: an
 * idempotent producer (acks=all) or a transactional one whose every transaction gets its own
 * producer epoch. Outside the `producer*.ts` files the sink does not touch the client library.
 *
 * The library provides connections, metadata, producer ids (InitProducerId) and transactions
 * (AddPartitionsToTxn, EndTxn). Records go out through this file's own path: one record batch
 * per partition encoded in one pass (`producer-batch.ts`), one Produce request per leader
 * (`producer-request.ts`), sequence numbers kept here, a failed request resent with the same
 * batches (the broker drops what it already has). The library's `send` builds the same bytes
 * at about half the speed (docs/benchmarks.md).
 */

import { type ClusterMetadata, Producer, type ProducerOptions } from '@platformatic/kafka';
import { backoffDelay, sleep } from '@sluice/core';
import { kafkaErrorName } from './client-errors.ts';
import { apiVersion, connectionTo } from './library-internals.ts';
import { encodeRecordBatch } from './producer-batch.ts';
import { isFencedName, ProduceError } from './producer-errors.ts';
import { partitioner } from './producer-partitioner.ts';
import {
  type BrokerConnection,
  type PartitionOutcome,
  PRODUCE_VERSIONS,
  produce,
} from './producer-request.ts';
import {
  libraryOptions,
  type ProducerIdentity,
  type ProducerRecord,
  type ProducerSettings,
} from './producer-settings.ts';

type Transaction = Awaited<ReturnType<Producer['beginTransaction']>>;

/** The records of one send that go to one partition, and their encoded batch. */
interface PartitionBatch {
  partition: number;
  /** Indexes of the records in the send. */
  positions: number[];
  records: ProducerRecord[];
  baseSequence: number;
  bytes: Buffer;
}

const SEQUENCE_WRAP = 2 ** 31;
const EMPTY = Buffer.alloc(0);

/**
 * A producer of one topic with acks=all and idempotence on: either plain or transactional.
 * `send` resolves when every record is acknowledged by all in-sync replicas. Calls must not
 * overlap (the sink awaits each).
 */
export class KafkaProducer {
  readonly transactionalId: string | undefined;
  readonly #producer: Producer;
  readonly #topic: string;
  readonly #settings: ProducerSettings;
  readonly #choose: (key: Buffer | string | undefined) => number;
  /** The partition of each record of a send, reused from send to send. */
  #chosen = new Int32Array(0);
  #version: number | undefined;
  #txn: Transaction | undefined;
  /** The open transaction has partitions (the coordinator knows of it). */
  #txnUsed = false;
  /** The epoch obtained by `init` has not been used by a transaction yet. */
  #fresh = false;
  /** Next sequence number by partition, for the producer id and epoch in `#sequenceOwner`. */
  readonly #sequences = new Map<number, number>();
  #sequenceOwner = '';
  #closed = false;

  /**
   * Creates the client; nothing is sent before `init`. A transactional producer asks the broker
   * for transactions of at most `timeout` ms.
   */
  constructor(settings: ProducerSettings, topic: string, transactional?: { id: string; timeout: number }) {
    this.transactionalId = transactional?.id;
    this.#topic = topic;
    this.#settings = settings;
    this.#choose = partitioner(settings.partitioner);
    const options: ProducerOptions<Buffer, Buffer, Buffer, Buffer> = {
      ...libraryOptions(settings),
      idempotent: true,
      acks: -1,
      autocreateTopics: false,
      // -1/-1 asks the broker for a producer id (or, with a transactional id, fences the previous
      // holder); the library would otherwise send 0/0, which the coordinator takes as a stale producer.
      producerId: -1n,
      producerEpoch: -1,
      // The library sends this as the transaction timeout in InitProducerId.
      timeout: transactional ? transactional.timeout : settings.requestTimeout,
    };
    if (transactional) options.transactionalId = transactional.id;
    this.#producer = new Producer(options);
  }

  /** The producer id and epoch in use; undefined before `init`. */
  get identity(): ProducerIdentity | undefined {
    const producerId = this.#producer.producerId;
    const producerEpoch = this.#producer.producerEpoch;
    return producerId === undefined || producerEpoch === undefined
      ? undefined
      : { producerId, producerEpoch };
  }

  /**
   * Obtains a producer id. With a transactional id this fences every earlier producer that used
   * it (their sends and commits fail from now on) and aborts the transaction they left open.
   */
  async init(): Promise<void> {
    if (this.transactionalId === undefined) {
      await this.#producer.initIdempotentProducer({});
      return;
    }
    this.#txn = await this.#producer.beginTransaction();
    this.#txnUsed = false;
    this.#fresh = true;
  }

  /** Begins a transaction under a new producer epoch (the one of `init` for the first). */
  async begin(): Promise<void> {
    if (this.#txn !== undefined && this.#fresh) {
      this.#fresh = false;
      return;
    }
    if (this.#txn !== undefined) throw new Error('a transaction is already open');
    const txn = await this.#producer.beginTransaction();
    this.#txn = txn;
    this.#txnUsed = false;
    // A new epoch per transaction: a transaction's (producer id, epoch) then names it alone, so a
    // commit retried after a crash can never end a later transaction by mistake.
    await this.#producer.initIdempotentProducer({});
  }

  /**
   * Sends records (into the open transaction, if transactional); resolves when all are
   * acknowledged. Rejects with a ProduceError: `record` with the positions of the records not
   * appended, `refused`, `fenced`, or `unavailable` once the retries ran out.
   */
  async send(records: readonly ProducerRecord[]): Promise<void> {
    const version = await this.#produceVersion();
    const metadata = await this.#metadata(false);
    const partitions = metadata.topics.get(this.#topic)?.partitionsCount ?? 0;
    if (partitions === 0) throw new ProduceError('unavailable', `no metadata for topic '${this.#topic}'`);
    const batches = this.#byPartition(records, partitions);
    const txn = this.#txn;
    if (this.transactionalId !== undefined) {
      if (txn === undefined) throw new Error('send() outside a transaction');
      this.#fresh = false;
      await txn.addPartitions(
        metadata,
        batches.map((b) => ({ topic: this.#topic, partition: b.partition, value: EMPTY })),
      );
      this.#txnUsed = true;
    }
    this.#encode(batches);
    await this.#deliver(batches, version);
  }

  /**
   * Groups records by partition, in the order partitions first appear: each record's partition
   * is chosen once and counted, so every group's arrays are allocated at their final size.
   */
  #byPartition(records: readonly ProducerRecord[], partitions: number): PartitionBatch[] {
    const n = records.length;
    if (this.#chosen.length < n) this.#chosen = new Int32Array(Math.max(n, this.#chosen.length * 2));
    const chosen = this.#chosen;
    const counts = new Int32Array(partitions);
    const order: number[] = [];
    for (let i = 0; i < n; i++) {
      const partition = this.#choose(records[i].key) % partitions;
      chosen[i] = partition;
      if (counts[partition]++ === 0) order.push(partition);
    }
    const groups: PartitionBatch[] = new Array(partitions);
    const batches = order.map((partition) => {
      const size = counts[partition];
      const batch: PartitionBatch = {
        partition,
        positions: new Array(size),
        records: new Array(size),
        baseSequence: 0,
        bytes: EMPTY,
      };
      groups[partition] = batch;
      counts[partition] = 0; // now the fill cursor
      return batch;
    });
    for (let i = 0; i < n; i++) {
      const partition = chosen[i];
      const at = counts[partition]++;
      const batch = groups[partition];
      batch.positions[at] = i;
      batch.records[at] = records[i];
    }
    return batches;
  }

  /** Encodes each batch under the current producer id and epoch, taking its sequence numbers. */
  #encode(batches: readonly PartitionBatch[]): void {
    const identity = this.identity;
    if (identity === undefined) throw new Error('send() before init()');
    const owner = `${identity.producerId}/${identity.producerEpoch}`;
    if (owner !== this.#sequenceOwner) {
      this.#sequences.clear();
      this.#sequenceOwner = owner;
    }
    const now = Date.now();
    for (const b of batches) {
      b.baseSequence = this.#sequences.get(b.partition) ?? 0;
      this.#sequences.set(b.partition, (b.baseSequence + b.records.length) % SEQUENCE_WRAP);
      b.bytes = encodeRecordBatch(
        b.records,
        {
          producerId: identity.producerId,
          producerEpoch: identity.producerEpoch,
          baseSequence: b.baseSequence,
          transactional: this.transactionalId !== undefined,
          compression: this.#settings.compression,
        },
        now,
      );
    }
  }

  /**
   * Sends the batches to their leaders until each is appended; resends what may succeed later
   * (same bytes, same sequence numbers) with capped backoff, after refreshing the metadata.
   */
  async #deliver(batches: PartitionBatch[], version: number): Promise<void> {
    const policy = this.#settings.retry;
    let pending = batches;
    const unsent: number[] = [];
    let named: number[] | undefined = [];
    let recordError: string | undefined;
    for (let attempt = 1; pending.length > 0; attempt++) {
      let metadata: ClusterMetadata;
      try {
        // No library retries here: this loop retries, so the backoff stays one capped sequence.
        metadata = attempt === 1 ? await this.#metadata(false) : await this.#metadata(true, 0);
      } catch (err) {
        if (attempt >= policy.maxAttempts) {
          throw new ProduceError('unavailable', `producing to topic '${this.#topic}': ${describe(err)}`);
        }
        await this.#backoff(attempt, err);
        continue;
      }
      const byLeader = new Map<number, PartitionBatch[]>();
      for (const b of pending) {
        const leader = metadata.topics.get(this.#topic)?.partitions[b.partition]?.leader ?? -1;
        const list = byLeader.get(leader);
        if (list) list.push(b);
        else byLeader.set(leader, [b]);
      }
      const leaders = [...byLeader];
      const answers = await Promise.allSettled(
        leaders.map(([leader, list]) => this.#request(metadata, leader, list, version)),
      );
      const retry: PartitionBatch[] = [];
      let lastError = '';
      let producerError: string | undefined;
      for (let l = 0; l < leaders.length; l++) {
        const list = leaders[l][1];
        const answer = answers[l];
        if (answer.status === 'rejected') {
          retry.push(...list);
          lastError = describe(answer.reason);
          continue;
        }
        for (const b of list) {
          const outcome: PartitionOutcome = answer.value.get(b.partition) ?? {
            kind: 'retry',
            error: 'no answer',
          };
          switch (outcome.kind) {
            case 'ok':
              break;
            case 'retry':
              retry.push(b);
              lastError = outcome.error;
              break;
            case 'record':
              // The batch was refused whole: the partition expects its first sequence number again.
              this.#sequences.set(b.partition, b.baseSequence);
              unsent.push(...b.positions);
              if (outcome.records === undefined || named === undefined) named = undefined;
              else
                for (const r of outcome.records) if (b.positions[r] !== undefined) named.push(b.positions[r]);
              recordError = outcome.error;
              break;
            case 'producer':
              producerError = outcome.error;
              retry.push(b);
              break;
            case 'refused':
              throw new ProduceError('refused', `producing to topic '${this.#topic}': ${outcome.error}`);
          }
        }
      }
      if (producerError !== undefined) {
        const name = producerError.split(' ')[0];
        if (this.transactionalId !== undefined || isFencedName(name)) {
          throw new ProduceError(
            isFencedName(name) ? 'fenced' : 'unavailable',
            `producing to topic '${this.#topic}': ${producerError}`,
          );
        }
        if (attempt >= policy.maxAttempts) {
          throw new ProduceError('unavailable', `producing to topic '${this.#topic}': ${producerError}`);
        }
        // An idempotent producer whose state the broker lost (expired id, broken sequence):
        // a new producer id, and the batches not appended again under it (at-least-once).
        await this.#producer.initIdempotentProducer({});
        this.#encode(retry);
      } else if (retry.length > 0) {
        if (attempt >= policy.maxAttempts) {
          throw new ProduceError(
            'unavailable',
            `producing to topic '${this.#topic}' failed ${attempt} times; last: ${lastError}`,
          );
        }
        await this.#backoff(attempt, lastError);
      }
      pending = retry;
    }
    if (unsent.length > 0) {
      throw new ProduceError('record', recordError ?? 'refused', unsent, named);
    }
  }

  /** Waits before attempt `attempt + 1` (capped, jittered), reporting it to `onRetry`. */
  async #backoff(attempt: number, error: unknown): Promise<void> {
    const policy = this.#settings.retry;
    const delay = backoffDelay(attempt, policy.initialBackoff, policy.maxBackoff, policy.random);
    policy.onRetry?.(error, attempt, delay);
    await sleep(delay);
  }

  #request(metadata: ClusterMetadata, leader: number, batches: readonly PartitionBatch[], version: number) {
    return connectionTo<BrokerConnection>(this.#producer, metadata, leader).then((connection) =>
      produce(connection, version, this.#topic, this.transactionalId, this.#settings.requestTimeout, batches),
    );
  }

  #metadata(force: boolean, retries?: number): Promise<ClusterMetadata> {
    const options = { topics: [this.#topic], autocreateTopics: false, forceUpdate: force };
    return this.#producer.metadata(retries === undefined ? options : { ...options, retries });
  }

  async #produceVersion(): Promise<number> {
    this.#version ??= await apiVersion(this.#producer, 'Produce', PRODUCE_VERSIONS);
    if (this.#version === undefined) {
      throw new ProduceError(
        'refused',
        'the broker is older than Kafka 2.8; the kafka sink needs 2.8 or newer',
      );
    }
    return this.#version;
  }

  /** Commits the open transaction (a no-op when it had no send). */
  async commit(): Promise<void> {
    await this.#end(true);
  }

  /** Aborts the open transaction (a no-op when it had no send). */
  async abort(): Promise<void> {
    await this.#end(false);
  }

  async #end(commit: boolean): Promise<void> {
    const txn = this.#txn;
    if (txn === undefined) return;
    if (!this.#txnUsed) {
      // The coordinator never heard of it: ending it there would fail (INVALID_TXN_STATE).
      if (!this.#fresh) {
        await txn.cancel();
        this.#txn = undefined;
      }
      return;
    }
    if (commit) await txn.commit();
    else await txn.abort();
    this.#txn = undefined;
    this.#txnUsed = false;
  }

  /** Closes the connections. An open transaction is left to the broker (it aborts it on timeout or when fenced). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#producer.close(true);
  }
}

function describe(err: unknown): string {
  const name = kafkaErrorName(err);
  const message = err instanceof Error ? err.message : String(err);
  return name === undefined ? message : `${name}: ${message}`;
}
