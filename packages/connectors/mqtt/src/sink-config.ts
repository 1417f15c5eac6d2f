/**
 * The `mqtt` sink's options.
 */

import { retryConfig } from '@sluice/core';
import { type Static, Type } from 'typebox';
import { connectionFields } from './connection-config.ts';

export const mqttSinkConfig = Type.Object(
  {
    ...connectionFields,
    topic: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'Topic every record is published to (no wildcards). Give this or `topic_expression`.',
        examples: ['alerts/temperature'],
      }),
    ),
    topic_expression: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'SQL expression giving each record’s topic. A record for which it gives NULL, an empty ' +
          'text or a topic with `+` or `#` goes to the dead-letter output.',
        examples: ["'alerts/' || device"],
      }),
    ),
    qos: Type.Enum([0, 1, 2], {
      default: 1,
      description:
        'Quality of service of the publishes. `1` and `2`: a write resolves only once the broker ' +
        'acknowledged every message of the batch (PUBACK / PUBCOMP). `0`: once the messages are ' +
        'written to the connection; the broker acknowledges nothing.',
      examples: [0],
    }),
    retain: Type.Boolean({
      default: false,
      description:
        'Publish retained messages: the broker keeps the last message of each topic and hands it ' +
        'to every new subscriber.',
      examples: [true],
    }),
    client_id: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 128,
        description: 'MQTT client id. Absent: `sluice-<pipeline>-<sink id>`.',
        examples: ['sluice-alerts'],
      }),
    ),
    ack_timeout: Type.String({
      default: '30s',
      description:
        'How long a write waits for the broker’s acknowledgements (across reconnects) before the ' +
        'job fails and restarts from its last checkpoint.',
      examples: ['2m'],
    }),
    retry: retryConfig,
  },
  { additionalProperties: false },
);

export type MqttSinkConfig = Static<typeof mqttSinkConfig>;
