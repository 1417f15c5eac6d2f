/**
 * The exactly-once `kafka` sink: the records between two checkpoints form one Kafka
 * transaction, prepared at the checkpoint and committed once the checkpoint is durable (the
 * two-phase commit of Flink's Kafka sink).
 */

import type { Sink, SinkBatch, SinkContext, SinkInfo, SinkRejection } from '@sluice/core';
import { SluiceError } from '@sluice/core';
import { describeKafkaError } from './client-errors.ts';
import { KafkaProducer } from './producer.ts';
import { failureKind } from './producer-errors.ts';
import {
  defaultTransactionalId,
  type KafkaSinkConfig,
  type KafkaSinkState,
  type PreparedTransaction,
} from './sink-config.ts';
import { chunkEnds } from './sink-encode.ts';
import { type CheckedConfig, checkConfig, type SinkSetup, setUpSink, sinkError } from './sink-setup.ts';

interface OpenTransaction {
  startedAt: number;
  records: number;
}

export class TransactionalKafkaSink implements Sink {
  readonly #config: KafkaSinkConfig;
  readonly #checked: CheckedConfig;
  #setup: SinkSetup | undefined;
  #producer: KafkaProducer | undefined;
  #transactionalId = '';
  /** The transaction receiving writes, once it has records. */
  #open: OpenTransaction | undefined;
  /** The transaction prepared at a checkpoint and not yet committed, with that checkpoint's id. */
  #prepared: (PreparedTransaction & { checkpointId: number }) | undefined;
  /** Settled when the prepared transaction is committed; writes of the next epoch wait for it. */
  #committed: PromiseWithResolvers<void> | undefined;
  /** Set once the sink cannot go on (aborted transaction, fenced): every later call throws it. */
  #broken: SluiceError | undefined;
  #closed = false;

  constructor(config: KafkaSinkConfig, sink?: SinkInfo) {
    this.#config = config;
    this.#checked = checkConfig(config, sink);
  }

  async open(ctx: SinkContext): Promise<void> {
    const setup = await setUpSink(this.#config, this.#checked, ctx);
    this.#setup = setup;
    const base = this.#config.transactional_id ?? defaultTransactionalId(ctx.pipeline, ctx.id);
    // A worker's task: the id follows the task, so its next owner fences a zombie on the broker.
    // The part after a repartition topic runs beside the task's first part: an id of its own.
    this.#transactionalId =
      ctx.task === undefined
        ? base
        : `${base}-task-${ctx.task.partition}${ctx.task.part === undefined ? '' : `-${ctx.task.part}`}`;
    if (setup.restored && setup.restored.transactionalId !== this.#transactionalId) {
      setup.log.info('the transactional id changed since the checkpoint', {
        checkpointed: setup.restored.transactionalId,
        now: this.#transactionalId,
      });
    }
    const producer = new KafkaProducer(setup.settings, this.#config.topic, {
      id: this.#transactionalId,
      timeout: setup.transactionTimeout,
    });
    try {
      // Fences earlier incarnations and aborts what they left open (records after the checkpoint).
      await producer.init();
    } catch (err) {
      await producer.close().catch(() => {});
      throw this.#initError(err);
    }
    this.#producer = producer;
    setup.log.info('kafka sink ready', {
      topic: this.#config.topic,
      partitions: setup.topic.partitions,
      delivery: 'exactly_once',
      transactional_id: this.#transactionalId,
    });
  }

  async write(input: SinkBatch): Promise<SinkRejection[] | undefined> {
    this.#check();
    if (this.#committed !== undefined) await this.#committed.promise;
    const setup = this.#setup!;
    const producer = this.#producer!;
    const batch = setup.encoder.encode(input, Date.now());
    const { messages } = batch;
    if (messages.length === 0) return batch.rejections;
    if (this.#open === undefined) {
      try {
        await producer.begin();
      } catch (err) {
        throw await this.#fail('cannot begin a transaction', err);
      }
      this.#open = { startedAt: Date.now(), records: 0 };
    }
    const ends = chunkEnds(batch.sizes, setup.batchBytes);
    let from = 0;
    for (const end of ends) {
      try {
        await producer.send(ends.length === 1 ? messages : messages.slice(from, end));
      } catch (err) {
        throw await this.#fail('sending to the transaction failed', err);
      }
      from = end;
    }
    this.#open.records += messages.length;
    return batch.rejections;
  }

  async prepareCommit(checkpointId: number): Promise<KafkaSinkState> {
    this.#check();
    // A checkpoint that failed after its prepare leaves the transaction prepared; the next one
    // takes it over (no write came in between: writes wait for the commit).
    if (this.#prepared !== undefined) {
      this.#prepared.checkpointId = checkpointId;
      return this.#state(this.#prepared);
    }
    const open = this.#open;
    if (open === undefined) return { transactionalId: this.#transactionalId, prepared: null };
    const identity = this.#producer!.identity!;
    this.#prepared = {
      checkpointId,
      producerId: String(identity.producerId),
      producerEpoch: identity.producerEpoch,
      startedAt: open.startedAt,
      records: open.records,
    };
    this.#open = undefined;
    this.#committed = Promise.withResolvers<void>();
    this.#committed.promise.catch(() => {});
    return this.#state(this.#prepared);
  }

  async commit(checkpointId: number): Promise<void> {
    const prepared = this.#prepared;
    if (prepared === undefined || prepared.checkpointId > checkpointId) return;
    this.#check();
    try {
      await this.#producer!.commit();
    } catch (err) {
      // Never abort here: the checkpoint is durable, so the restart commits the transaction.
      const what = `committing the transaction of checkpoint ${checkpointId} failed`;
      const e = this.#breakWith(
        failureKind(err) === 'fenced'
          ? this.#fenced(what, err)
          : sinkError(
              this.#setup!,
              `${what} (it is committed when the job restarts from that checkpoint)`,
              err,
            ),
      );
      this.#committed?.reject(e);
      throw e;
    }
    this.#prepared = undefined;
    this.#committed?.resolve();
    this.#committed = undefined;
  }

