/**
 * The `nats` source: a durable JetStream pull consumer whose messages are acknowledged only
 * after the checkpoint that covers them is durable.
 */

import {
  AckPolicy,
  type ConsumerInfo,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  StorageType,
} from '@nats-io/jetstream';
import { millis, type NatsConnection, nanos } from '@nats-io/transport-node';
import {
  defineSource,
  parseDuration,
  SluiceError,
  type SourceContext,
  type SourceReader,
} from '@sluice/core';
import { closeNats, connectNats, describeError } from './connection.ts';
import { type NatsSourceConfig, natsSourceConfig } from './source-config.ts';
import { NatsReader } from './source-reader.ts';

/** The durable name a source without `durable` uses: stable across restarts of its pipeline. */
export function defaultDurable(ctx: Pick<SourceContext, 'id' | 'pipeline'>): string {
  return `sluice-${ctx.pipeline ?? 'embedded'}-${ctx.id}`.replace(/[.*>/\\\s]/g, '_');
}

/** Whether `err` is the JetStream API's answer `code`. */
export function isApiError(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}

/** The stream exists, or is created with `create`; otherwise CONFIG_INVALID. */
async function ensureStream(jsm: JetStreamManager, config: NatsSourceConfig, step: string): Promise<void> {
  try {
    await jsm.streams.info(config.stream);
    return;
  } catch (err) {
    if (!isApiError(err, JetStreamApiCodes.StreamNotFound)) throw err;
    if (!config.create)
      throw new SluiceError(
        'CONFIG_INVALID',
        `nats: stream '${config.stream}' does not exist; create it, or set \`create: true\` (with \`subjects\`)`,
        { step, path: 'stream', cause: err },
      );
  }
  if (config.subjects === undefined)
    throw new SluiceError(
      'CONFIG_INVALID',
      `nats: stream '${config.stream}' does not exist, and \`create\` needs \`subjects\` to create it`,
      { step, path: 'subjects' },
    );
  await jsm.streams.add({ name: config.stream, subjects: config.subjects, storage: StorageType.File });
}

/** The durable consumer's info: it exists, or is created with `create`; otherwise CONFIG_INVALID. */
async function ensureConsumer(
  jsm: JetStreamManager,
  config: NatsSourceConfig,
  durable: string,
  ackWait: number,
  step: string,
): Promise<ConsumerInfo> {
  try {
    return await jsm.consumers.info(config.stream, durable);
  } catch (err) {
    if (!isApiError(err, JetStreamApiCodes.ConsumerNotFound)) throw err;
    if (!config.create)
      throw new SluiceError(
        'CONFIG_INVALID',
        `nats: stream '${config.stream}' has no consumer '${durable}'; create it, or set \`create: true\``,
        { step, path: 'durable', cause: err },
      );
  }
  const subjects = config.subjects ?? [];
  return jsm.consumers.add(config.stream, {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(ackWait),
    max_deliver: config.max_deliver,
    max_ack_pending: config.max_ack_pending,
    deliver_policy: config.deliver_policy === 'new' ? DeliverPolicy.New : DeliverPolicy.All,
    ...(subjects.length === 1 ? { filter_subject: subjects[0] } : {}),
    ...(subjects.length > 1 ? { filter_subjects: subjects } : {}),
  });
}

async function open(config: NatsSourceConfig, ackWait: number, ctx: SourceContext): Promise<SourceReader[]> {
  const durable = config.durable ?? defaultDurable(ctx);
  const nc: NatsConnection = await connectNats(config, {
    code: 'SOURCE_UNAVAILABLE',
    step: ctx.id,
    log: ctx.log,
    kind: 'source',
  });
  try {
    const jsm = await jetstreamManager(nc);
    await ensureStream(jsm, config, ctx.id);
    const info = await ensureConsumer(jsm, config, durable, ackWait, ctx.id);
    if (info.config.ack_policy !== AckPolicy.Explicit)
      throw new SluiceError(
        'CONFIG_INVALID',
        `nats: consumer '${durable}' acknowledges with policy '${info.config.ack_policy}'; the source needs 'explicit'`,
        { step: ctx.id, path: 'durable' },
      );
    if (info.config.deliver_subject !== undefined)
      throw new SluiceError(
        'CONFIG_INVALID',
        `nats: consumer '${durable}' is a push consumer; the source needs a pull consumer`,
        {
          step: ctx.id,
          path: 'durable',
        },
      );
    const filters =
      info.config.filter_subjects ?? (info.config.filter_subject ? [info.config.filter_subject] : []);
    if (
      config.subjects !== undefined &&
      [...filters].sort().join(' ') !== [...config.subjects].sort().join(' ')
    )
      ctx.log.warn(
        'nats: the existing consumer filters other subjects than `subjects`; it is used as it is',
        {
          source: ctx.id,
          durable,
          consumer_subjects: filters,
          subjects: config.subjects,
        },
      );
    const consumerAckWait = info.config.ack_wait === undefined ? 30_000 : millis(info.config.ack_wait);
    const reader = new NatsReader(
      {
        partition: 'nats',
        stream: config.stream,
        durable,
        payload: { format: config.format, maxDepth: config.max_depth, invalidUtf8: config.invalid_utf8 },
        metadata: config.metadata,
        // -1 on an existing consumer: no limit from the server; the option still paces checkpoints.
        window:
          info.config.max_ack_pending !== undefined && info.config.max_ack_pending > 0
            ? info.config.max_ack_pending
            : config.max_ack_pending,
        maxDeliver: info.config.max_deliver ?? -1,
        ackWait: consumerAckWait,
        pullBatch: config.pull_batch,
        ackFloor: info.ack_floor.stream_seq,
      },
      ctx,
      ctx.restored.nats,
      () => closeNats(nc),
    );
    const consumer = await jetstream(nc).consumers.get(config.stream, durable);
    reader.start(consumer);
    return [reader];
  } catch (err) {
    await closeNats(nc);
    if (err instanceof SluiceError) throw err;
    // The server or the client refused the stream or consumer config: retrying will not help.
    if (err instanceof JetStreamApiError || /requires server/.test(describeError(err)))
      throw new SluiceError('CONFIG_INVALID', `nats: cannot open the consumer: ${describeError(err)}`, {
        step: ctx.id,
        path: 'subjects',
        cause: err,
      });
    throw new SluiceError('SOURCE_UNAVAILABLE', `nats: cannot open the consumer: ${describeError(err)}`, {
      step: ctx.id,
      path: 'stream',
      cause: err,
    });
  }
}

