/**
 * The `mqtt` source's options.
 */

import { inputLimitFields } from '@sluice/core';
import { type Static, Type } from 'typebox';
import { connectionFields } from './connection-config.ts';

export const mqttSourceConfig = Type.Object(
  {
    ...connectionFields,
    topics: Type.Array(Type.String({ minLength: 1 }), {
      minItems: 1,
      description:
        'Topic filters to subscribe to, with MQTT wildcards (`+` one level, `#` the rest). A filter ' +
        '`$share/<group>/<filter>` is a shared subscription: the broker hands each message to one ' +
        'of the clients sharing it.',
      examples: [['sensors/+/temperature', 'alerts/#']],
    }),
    qos: Type.Enum([0, 1, 2], {
      default: 1,
      description:
        'Quality of service of the subscriptions. `1` and `2`: each message is acknowledged ' +
        '(PUBACK / PUBREC) only once the checkpoint covering it is durable, so a crash redelivers ' +
        'it (at-least-once). `0`: the broker never redelivers (at-most-once).',
      examples: [0],
    }),
    client_id: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 128,
        description:
          'MQTT client id. It names the persistent session in which the broker keeps the ' +
          'subscriptions and queues messages while Sluice is down, so it must stay the same across ' +
          'restarts and differ between workers. Absent: `sluice-<pipeline>-<source id>`.',
        examples: ['sluice-sensors-1'],
      }),
    ),
    session_expiry: Type.String({
      default: '1d',
      description:
        'How long the broker keeps the session (subscriptions and queued messages) after Sluice ' +
        'disconnects (MQTT 5 session expiry interval). Messages published while Sluice is down ' +
        'longer than this are lost. The broker may cap it (Mosquitto: `persistent_client_expiration`).',
      examples: ['7d'],
    }),
    receive_maximum: Type.Integer({
      minimum: 1,
      maximum: 65535,
      default: 1000,
      description:
        'QoS 1/2: the most messages the broker sends before Sluice acknowledges some (MQTT 5 ' +
        'receive maximum). Acknowledgements wait for a checkpoint, so when half of this window is ' +
        'read and unacknowledged the source asks for an early checkpoint; the broker holds the rest ' +
        'back meanwhile. Also the most messages the source buffers.',
      examples: [100],
    }),
    format: Type.Enum(['json', 'text', 'bytes'], {
      default: 'json',
      description:
        'How a message payload becomes a record: `json` — the payload is one JSON object, which is ' +
        'the record (any other payload is a dead letter with the reason); `text` — `{ value }` with ' +
        'the payload as UTF-8 text; `bytes` — `{ value }` with the payload in base64.',
      examples: ['text'],
    }),
    metadata: Type.Boolean({
      default: true,
      description:
        'Add the field `_mqtt` to each record: `{ topic, qos, retain, user_properties }` ' +
        '(`user_properties`: the MQTT 5 user properties by name, the last one winning when a name ' +
        'repeats; `{}` when there are none).',
      examples: [false],
    }),
    ...inputLimitFields,
  },
  { additionalProperties: false },
);

export type MqttSourceConfig = Static<typeof mqttSourceConfig>;
