/**
 * The options the `mqtt` source and sink share: where the broker is and how to log in.
 */

import { Type } from 'typebox';

/** Default broker: the machine's Mosquitto on loopback. */
export const DEFAULT_URL = 'mqtt://127.0.0.1:1883';

/** Schema properties of the broker connection, shared by the source and the sink. */
export const connectionFields = {
  url: Type.String({
    default: DEFAULT_URL,
    description:
      'Broker URL: `mqtt://host:port`, `mqtts://` for TLS, `ws://`/`wss://` for MQTT over WebSocket. ' +
      'Credentials written into it (`mqtt://user:password@host`) are hidden in logs and errors; ' +
      'prefer `username` and `password`.',
    examples: ['mqtts://broker.example.com:8883'],
  }),
  username: Type.Optional(
    Type.String({ description: 'User name to log in with. Absent: anonymous.', examples: ['sluice'] }),
  ),
  password: Type.Optional(
    Type.String({
      secret: true,
      description: 'Password to log in with (a secret: redacted wherever the config is shown).',
      examples: ['change-me'],
    }),
  ),
  connect_timeout: Type.String({
    default: '10s',
    description: 'How long to wait for the broker to accept the connection before failing.',
    examples: ['30s'],
  }),
};