  /**
   * Commits nothing by itself: the runtime's final checkpoint has committed everything on a
   * graceful stop, and after a failure what was written since the last checkpoint must not
   * become visible. A transaction with such records is aborted; a prepared one is left for the
   * next start to commit (its checkpoint may be durable).
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const log = this.#setup?.log;
    const producer = this.#producer;
    this.#committed?.reject(
      new SluiceError('SINK_UNAVAILABLE', 'the sink closed', { step: this.#setup?.step }),
    );
    if (producer === undefined) return;
    if (this.#open !== undefined && this.#broken === undefined) {
      log?.warn('aborting the transaction of records written after the last checkpoint', {
        records: this.#open.records,
      });
      await producer.abort().catch(() => {});
    } else if (this.#prepared !== undefined) {
      log?.info(
        'leaving the prepared transaction to the next start (committed if its checkpoint is durable)',
        {
          checkpoint: this.#prepared.checkpointId,
          records: this.#prepared.records,
        },
      );
    }
    this.#open = undefined;
    await producer.close();
  }

  #state(prepared: PreparedTransaction): KafkaSinkState {
    const { producerId, producerEpoch, startedAt, records } = prepared;
    return {
      transactionalId: this.#transactionalId,
      prepared: { producerId, producerEpoch, startedAt, records },
    };
  }

  #check(): void {
    if (this.#broken) throw this.#broken;
    if (this.#closed)
      throw new SluiceError('SINK_UNAVAILABLE', 'the sink is closed', { step: this.#setup?.step });
  }

  #breakWith(error: SluiceError): SluiceError {
    this.#broken ??= error;
    return error;
  }

  /** A newer producer with the same transactional id took over: this incarnation must stop. */
  #fenced(what: string, err: unknown): SluiceError {
    const setup = this.#setup!;
    return new SluiceError(
      'CONFIG_INVALID',
      `${what}: another producer took over transactional id '${this.#transactionalId}' ` +
        `(${describeKafkaError(err, setup.secrets)}); a newer run of this pipeline started, or another ` +
        'running pipeline uses the same transactional_id',
      { step: setup.step, path: 'transactional_id', cause: err },
    );
  }

  /**
   * A write failed: the open transaction cannot be completed (its sequence is broken or its
   * fate unknown), so it is aborted and the producer closed. The sink refuses further writes:
   * committing later records without the aborted ones would leave a gap; the job restarts from
   * its last checkpoint, which replays them, and `open` creates a new producer.
   */
  async #fail(what: string, err: unknown): Promise<SluiceError> {
    const setup = this.#setup!;
    const kind = failureKind(err);
    const detail = describeKafkaError(err, setup.secrets);
    let error: SluiceError;
    if (kind === 'fenced') {
      error = this.#fenced(what, err);
    } else if (kind === 'record') {
      error = new SluiceError(
        'SINK_UNAVAILABLE',
        `${what}: Kafka refused records of the transaction (${detail}); the transaction is aborted and ` +
          'the job must restart from its last checkpoint',
        { step: setup.step, cause: err },
      );
    } else {
      error = sinkError(
        setup,
        `${what}; the transaction is aborted and the job must restart from its last checkpoint`,
        err,
      );
    }
    this.#breakWith(error);
    const producer = this.#producer!;
    if (kind !== 'fenced') await producer.abort().catch(() => {});
    this.#open = undefined;
    await producer.close().catch(() => {});
    setup.log.error('kafka sink transaction aborted', {
      transactional_id: this.#transactionalId,
      error: error.message,
    });
    return error;
  }

  #initError(err: unknown): SluiceError {
    const setup = this.#setup!;
    const name = err instanceof Error ? describeKafkaError(err, setup.secrets) : String(err);
    if (/INVALID_TRANSACTION_TIMEOUT/.test(name)) {
      return new SluiceError(
        'CONFIG_INVALID',
        `transaction_timeout ${this.#config.transaction_timeout} is more than the broker allows ` +
          '(transaction.max.timeout.ms, 15m by default)',
        { step: setup.step, path: 'transaction_timeout', cause: err },
      );
    }
    return sinkError(setup, `cannot initialize the transactional producer '${this.#transactionalId}'`, err);
  }
}
