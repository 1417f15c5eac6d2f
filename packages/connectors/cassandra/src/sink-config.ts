/**
 * The `cassandra` sink's options, and the checks the schema cannot make.
 */

import { parseDuration, retryConfig, SluiceError } from '@sluice/core';
import { type Static, Type } from 'typebox';
import { checkConnection } from './connection.ts';
import { connectionFields } from './connection-config.ts';

export const cassandraSinkConfig = Type.Object(
  {
    ...connectionFields,
    key: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        minItems: 1,
        description:
          'The columns of the table’s primary key (partition and clustering columns), for the pipeline check that an updating stream is written under the key that identifies its rows. The sink checks it against the table when it opens. Absent: the table’s primary key, not checked before the job starts.',
        examples: [['user_id', 'session_start']],
      }),
    ),
    ttl: Type.Optional(
      Type.String({
        description:
          'How long each written row lives (`USING TTL`, whole seconds, at least 1s); a later write of the row starts it again. Absent: forever (or the table’s `default_time_to_live`).',
        examples: ['30d'],
      }),
    ),
    max_batch: Type.Integer({
      minimum: 1,
      maximum: 1000,
      default: 50,
      description:
        'Most statements in one unlogged batch. A batch holds the rows of one partition only, so the node that owns it applies them at once.',
    }),
    concurrency: Type.Integer({
      minimum: 1,
      maximum: 256,
      default: 16,
      description: 'Most batches (or single statements) in flight at once during a write.',
    }),
    retry: retryConfig,
  },
  { additionalProperties: false },
);

export type CassandraSinkConfig = Static<typeof cassandraSinkConfig>;

/** The TTL of `config` in whole seconds, or undefined; throws CONFIG_INVALID. */
export function ttlSeconds(config: CassandraSinkConfig, step?: string): number | undefined {
  checkConnection(config);
  if (config.ttl === undefined) return undefined;
  const ms = parseDuration(config.ttl, 'ttl');
  if (ms < 1000 || ms % 1000 !== 0 || ms / 1000 > 630_720_000)
    throw new SluiceError(
      'CONFIG_INVALID',
      `ttl ${config.ttl} is not a whole number of seconds between 1s and 20 years (Cassandra's limit)`,
      { step, path: 'ttl' },
    );
  return ms / 1000;
}
