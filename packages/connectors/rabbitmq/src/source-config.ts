/**
 * The `rabbitmq` source's options.
 */

import { inputLimitFields } from '@sluice/core';
import { type Static, Type } from 'typebox';
import { connectionFields } from './connection-config.ts';

const binding = Type.Object(
  {
    exchange: Type.String({
      minLength: 1,
      description: 'Exchange to bind the queue to.',
      examples: ['orders'],
    }),
    routing_key: Type.String({
      default: '',
      description: 'Binding key (topic exchanges: `*` one word, `#` any number of words).',
      examples: ['order.*.created'],
    }),
    exchange_type: Type.Optional(
      Type.Enum(['direct', 'topic', 'fanout', 'headers'], {
        description: 'Declare the exchange (durable) with this type before binding. Absent: it must exist.',
        examples: ['topic'],
      }),
    ),
  },
  { additionalProperties: false },
);

export const rabbitmqSourceConfig = Type.Object(
  {
    ...connectionFields,
    queue: Type.String({
      minLength: 1,
      description: 'Queue to consume. Several sources (or workers) on one queue share its messages.',
      examples: ['orders-to-sluice'],
    }),
    declare: Type.Boolean({
      default: false,
      description:
        'Declare the queue (durable, of `queue_type`, with `queue_arguments`) and its `bindings` ' +
        'when the source opens. Declaring an existing queue with other settings fails ' +
        '(PRECONDITION_FAILED). Off: the queue must exist.',
      examples: [true],
    }),
    queue_type: Type.Enum(['classic', 'quorum', 'stream'], {
      default: 'classic',
      description:
        'With `declare`: the queue type (`x-queue-type`). `quorum`: replicated, with a delivery ' +
        'count (see `delivery_limit`). `stream`: an append-only log read from `offset`, the ' +
        'position kept in Sluice’s checkpoint. Without `declare` it still tells the source how to ' +
        'read: give `stream` for an existing stream.',
      examples: ['quorum'],
    }),
    delivery_limit: Type.Optional(
      Type.Integer({
        minimum: 0,
        description:
          'With `declare` and a `quorum` queue: `x-delivery-limit`, how many times the broker ' +
          'returns a message to the queue unacknowledged (the consumer crashed or disconnected) ' +
          'before it dead-letters it to `dead_letter_exchange` (or drops it): poison messages ' +
          'that crash the pipeline stop coming back.',
        examples: [5],
      }),
    ),
    dead_letter_exchange: Type.Optional(
      Type.String({
        description:
          'With `declare`: `x-dead-letter-exchange`, where the broker sends what it dead-letters ' +
          '(over `delivery_limit`, expired, rejected).',
        examples: ['orders-dlx'],
      }),
    ),
    queue_arguments: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()]), {
      default: {},
      description:
        'With `declare`: further `x-` arguments of the queue (`x-max-length`, `x-message-ttl`, …).',
      examples: [{ 'x-max-length': 100000 }],
    }),
    bindings: Type.Array(binding, {
      default: [],
      description: 'With `declare`: bindings of the queue to exchanges, made when the source opens.',
      examples: [[{ exchange: 'orders', routing_key: 'order.#', exchange_type: 'topic' }]],
    }),
    prefetch: Type.Integer({
      minimum: 1,
      maximum: 65535,
      default: 1000,
      description:
        'The most messages the broker delivers before some are acknowledged (`basic.qos`). ' +
        'Acknowledgements wait for the checkpoint covering the messages, so when half of this ' +
        'window is read and unacknowledged the source asks for an early checkpoint; the broker ' +
        'holds the rest back meanwhile (backpressure). Also the most messages the source buffers.',
      examples: [200],
    }),
    offset: Type.Union([Type.Enum(['first', 'last', 'next']), Type.Integer({ minimum: 0 })], {
      default: 'first',
      description:
        '`stream` queues only: where a source without a checkpoint starts (`x-stream-offset`): ' +
        '`first`, `last` (the last chunk), `next` (only new messages) or an offset number. ' +
        'With a checkpoint it resumes just after the last offset the checkpoint covers.',
      examples: ['next'],
    }),
    format: Type.Enum(['json', 'text', 'bytes'], {
      default: 'json',
      description:
        'How a message body becomes a record: `json` — the body is one JSON object, which is the ' +
        'record (any other body is a dead letter with the reason); `text` — `{ value }` with the ' +
        'body as UTF-8 text; `bytes` — `{ value }` with the body in base64.',
      examples: ['text'],
    }),
    metadata: Type.Boolean({
      default: true,
      description:
        'Add the field `_rabbitmq` to each record: `{ exchange, routing_key, redelivered, headers, ' +
        'message_id, timestamp }` (`headers`: `{}` when there are none; `message_id`, `timestamp` ' +
        '(epoch ms): null when the publisher set none).',
      examples: [false],
    }),
    ...inputLimitFields,
  },
  { additionalProperties: false },
);

export type RabbitmqSourceConfig = Static<typeof rabbitmqSourceConfig>;
