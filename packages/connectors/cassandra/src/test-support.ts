/**
 * Helpers for the `cassandra` package's tests against the node `scripts/services.sh up` starts: a
 * reachability check that skips (or, under CI, fails), a keyspace for tests, unique table names,
 * and a client to prepare and read tables. Not a public API.
 */

import { fileURLToPath } from 'node:url';
import type { Row } from '@sluice/core';
import { serviceAvailable } from '@sluice/core/testing';
import cassandra from 'cassandra-driver';
import { fromCql } from './values.ts';

export const CASSANDRA_HOST = '127.0.0.1:9042';
export const KEYSPACE = 'sluice_test';
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/**
 * Whether the Cassandra node accepts connections. When it does not: prints "skipped: …" and
 * returns false, or under CI (`CI=true`) throws, so the test file fails instead of skipping.
 */
export function cassandraAvailable(): Promise<boolean> {
  return serviceAvailable(
    'cassandra',
    CASSANDRA_HOST,
    'start it with `bash scripts/services.sh up cassandra`',
  );
}

let counter = 0;

/** A table name no other test (of this or another process) uses. */
export function uniqueTable(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${counter++}`.toLowerCase();
}

export type TestClient = cassandra.Client;

/** A client on the test node, with the test keyspace created (replication factor 1). */
export async function testClient(): Promise<TestClient> {
  const client = new cassandra.Client({
    contactPoints: [CASSANDRA_HOST],
    localDataCenter: 'datacenter1',
    socketOptions: { readTimeout: 60_000 },
  });
  await client.connect();
  await client.execute(
    `CREATE KEYSPACE IF NOT EXISTS ${KEYSPACE} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
  );
  return client;
}

/** Creates `KEYSPACE.name` with the column definitions and primary key given in CQL. */
export async function createTable(client: TestClient, name: string, definition: string): Promise<void> {
  await client.execute(`CREATE TABLE ${KEYSPACE}.${name} (${definition})`);
}

/** Drops `KEYSPACE.name` if it exists. */
export async function dropTable(client: TestClient, name: string): Promise<void> {
  await client.execute(`DROP TABLE IF EXISTS ${KEYSPACE}.${name}`).catch(() => {});
}

/** Every row of `KEYSPACE.name`, as records. */
export async function readRows(client: TestClient, name: string): Promise<Row[]> {
  const result = await client.execute(`SELECT * FROM ${KEYSPACE}.${name}`, [], { fetchSize: 0 });
  const columns = result.columns.map((c) => c.name);
  return result.rows.map((row) => {
    const out: Row = {};
    for (const c of columns) out[c] = fromCql(row.get(c));
    return out;
  });
}
