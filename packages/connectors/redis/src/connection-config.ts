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
  reply_timeout: Type.String({
    default: '30s',
    description:
      'How long the connection may wait for data from the server while it expects some before it ' +
      'counts as lost (and is opened again; the commands waiting fail as transient). The lookup and ' +
      "the source keep an idle connection alive with a PING every third of this (the sink's is " +
      'opened again when it next writes, if it was closed meanwhile). At least 1s.',
    examples: ['5s'],
  }),
};
