/**
 * The `pubsub` sink's options.
 */

import { retryConfig } from '@sluice/core';
import { type Static, Type } from 'typebox';
import { connectionFields } from './connection-config.ts';

export const pubsubSinkConfig = Type.Object(
  {
    ...connectionFields,
    topic: Type.String({
      minLength: 1,
      description:
        'Topic to publish to: its id in `project`, or its full path (`projects/<project>/topics/<id>`).',
      examples: ['orders-enriched'],
    }),
    ordering_key_expression: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'SQL expression giving each message’s ordering key: messages with the same key are ' +
          'published in order (a subscription with message ordering delivers them in that order). ' +
          'A record for which it gives NULL or fails goes to the dead-letter output; an empty text ' +
          'means no key. Absent: no ordering keys.',
        examples: ['customer_id'],
      }),
    ),
    attributes: Type.Optional(
      Type.Record(Type.String({ minLength: 1, maxLength: 256 }), Type.String({ minLength: 1 }), {
        description:
          'Message attributes: each name with the SQL expression giving its value (text; numbers ' +
          'and booleans are written as text). A record for which one fails or gives NULL goes to ' +
          'the dead-letter output.',
        examples: [{ region: 'region', source: "'sluice'" }],
      }),
    ),
    max_messages: Type.Integer({
      minimum: 1,
      maximum: 1000,
      default: 100,
      description: 'Most messages in one `Publish` request (the client’s batching; the service allows 1000).',
      examples: [500],
    }),
    max_bytes: Type.Integer({
      minimum: 1024,
      maximum: 9_000_000,
      default: 1_000_000,
      description: 'Most bytes of message data in one `Publish` request (the service allows 10 MB).',
      examples: [5_000_000],
    }),
    max_latency: Type.String({
      default: '10ms',
      description:
        'Longest time the client holds a message to fill a batch; a write also sends what it holds ' +
        'when its last message is handed over.',
      examples: ['50ms'],
    }),
    retry: retryConfig,
  },
  { additionalProperties: false },
);

export type PubsubSinkConfig = Static<typeof pubsubSinkConfig>;
