/**
 * The `nats` sink's options.
 */

import { retryConfig } from '@sluice/core';
import { type Static, Type } from 'typebox';
import { connectionFields } from './connection-config.ts';

export const natsSinkConfig = Type.Object(
  {
    ...connectionFields,
    subject: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'Subject every record is published to (no wildcards); a stream must take it. Give this or ' +
          '`subject_expression`.',
        examples: ['orders.enriched'],
      }),
    ),
    subject_expression: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'SQL expression giving each record’s subject. A record for which it gives NULL, an empty ' +
          'text or a subject with a wildcard or an empty token goes to the dead-letter output.',
        examples: ["'orders.' || region"],
      }),
    ),
    msg_id_expression: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'SQL expression giving each message’s id (header `Nats-Msg-Id`): the stream stores one ' +
          'message per id within its duplicate window (2 minutes by default), so records written ' +
          'again after a restart are not stored twice. Build it from what identifies the record — ' +
          "its own key, or its source coordinates (`_nats.stream || ':' || _nats.sequence` after a " +
          '`nats` source). NULL or an empty text: the record goes to the dead-letter output. Absent: ' +
          'no id, and a replay stores the records again.',
        examples: ["_nats.stream || ':' || _nats.sequence", "'order-' || order_id"],
      }),
    ),
    max_in_flight: Type.Integer({
      minimum: 1,
      maximum: 100_000,
      default: 256,
      description:
        'Most publishes waiting for the stream’s acknowledgement at once; a write resolves only ' +
        'when every message of its batch is acknowledged, so this bounds what is in flight ' +
        '(backpressure).',
      examples: [1024],
    }),
    ack_timeout: Type.String({
      default: '5s',
      description:
        'How long one publish waits for the stream’s acknowledgement before it counts as failed ' +
        'and is retried (`retry`), with the same message id.',
      examples: ['30s'],
    }),
    retry: retryConfig,
  },
  { additionalProperties: false },
);

export type NatsSinkConfig = Static<typeof natsSinkConfig>;
