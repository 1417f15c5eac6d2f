/**
 * What both kinds of `kafka` sink do when they open: settings from the config, the topic's
 * limits, the record encoder (with its registered schema in the registry formats), and the
 * commit of a transaction a crashed predecessor prepared.
 */

import { type Logger, retryPolicy, type SinkContext, type SinkInfo, SluiceError } from '@sluice/core';
import { clientOptions, connectionSecrets, describeKafkaError, permanentFailure } from './client-errors.ts';
import { failureKind } from './producer-errors.ts';
import { commitPrepared } from './producer-recovery.ts';
import type { ProducerSettings } from './producer-settings.ts';
import { describeTopic, isUnknownTopic, type TopicInfo } from './producer-topic.ts';
import { registrySecrets } from './schema-registry-config.ts';
import { checkSinkState, type KafkaSinkConfig, type KafkaSinkState, sinkDurations } from './sink-config.ts';
import { BATCH_OVERHEAD, RecordEncoder } from './sink-encode.ts';
import { checkSinkSchema, openSinkSchema, type SinkSchemaPlan } from './sink-schema.ts';

/** Everything a sink needs once open. */
export interface SinkSetup {
  readonly step: string;
  readonly log: Logger;
  readonly settings: ProducerSettings;
  readonly topic: TopicInfo;
  readonly encoder: RecordEncoder;
  readonly secrets: readonly string[];
  /** Broker-side transaction timeout (ms). */
  readonly transactionTimeout: number;
  /** Most bytes of records per produce request: `batch_bytes`, kept under the topic's limit. */
  readonly batchBytes: number;
  /** The state restored from the checkpoint, checked. */
  readonly restored: KafkaSinkState | undefined;
}

/** Re-throws a config error with the step id (the spec's `create` has none to give). */
function withStep<T>(step: string, run: () => T): T {
  try {
    return run();
  } catch (err) {
    if (err instanceof SluiceError && err.step === undefined) {
      throw new SluiceError(err.code, err.message, { step, path: err.path, cause: err.cause });
    }
    throw err;
  }
}

/**
 * The error a failed Kafka operation becomes: CONFIG_INVALID when credentials, ACLs or options
 * are wrong; otherwise SINK_UNAVAILABLE (retryable). The message never holds a secret.
 */
export function sinkError(
  setup: Pick<SinkSetup, 'step' | 'secrets'>,
  what: string,
  err: unknown,
): SluiceError {
  if (err instanceof SluiceError) return err;
  const detail = describeKafkaError(err, setup.secrets);
  if (failureKind(err) === 'refused') {
    const permanent = permanentFailure(err) ?? { hint: 'check the credentials, ACLs and options' };
    return new SluiceError('CONFIG_INVALID', `${what}: ${detail}; ${permanent.hint}`, {
      step: setup.step,
      path: permanent.path,
      cause: err,
    });
  }
  return new SluiceError('SINK_UNAVAILABLE', `${what}: ${detail}`, { step: setup.step, cause: err });
}

/** What can be checked of a config without a broker: durations, expressions, an inline schema. */
export interface CheckedConfig {
  readonly encoder: RecordEncoder;
  readonly transactionTimeout: number;
  readonly requestTimeout: number;
  /** Formats `avro` and `json_schema`: the schema to register at `open`. */
  readonly schema: SinkSchemaPlan | undefined;
}

/**
 * Checks a config when the sink is created (so `sluice validate` catches bad expressions,
 * durations and inline schemas); throws CONFIG_INVALID or the expression's compile error.
 */
export function checkConfig(config: KafkaSinkConfig, sink?: SinkInfo): CheckedConfig {
  return {
    ...sinkDurations(config),
    schema: checkSinkSchema(config),
    encoder: new RecordEncoder(config, undefined, sink),
  };
}

/**
 * Builds the settings, checks the topic, registers the schema (registry formats), and commits
 * the restored prepared transaction.
 */
