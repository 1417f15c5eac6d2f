/**
 * The connection options every `redis` component shares.
 */

import { Type } from 'typebox';

export const connectionFields = {
  url: Type.String({
    default: 'redis://127.0.0.1:6379',
    secret: true,
    description:
      'Server URL, `redis://[[user]:password@]host:port[/database]` (`rediss://` for TLS). A secret: it ' +
      'never appears in logs or errors.',
    examples: ['redis://:change-me@127.0.0.1:6379/0'],
  }),
  connect_timeout: Type.String({
    default: '10s',
    description: 'How long one connection attempt may take before it counts as failed.',
    examples: ['2s'],
  }),
};
