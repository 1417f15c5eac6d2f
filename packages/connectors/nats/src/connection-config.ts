/**
 * The options the `nats` source, sink and lookup share: where the servers are and how to log in.
 */

import { Type } from 'typebox';

/** Default server: the machine's NATS with JetStream on loopback. */
export const DEFAULT_SERVER = 'nats://127.0.0.1:4222';

/** Schema properties of the server connection, shared by the source, the sink and the lookup. */
export const connectionFields = {
  servers: Type.Array(Type.String({ minLength: 1 }), {
    minItems: 1,
    default: [DEFAULT_SERVER],
    description:
      'Server URLs (`nats://host:port`, `tls://` for TLS); the client connects to one and fails ' +
      'over to the others. Credentials written into a URL are hidden in logs and errors; prefer ' +
      '`username`/`password` or `token`.',
    examples: [['nats://nats-1.example.com:4222', 'nats://nats-2.example.com:4222']],
  }),
  username: Type.Optional(
    Type.String({ description: 'User name to log in with. Absent: no user.', examples: ['sluice'] }),
  ),
  password: Type.Optional(
    Type.String({
      secret: true,
      description: 'Password for `username` (a secret: redacted wherever the config is shown).',
      examples: ['change-me'],
    }),
  ),
  token: Type.Optional(
    Type.String({
      secret: true,
      description: 'Authentication token, instead of a user and password (a secret).',
      examples: ['s3cr3t-token'],
    }),
  ),
  connect_timeout: Type.String({
    default: '10s',
    description: 'How long to wait for a server to accept the connection before failing.',
    examples: ['30s'],
  }),
};
