/**
 * The core's sink conformance suite run by the `postgres` sink with both delivery guarantees,
 * and in the `redshift` dialect, against the real server: skipped with a reason when it is not reachable, a failure under
 * CI=true. `exactly_once` is skipped, saying why, on a server without prepared transactions.
 */

import { after } from 'node:test';
import type { Row } from '@sluice/core';
import { sinkConformance } from '@sluice/core/testing';
import { postgresSink } from './sink-spec.ts';
import { PG_URL, postgresMissing, preparedUnavailable, REPO_ROOT, TestSchema } from './test-support.ts';

const skip = (await postgresMissing()) ?? false;
/** The `host:port` of PG_URL. */
const PG_SERVER = new URL(PG_URL).host;
const schema = new TestSchema();
after(() => schema.drop());

const noPrepared = skip ? undefined : await preparedUnavailable();

const runs = [
  { delivery: 'at_least_once', dialect: 'postgresql' },
  { delivery: 'exactly_once', dialect: 'postgresql' },
  // Redshift's dialect (no COPY from the client, no ON CONFLICT) on the PostgreSQL server.
  { delivery: 'at_least_once', dialect: 'redshift' },
] as const;

for (const { delivery, dialect } of runs) {
  sinkConformance({
    spec: postgresSink,
    label: `postgres ${delivery}${dialect === 'redshift' ? ' redshift' : ''}`,
    skip: skip || (delivery === 'exactly_once' && noPrepared) || false,
    baseDir: REPO_ROOT,
    changelog: true,
    // `name` is NOT NULL: the server refuses the record, naming the column.
    refused: { record: { id: 1000, amount: 1 }, reason: /null value in column "name"/ },
    server: PG_SERVER,
    noOutage:
      delivery === 'exactly_once'
        ? 'exactly_once fails the job when the connection breaks with the checkpoint’s transaction open (its writes are gone on the server); the restart from the checkpoint writes them again (the kill -9 test covers that restart)'
        : undefined,
    plugin: '@sluice/postgres',
    async target({ changelog, address }) {
      // Through the suite's proxy when it asks: the same URL with its host and port.
      const url = address === undefined ? PG_URL : PG_URL.replace(PG_SERVER, address);
      const table = schema.table(changelog ? 'changes' : 'append');
      if (changelog) {
        // The sink creates this one: `create_table` with the declared columns and the key.
        const options = {
          url,
          table,
          mode: 'upsert',
          key: ['id'],
          create_table: true,
          columns: { id: 'integer', value: 'text' },
          delivery,
          dialect,
        };
        return { options, read: () => schema.query<Row>(`SELECT id, value FROM ${table} ORDER BY id`) };
      }
      // `seq` records the order of the writes; the sink leaves it to its default, as it writes only `columns`.
      await schema.query(
        `CREATE TABLE ${table} (seq bigserial PRIMARY KEY, id integer, name text NOT NULL, amount double precision, tags text[])`,
      );
      const options = {
        url,
        table,
        columns: { id: 'integer', name: 'text', amount: 'double precision', tags: 'text[]' },
        delivery,
        dialect,
      };
      return {
        options,
        read: () => schema.query<Row>(`SELECT id, name, amount, tags FROM ${table} ORDER BY seq`),
      };
    },
    async secret() {
      // The server uses trust authentication, so a wrong password passes: a database that does not exist fails at open.
      const secret = `wrong-${process.pid}-do-not-leak`;
      return {
        secret,
        options: {
          url: `postgres://sluice:${secret}@127.0.0.1:5432/sluice_no_such_database_${process.pid}`,
          table: 'anything',
          delivery,
          retry: { max_attempts: 1 },
        },
      };
    },
  });
}
