/**
 * The `rabbitmq` sink's options.
 */

import { retryConfig } from '@sluice/core';
import { type Static, Type } from 'typebox';
import { connectionFields } from './connection-config.ts';

export const rabbitmqSinkConfig = Type.Object(
  {
    ...connectionFields,
    exchange: Type.String({
      default: '',
      description:
        'Exchange every record is published to. `""`: the default exchange, which routes a ' +
        'message to the queue its routing key names.',
      examples: ['orders'],
    }),
    exchange_type: Type.Optional(
      Type.Enum(['direct', 'topic', 'fanout', 'headers'], {
        description:
          'Declare `exchange` (durable) with this type when the sink opens. Absent: it must exist.',
        examples: ['topic'],
      }),
    ),
    routing_key: Type.Optional(
      Type.String({
        description: 'Routing key of every message. Give this or `routing_key_expression`.',
        examples: ['order.created'],
      }),
    ),
    routing_key_expression: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          "SQL expression giving each record’s routing key (a template: `'order.' || region`). A " +
          'record for which it fails, gives NULL, or gives a key longer than 255 bytes goes to the ' +
          'dead-letter output.',
        examples: ["'order.' || region || '.created'"],
      }),
    ),
    persistent: Type.Boolean({
      default: true,
      description:
        'Publish persistent messages (delivery mode 2): a durable queue keeps them across a broker restart.',
      examples: [false],
    }),
    mandatory: Type.Boolean({
      default: true,
      description:
        'Publish with the `mandatory` flag: a message no queue is bound to receive comes back ' +
        '(`basic.return`) and its record goes to the dead-letter output. Off: the broker drops it.',
      examples: [false],
    }),
    max_in_flight: Type.Integer({
      minimum: 1,
      maximum: 65535,
      default: 1000,
      description:
        'The most messages published and not yet confirmed by the broker (publisher confirms); ' +
        'a write waits for confirms before publishing more (backpressure).',
      examples: [100],
    }),
    confirm_timeout: Type.String({
      default: '30s',
      description:
        'How long a write waits for the broker’s confirms before the job fails and restarts from its last checkpoint.',
      examples: ['2m'],
    }),
    retry: retryConfig,
  },
  { additionalProperties: false },
);

export type RabbitmqSinkConfig = Static<typeof rabbitmqSinkConfig>;
