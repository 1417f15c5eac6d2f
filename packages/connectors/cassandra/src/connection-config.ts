/**
 * The connection options every `cassandra` component shares.
 */

import { Type } from 'typebox';

export const connectionFields = {
  contact_points: Type.Array(Type.String({ minLength: 1 }), {
    minItems: 1,
    default: ['127.0.0.1:9042'],
    description:
      'Nodes the driver first connects to, `host` or `host:port` (port 9042 when absent); it finds the rest of the cluster from them.',
    examples: [['10.0.0.1:9042', '10.0.0.2:9042']],
  }),
  local_datacenter: Type.String({
    minLength: 1,
    default: 'datacenter1',
    description:
      'The data center whose nodes serve requests (the driver routes to them first). A single node started with the default snitch is in `datacenter1`.',
    examples: ['eu-west'],
  }),
  keyspace: Type.String({
    minLength: 1,
    description: 'The keyspace of the table.',
    examples: ['shop'],
  }),
  table: Type.String({
    minLength: 1,
    description: 'The table, which must exist: its primary key decides upserts, deletes and batching.',
    examples: ['user_history'],
  }),
  username: Type.Optional(
    Type.String({
      minLength: 1,
      description: 'User name for the server’s password authenticator. Absent: no authentication.',
      examples: ['sluice'],
    }),
  ),
  password: Type.Optional(
    Type.String({
      secret: true,
      description: 'Password of `username`. A secret: it never appears in logs or errors.',
      examples: ['change-me'],
    }),
  ),
  consistency: Type.Union(
    [
      Type.Literal('any'),
      Type.Literal('one'),
      Type.Literal('two'),
      Type.Literal('three'),
      Type.Literal('quorum'),
      Type.Literal('all'),
      Type.Literal('local_quorum'),
      Type.Literal('each_quorum'),
      Type.Literal('local_one'),
    ],
    {
      default: 'local_quorum',
      description: 'Consistency level of every request: how many replicas must answer.',
      examples: ['local_one'],
    },
  ),
  connect_timeout: Type.String({
    default: '10s',
    description: 'How long one connection attempt may take before it counts as failed.',
    examples: ['2s'],
  }),
  request_timeout: Type.String({
    default: '12s',
    description:
      'How long the driver waits for a node’s answer before it counts the request as failed (then retried as transient).',
    examples: ['5s'],
  }),
};
