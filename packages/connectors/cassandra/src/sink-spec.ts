/**
 * The `cassandra` sink's spec: its options, guarantee, changelog support and reference text.
 */

import { defineSink } from '@sluice/core';
import { CassandraSink } from './sink.ts';
import { cassandraSinkConfig } from './sink-config.ts';

/** The `cassandra` sink spec. */
export const cassandraSink = defineSink({
  type: 'cassandra',
  summary:
    'Writes records to a Cassandra table as upserts and deletes by primary key, in unlogged batches per partition.',
  description: [
    'Each record becomes a row of `table` (which must exist), each column taken from the record',
    'field of the same name; fields without a column are not written, and a column the record',
    'lacks is left as it is (sent as *unset*, so no tombstone is written). A field that is NULL',
    'clears its column. Values go through prepared statements, converted where nothing is lost:',
    'epoch milliseconds or ISO text into a `timestamp`, numeric text into a number column, a',
    'number into `bigint`/`decimal`, an object or array into a text column as JSON.',
    '',
    '- An insert or the new row of an update is an `INSERT` (in Cassandra an upsert), with',
    '  `USING TTL` when `ttl` is set.',
    '- A delete, or the old row of an update that no new row follows, is a `DELETE` of the row by',
    '  its primary key.',
    '- Within one write, the changes of one primary key fold to its last, so the table ends as',
    '  applying them in order would. The statements are then grouped by partition key into',
    '  unlogged batches of at most `max_batch`: each batch is applied by the replicas of one',
    '  partition, in one request; up to `concurrency` requests are in flight.',
    '',
    '- **Refused records** — a record without a value for every primary key column, or a value',
    '  the column cannot take (text in a `double`, a value the server refuses as invalid): the',
    '  batch is split until that record is alone, and it goes to the dead-letter output with the',
    '  reason (SINK_REJECTED); the rest are written. A record replaced by a later change of the same',
    '  key within a write is not written, so its value is not checked.',
    '- **Transient failures** — no node reachable, timeouts, an overloaded or bootstrapping node,',
    '  too few replicas: the batch is sent again (its statements are idempotent) with capped',
    '  exponential backoff and full jitter (`retry`); after `retry.max_attempts` the write fails',
    '  with SINK_UNAVAILABLE and the job restarts from its last checkpoint.',
    '- **Setup errors** — no such keyspace or table, a `key` that is not the table’s primary key,',
    '  wrong credentials, missing permissions: CONFIG_INVALID.',
    '',
    'Delivery is at-least-once: a write resolves once every statement is acknowledged at the',
    '`consistency` level, so a checkpoint never covers a row the cluster does not have; after a',
    'restart the records since the last checkpoint are written again. Upserts and deletes by',
    'primary key are idempotent, so the table converges to what one run would leave (effectively',
    'exactly-once for a reader that looks after the replay). Statement timestamps come from the',
    'driver (client-side, monotonic), so a later write of a row wins over an earlier one.',
    '',
    'The password is a secret: it never appears in logs or errors.',
  ].join('\n'),
  example: [
    'type: cassandra',
    'contact_points: [127.0.0.1:9042]',
    'keyspace: shop',
    'table: user_history',
    'ttl: 30d',
  ].join('\n'),
  delivery: 'at-least-once',
  changelog: {
    consumes: () => ['append', 'upsert', 'retract'],
    hint: 'every Cassandra write is an upsert by primary key',
    upsertKey: (config) => (config.key === undefined ? undefined : { path: 'key', fields: config.key }),
  },
  config: cassandraSinkConfig,
  create: (config, sink) => new CassandraSink(config, sink?.id),
});
