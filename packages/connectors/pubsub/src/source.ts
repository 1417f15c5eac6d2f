/**
 * The `pubsub` source: pulls a Google Cloud Pub/Sub subscription and acknowledges each message
 * only after the checkpoint that covers it is durable.
 */

import {
  defineSource,
  parseDuration,
  SluiceError,
  type SourceContext,
  type SourceReader,
} from '@sluice/core';
import { describeError, grpcCode, pubsubClient, pubsubLibrary, Status } from './connection.ts';
import { subscriptionPath, topicPath } from './connection-config.ts';
import { type PubsubSourceConfig, pubsubSourceConfig } from './source-config.ts';
import { PubsubReader } from './source-reader.ts';

async function open(
  config: PubsubSourceConfig,
  ackDeadline: number,
  ctx: SourceContext,
): Promise<SourceReader[]> {
  const pubsub = await pubsubClient(config, ctx.baseDir);
  const { v1 } = await pubsubLibrary();
  const subscription = subscriptionPath(config.project, config.subscription);
  const { port, ...options } = await pubsub.getClientConfig();
  const client = new v1.SubscriberClient(port === undefined ? options : { ...options, port: Number(port) });
  try {
    try {
      await client.getSubscription({ subscription });
    } catch (err) {
      if (grpcCode(err) !== Status.NOT_FOUND) throw err;
      if (config.topic === undefined)
        throw new SluiceError(
          'CONFIG_INVALID',
          `pubsub: subscription '${subscription}' does not exist; create it, or give \`topic\` to create it on`,
          { step: ctx.id, path: 'subscription', cause: err },
        );
      try {
        await client.createSubscription({
          name: subscription,
          topic: topicPath(config.project, config.topic),
          ackDeadlineSeconds: ackDeadline,
          enableMessageOrdering: config.ordering,
        });
      } catch (created) {
        // Another worker created it meanwhile.
        if (grpcCode(created) !== Status.ALREADY_EXISTS) throw created;
      }
    }
    const reader = new PubsubReader(
      {
        partition: 'pubsub',
        subscription,
        payload: { format: config.format, maxDepth: config.max_depth, invalidUtf8: config.invalid_utf8 },
        metadata: config.metadata,
        ackDeadline,
        window: config.max_outstanding,
        pullBatch: config.pull_batch,
      },
      client,
      ctx,
      ctx.restored.pubsub,
    );
    reader.start();
    return [reader];
  } catch (err) {
    await client.close().catch(() => {});
    if (err instanceof SluiceError) throw err;
    const code = grpcCode(err);
    const user =
      code === Status.NOT_FOUND ||
      code === Status.INVALID_ARGUMENT ||
      code === Status.PERMISSION_DENIED ||
      code === Status.UNAUTHENTICATED;
    throw new SluiceError(
      user ? 'CONFIG_INVALID' : 'SOURCE_UNAVAILABLE',
      `pubsub: cannot open subscription '${subscription}': ${describeError(err)}`,
      { step: ctx.id, path: 'subscription', cause: err },
    );
  }
}

/** The `pubsub` source spec. */
export const pubsubSource = defineSource({
  type: 'pubsub',
  summary: 'Pulls a Google Cloud Pub/Sub subscription, acknowledging after the checkpoint.',
  identity: ['project', 'subscription'],
  delivery: 'at-least-once',
  description: [
    'Pulls `subscription` with unary `Pull` requests (created on `topic` when it does not exist and',
    '`topic` is given). Several workers on the same subscription share its messages: the service',
    'leases each to one of them.',
    '',
    'Delivery: at-least-once. A message is acknowledged only once the checkpoint covering its record',
    'is durable. Until then the source keeps its lease: it sets the deadline to `ack_deadline` as the',
    'message arrives and renews it every third of that time (`ModifyAckDeadline`), so a checkpoint',
    'interval longer than the deadline causes no redelivery while the source runs. After a crash the',
    'service delivers again every message not acknowledged once its lease ends; those the restored',
    'checkpoint covers (their message ids are in it) are acknowledged and skipped, so records read',
    'after the last checkpoint are read again but none before it — on the same worker; with several',
    'workers a redelivery may go to another one, which reads it again. A message delivered again',
    'while the source still holds it is not read twice. At most `max_outstanding` messages are',
    'pulled and not acknowledged: when half of that is read the source asks for an early checkpoint,',
    'and it pulls nothing more until acknowledgements make room (backpressure). On a clean stop the',
    'messages not acknowledged are handed back (deadline 0 s) and delivered again at once.',
    '',
    'Each message’s data is one record (`format`); data that does not decode goes to the dead-letter',
    'output with the reason and its message id, and is acknowledged with the checkpoint like the',
    'others. The subscription’s own dead-letter policy (a dead-letter topic after',
    '`max_delivery_attempts`) is Pub/Sub’s mechanism for messages a pipeline keeps failing on; set',
    'it on the subscription. With `metadata` each record gets `_pubsub: { message_id, publish_time,',
    'ordering_key, attributes, delivery_attempt }`; the batch times are the publish times. Ordering',
    'keys are delivered in order by a subscription with message ordering (`ordering`), and records',
    'keep that order through the source. Pull failures are retried with capped exponential backoff',
    '(0.25 s to 30 s, with jitter); a subscription that disappears fails the job.',
    '',
    'Tested against a stand-in of the Pub/Sub gRPC API (the package’s `test-support-server.ts`), not',
    'against the real service: no Pub/Sub emulator can run on the machines this was built on.',
  ].join('\n'),
  example: ['type: pubsub', 'project: my-project', 'subscription: orders-sluice', 'topic: orders'].join('\n'),
  config: pubsubSourceConfig,
  create(config) {
    const ackDeadline = Math.round(parseDuration(config.ack_deadline, 'ack_deadline') / 1000);
    if (ackDeadline < 10 || ackDeadline > 600)
      throw new SluiceError('CONFIG_INVALID', 'pubsub: ack_deadline must be between 10s and 600s', {
        path: 'ack_deadline',
      });
    return {
      open(ctx: SourceContext): Promise<SourceReader[]> {
        return open(config, ackDeadline, ctx);
      },
    };
  },
});
