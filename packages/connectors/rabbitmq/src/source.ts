/**
 * The `rabbitmq` source: consumes a queue with manual acknowledgements sent only after the
 * checkpoint that covers the messages is durable, or reads a stream from an offset kept in the
 * checkpoint.
 */

import { defineSource, parseDuration, type SourceContext, type SourceReader } from '@sluice/core';
import type { Channel } from 'amqplib';
import { connect } from './connection.ts';
import { type RabbitmqSourceConfig, rabbitmqSourceConfig } from './source-config.ts';
import { RabbitmqReader } from './source-reader.ts';

/** The `x-` arguments a declared queue gets from the config. */
export function queueArguments(config: RabbitmqSourceConfig): { [k: string]: unknown } {
  const args: { [k: string]: unknown } = { ...config.queue_arguments, 'x-queue-type': config.queue_type };
  if (config.delivery_limit !== undefined) args['x-delivery-limit'] = config.delivery_limit;
  if (config.dead_letter_exchange !== undefined) args['x-dead-letter-exchange'] = config.dead_letter_exchange;
  return args;
}

/** Declares the queue and its bindings (and the exchanges given a type). */
async function declare(channel: Channel, config: RabbitmqSourceConfig): Promise<void> {
  await channel.assertQueue(config.queue, { durable: true, arguments: queueArguments(config) });
  for (const b of config.bindings) {
    if (b.exchange_type !== undefined)
      await channel.assertExchange(b.exchange, b.exchange_type, { durable: true });
    await channel.bindQueue(config.queue, b.exchange, b.routing_key);
  }
}

async function open(config: RabbitmqSourceConfig, ctx: SourceContext): Promise<SourceReader[]> {
  const reader = new RabbitmqReader(
    {
      partition: config.queue,
      queue: config.queue,
      payload: { format: config.format, maxDepth: config.max_depth, invalidUtf8: config.invalid_utf8 },
      metadata: config.metadata,
      prefetch: config.prefetch,
      ...(config.queue_type === 'stream' ? { stream: { start: config.offset } } : {}),
      connect: () => connect(config, { code: 'SOURCE_UNAVAILABLE', step: ctx.id }),
      ...(config.declare ? { declare: (channel: Channel) => declare(channel, config) } : {}),
    },
    ctx,
    ctx.restored[config.queue],
  );
  await reader.start();
  return [reader];
}

/** The `rabbitmq` source spec. */
export const rabbitmqSource = defineSource({
  type: 'rabbitmq',
  summary:
    'Consumes a RabbitMQ queue, acknowledging messages after the checkpoint, or reads a stream from a checkpointed offset.',
  // The queue decides what the broker delivers; the URL may change (new credentials, another
  // address of the same broker).
  identity: ['queue'],
  delivery: 'at-least-once',
  description: [
    'Consumes `queue` with manual acknowledgements and a prefetch of `prefetch` (`basic.qos`).',
    'With `declare` the source declares the queue (durable; `classic`, `quorum` or `stream`) and',
    'its `bindings` when it opens; otherwise the queue must exist.',
    '',
    'Delivery: at-least-once. A message is acknowledged only once the checkpoint covering its',
    'record is durable; after a crash the broker returns every unacknowledged message to the queue',
    'and delivers it again with `redelivered` set. Those the restored checkpoint already covers are',
    'acknowledged and skipped, so records read after the last checkpoint are read again but none',
    'before it. The broker delivers at most `prefetch` unacknowledged messages: when half of them',
    'have been read the source asks for an early checkpoint, and meanwhile the broker holds the',
    'rest back (backpressure). Several sources or workers on one queue share its messages; a',
    'message returned by one may be read again by another.',
    '',
    'Poison messages. A body that does not decode goes to the dead-letter output with the reason,',
    'its exchange and routing key, and its message is acknowledged with the checkpoint like the',
    'others (the dead-letter output has it, with more to say than a broker dead-letter queue). A',
    'message that makes the pipeline crash comes back on every restart; a `quorum` queue with',
    '`delivery_limit` stops that: after that many returns the broker dead-letters it to',
    '`dead_letter_exchange` (or drops it).',
    '',
    'Streams (`queue_type: stream`): the source reads from `offset` and keeps the offset of the',
    'last message read in the checkpoint; a restart resumes just after it. Each message is',
    'acknowledged as it is read (a stream keeps its messages; the acknowledgement only renews the',
    'prefetch credit).',
    '',
    'With `metadata` each record gets `_rabbitmq: { exchange, routing_key, redelivered, headers,',
    'message_id, timestamp }`. The batch times are the times messages were read; set the',
    'pipeline’s `event_time` to take the time from a field. When the connection drops the source',
    'reconnects with capped exponential backoff (0.5 s to 30 s, with jitter); the delivery tags of',
    'the old channel are void, so its unacknowledged messages come again from the broker: those',
    'read already are not read again.',
  ].join('\n'),
  example: [
    'type: rabbitmq',
    'url: amqp://127.0.0.1:5672',
    'queue: orders-to-sluice',
    'declare: true',
    'queue_type: quorum',
    'delivery_limit: 5',
    'dead_letter_exchange: orders-dlx',
    "bindings: [{ exchange: orders, routing_key: 'order.#', exchange_type: topic }]",
    'prefetch: 500',
  ].join('\n'),
  config: rabbitmqSourceConfig,
  create(config) {
    // Checked here, so that a bad duration fails before anything connects.
    parseDuration(config.connect_timeout, 'connect_timeout');
    return {
      open(ctx: SourceContext): Promise<SourceReader[]> {
        return open(config, ctx);
      },
    };
  },
});