/** The `nats` source spec. */
export const natsSource = defineSource({
  type: 'nats',
  summary: 'Reads a NATS JetStream stream with a durable pull consumer, acknowledging after the checkpoint.',
  // The stream, the consumer and its subjects decide what the server delivers; the servers may
  // change (new credentials, another node of the same cluster).
  identity: ['stream', 'durable', 'subjects'],
  delivery: 'at-least-once',
  description: [
    'Reads `stream` through the durable pull consumer `durable` (created, with the stream, when',
    '`create` is set; else it must exist, with explicit acknowledgements). `subjects` filters the',
    'subjects read, with wildcards. Several workers with the same `durable` share the messages: the',
    'server hands each to one of them.',
    '',
    'Delivery: at-least-once. A message is acknowledged only once the checkpoint covering its record',
    'is durable. After a crash the server delivers again every message not acknowledged (once the',
    'consumer’s `ack_wait` has passed); those the restored checkpoint already covers are acknowledged',
    'and skipped (counted as duplicates), so records read after the last checkpoint are read again',
    'but none before it — on the same worker; with several workers a redelivery may go to another',
    'one, which reads it again. The server delivers at most `max_ack_pending` unacknowledged',
    'messages: when half of that window has been read the source asks for an early checkpoint, and',
    'meanwhile the server holds the rest back (backpressure). On a clean stop the messages not',
    'acknowledged are handed back (`nak` with a 0.3 s delay, so that a pull request of the closed',
    'connection that the server still holds does not take them) and are delivered again then.',
    '',
    '`ack_wait` and the checkpoint interval. The server redelivers a message not acknowledged within',
    '`ack_wait`. Because acknowledgements wait for the checkpoint, the source tells the server every',
    'third of `ack_wait` that it is still working on the messages it holds (`+WPI`), so a checkpoint',
    'interval longer than `ack_wait` causes no redelivery while it runs; a redelivery of a message',
    'still held is skipped and counted. A message delivered for the last time its consumer’s',
    '`max_deliver` allows, after earlier deliveries were never acknowledged, goes to the dead-letter',
    'output with the reason and is terminated (`term`) with the checkpoint.',
    '',
    'Each message payload is one record (`format`); a payload that does not decode goes to the',
    'dead-letter output with the reason, its subject and stream sequence, and is acknowledged with',
    'the checkpoint like the others. With `metadata` each record gets `_nats: { subject, stream,',
    'sequence, delivered, headers }`. The batch times are the times the stream stored the messages',
    '(the same on every delivery); set the pipeline’s `event_time` to take the time from a field.',
    'When the connection drops the client reconnects by itself with capped exponential backoff',
    '(0.25 s to 5 s, with jitter) and pulls again.',
  ].join('\n'),
  example: [
    'type: nats',
    "servers: ['nats://127.0.0.1:4222']",
    'stream: ORDERS',
    'durable: sluice-orders',
    "subjects: ['orders.>']",
    'create: true',
  ].join('\n'),
  config: natsSourceConfig,
  create(config) {
    // Checked here, so that a bad duration fails before anything connects.
    const ackWait = parseDuration(config.ack_wait, 'ack_wait');
    parseDuration(config.connect_timeout, 'connect_timeout');
    if (config.max_deliver === 0)
      throw new SluiceError('CONFIG_INVALID', 'nats: max_deliver must be -1 (no limit) or at least 1', {
        path: 'max_deliver',
      });
    return {
      open(ctx: SourceContext): Promise<SourceReader[]> {
        return open(config, ackWait, ctx);
      },
    };
  },
});
