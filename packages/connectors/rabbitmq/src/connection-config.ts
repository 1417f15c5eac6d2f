/**
 * The options the `rabbitmq` source and sink share: where the broker is and how to log in.
 */

import { Type } from 'typebox';

/** Default broker: the machine's RabbitMQ on loopback (vhost `/`). */
export const DEFAULT_URL = 'amqp://127.0.0.1:5672';

/** Schema properties of the broker connection, shared by the source and the sink. */
export const connectionFields = {
  url: Type.String({
    default: DEFAULT_URL,
    description:
      'Broker URL: `amqp://host:port/vhost` (`amqps://` for TLS; the vhost `/` is written `%2f` or ' +
      'left out). Credentials written into it (`amqp://user:password@host`) are hidden in logs and ' +
      'errors; prefer `username` and `password`.',
    examples: ['amqps://rabbit.example.com:5671/orders'],
  }),
  username: Type.Optional(
    Type.String({
      description: 'User name to log in with. Absent: the URL’s, else `guest`.',
      examples: ['sluice'],
    }),
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
    description: 'How long to wait for the broker to accept a connection before the attempt fails.',
    examples: ['30s'],
  }),
};
