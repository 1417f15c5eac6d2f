/**
 * The `pubsub` source's options.
 */

import { inputLimitFields } from '@sluice/core';
import { type Static, Type } from 'typebox';
import { connectionFields } from './connection-config.ts';

export const pubsubSourceConfig = Type.Object(
  {
    ...connectionFields,
    subscription: Type.String({
      minLength: 1,
      description:
        'Subscription to pull from: its id in `project`, or its full path ' +
        '(`projects/<project>/subscriptions/<id>`). Workers that share the work use the same one.',
      examples: ['orders-sluice'],
    }),
    topic: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'Topic to create the subscription on when it does not exist yet (the topic must exist). ' +
          'Absent: the subscription must exist, and the source fails at start when it does not.',
        examples: ['orders'],
      }),
    ),
    ordering: Type.Boolean({
      default: false,
      description:
        'With `topic`: create the subscription with message ordering, so messages of one ordering ' +
        'key are delivered in the order they were published.',
      examples: [true],
    }),
    ack_deadline: Type.String({
      default: '60s',
      description:
        'Lease the source keeps on each message it holds (10 s to 600 s): it sets it as each pulled ' +
        'message arrives and renews it every third of this time with `ModifyAckDeadline` until the ' +
        'checkpoint covering the message lets it acknowledge. After a crash the service delivers ' +
        'the message again once this much time has passed.',
      examples: ['2m'],
    }),
    max_outstanding: Type.Integer({
      minimum: 1,
      maximum: 100_000,
      default: 1000,
      description:
        'Most messages pulled and not acknowledged at once; the source pulls no more meanwhile ' +
        '(backpressure) and asks for an early checkpoint when half of it is read.',
      examples: [5000],
    }),
    pull_batch: Type.Integer({
      minimum: 1,
      maximum: 1000,
      default: 500,
      description: 'Most messages asked for in one `Pull` request (the service allows up to 1000).',
      examples: [100],
    }),
    format: Type.Enum(['json', 'text', 'bytes'], {
      default: 'json',
      description:
        'How a message’s data becomes a record: `json` — one JSON object, which is the record (any ' +
        'other data is a dead letter with the reason); `text` — `{ value }` with the data as UTF-8 ' +
        'text; `bytes` — `{ value }` with the data in base64.',
      examples: ['text'],
    }),
    metadata: Type.Boolean({
      default: true,
      description:
        'Add the field `_pubsub` to each record: `{ message_id, publish_time, ordering_key, ' +
        'attributes, delivery_attempt }` (`publish_time` in epoch ms; `ordering_key` null when the ' +
        'message has none; `delivery_attempt` as the service counts it, null unless the subscription ' +
        'has a dead-letter policy).',
      examples: [false],
    }),
    ...inputLimitFields,
  },
  { additionalProperties: false },
);

export type PubsubSourceConfig = Static<typeof pubsubSourceConfig>;
