/**
 * The core's sink conformance suite run by the `cassandra` sink against the node the services
 * script starts: skipped with a reason when it is not reachable, a failure under CI=true.
 */

import { after } from 'node:test';
import type { Row } from '@sluice/core';
import { sinkConformance } from '@sluice/core/testing';
import { cassandraSink } from './sink-spec.ts';
import {
  CASSANDRA_HOST,
  cassandraAvailable,
  createTable,
  dropTable,
  KEYSPACE,
  REPO_ROOT,
  readRows,
  testClient,
  uniqueTable,
} from './test-support.ts';

const available = await cassandraAvailable();
const client = available ? await testClient() : undefined;
after(() => client?.shutdown());

/** A row as the suite wrote it: `tags` is NULL in Cassandra for an empty list. */
const asWritten = (row: Row): Row => (row.tags === null ? { ...row, tags: [] } : row);

sinkConformance({
  spec: cassandraSink,
  skip: client === undefined ? `Cassandra is not reachable at ${CASSANDRA_HOST}` : false,
  baseDir: REPO_ROOT,
  ordered: false,
  changelog: true,
  // The record's amount is text, the column a double: the driver cannot encode it.
  refused: { record: { id: 1000, name: 'x', amount: 'lots', tags: [] }, reason: /double|Number/i },
  async target({ changelog }) {
    if (client === undefined) throw new Error('unreachable');
    const table = uniqueTable(changelog ? 'conformance_changes' : 'conformance_append');
    await createTable(
      client,
      table,
      changelog
        ? 'id int PRIMARY KEY, value text'
        : 'id int PRIMARY KEY, name text, amount double, tags list<text>',
    );
    return {
      options: { keyspace: KEYSPACE, table, contact_points: [CASSANDRA_HOST] },
      read: async () => (await readRows(client, table)).map(asWritten),
      dispose: () => dropTable(client, table),
    };
  },
  async secret() {
    // Nothing listens on the port: the connection fails while the password is in the options.
    const secret = `wrong-${process.pid}-do-not-leak`;
    return {
      secret,
      options: {
        contact_points: ['127.0.0.1:1'],
        keyspace: KEYSPACE,
        table: 'none',
        username: 'sluice',
        password: secret,
        connect_timeout: '1s',
        retry: { max_attempts: 1 },
      },
    };
  },
});