export async function setUpSink(
  config: KafkaSinkConfig,
  checked: CheckedConfig,
  ctx: SinkContext,
): Promise<SinkSetup> {
  const step = ctx.id;
  const { transactionTimeout, requestTimeout, encoder } = checked;
  const secrets = [...connectionSecrets(config), ...registrySecrets(config)];
  const retry = withStep(step, () => retryPolicy(config.retry));
  const settings: ProducerSettings = withStep(step, () => ({
    base: clientOptions(config, ctx.baseDir, step),
    retry: {
      ...retry,
      onRetry: (err: unknown, attempt: number, delay: number) =>
        ctx.log.warn('kafka sink: request failed; retrying', {
          sink: step,
          topic: config.topic,
          attempt,
          delay,
          error: describeKafkaError(err, secrets),
        }),
    },
    requestTimeout,
    compression: config.compression,
    partitioner: config.partitioner,
  }));
  const restored = checkSinkState(ctx.restored, step);
  // Schema problems are configuration: found before Kafka is asked anything.
  if (checked.schema !== undefined) {
    encoder.schema = await openSinkSchema(checked.schema, {
      step,
      baseDir: ctx.baseDir,
      log: ctx.log,
      retry,
      secrets,
      signal: ctx.signal,
    });
  }
  let topic: TopicInfo;
  try {
    topic = await describeTopic(settings, config.topic);
  } catch (err) {
    if (isUnknownTopic(err)) {
      throw new SluiceError(
        'CONFIG_INVALID',
        `topic '${config.topic}' does not exist; create it first (the sink never creates topics)`,
        { step, path: 'topic', cause: err },
      );
    }
    throw sinkError({ step, secrets }, `cannot read the metadata of topic '${config.topic}'`, err);
  }
  encoder.topicInfo = topic;
  encoder.onExpired = (timestamp, retentionMs) =>
    ctx.log.warn(
      'kafka sink: writing records stamped longer ago than the topic keeps records; ' +
        'the broker deletes them soon after they are written',
      {
        sink: step,
        topic: config.topic,
        timestamp: new Date(timestamp).toISOString(),
        timestamp_option: config.timestamp,
        retention_ms: retentionMs,
        fix: 'stamp records with the time of writing (timestamp: now), or raise the topic’s retention.ms',
      },
    );
  const setup: SinkSetup = {
    step,
    log: ctx.log,
    settings,
    topic,
    encoder,
    secrets,
    transactionTimeout,
    batchBytes: Math.max(1, Math.min(config.batch_bytes, topic.maxMessageBytes - BATCH_OVERHEAD)),
    restored,
  };
  if (restored?.prepared) await recoverPrepared(setup, restored, ctx.signal);
  return setup;
}

/**
 * Commits the transaction the restored checkpoint prepared: the checkpoint is durable, so its
 * records must become visible. Called before any producer of this sink initializes (which would
 * abort it).
 */
async function recoverPrepared(setup: SinkSetup, state: KafkaSinkState, signal: AbortSignal): Promise<void> {
  const prepared = state.prepared!;
  const fields = {
    transactional_id: state.transactionalId,
    producer_id: prepared.producerId,
    producer_epoch: prepared.producerEpoch,
    records: prepared.records,
  };
  let outcome: Awaited<ReturnType<typeof commitPrepared>>;
  try {
    outcome = await commitPrepared(
      setup.settings,
      state.transactionalId,
      { producerId: BigInt(prepared.producerId), producerEpoch: prepared.producerEpoch },
      signal,
    );
  } catch (err) {
    throw sinkError(
      setup,
      `cannot commit the transaction of the restored checkpoint (transactional id '${state.transactionalId}')`,
      err,
    );
  }
  const age = Date.now() - prepared.startedAt;
  if (outcome === 'committed') {
    setup.log.info('committed the transaction the restored checkpoint prepared', fields);
  } else if (outcome === 'superseded' && age < setup.transactionTimeout) {
    setup.log.info('the transaction of the restored checkpoint was committed before the restart', fields);
  } else if (outcome === 'superseded') {
    setup.log.warn(
      'the transaction of the restored checkpoint has ended, but it is older than transaction_timeout: ' +
        'it was committed before the restart, or the broker aborted it on timeout and its records are lost',
      { ...fields, age_ms: age },
    );
  } else {
    setup.log.error(
      'the transaction of the restored checkpoint was aborted; its records are lost from the output',
      fields,
    );
  }
}
