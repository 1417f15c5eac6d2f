/**
 * The core's sink conformance suite run by the `bigquery` sink, in both modes, against the
 * stand-in BigQuery REST server (on loopback; it checks the official client's requests). The
 * server is started by this file, so nothing is skipped.
 */

import { after, before } from 'node:test';
import type { Row } from '@sluice/core';
import { sinkConformance } from '@sluice/core/testing';
import { bigquerySink } from './sink.ts';
import { BigQueryStandIn, DATASET, PROJECT, REPO_ROOT, TOKEN, uniqueName } from './test-support.ts';

const server = new BigQueryStandIn(TOKEN);
before(() => server.start());
after(() => server.stop());

/** The rows of a table, without the columns a test record does not have (left null). */
function rowsOf(table: string): Row[] {
  const stored = server.tables.get(`${PROJECT}.${DATASET}.${table}`)?.rows ?? [];
  return stored.map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== null)) as Row);
}

sinkConformance({
  spec: bigquerySink,
  label: 'bigquery (stand-in)',
  baseDir: REPO_ROOT,
  changelog: true,
  refused: {
    record: { id: 1000, name: 'refused', amount: 'not a number', tags: [] },
    reason: /Cannot convert value to float.*invalid/,
  },
  async target({ changelog }) {
    const table = uniqueName(changelog ? 'upserts' : 'appends');
    if (changelog)
      server.createTable(PROJECT, DATASET, table, [
        { name: 'id', type: 'INTEGER', mode: 'REQUIRED' },
        { name: 'value', type: 'STRING' },
      ]);
    else
      server.createTable(PROJECT, DATASET, table, [
        { name: 'id', type: 'INTEGER', mode: 'REQUIRED' },
        { name: 'name', type: 'STRING' },
        { name: 'amount', type: 'FLOAT' },
        { name: 'tags', type: 'STRING', mode: 'REPEATED' },
      ]);
    return {
      options: {
        project: PROJECT,
        dataset: DATASET,
        table,
        api_endpoint: server.endpoint,
        access_token: TOKEN,
        ...(changelog ? { mode: 'upsert', key: ['id'] } : {}),
      },
      read: async () => rowsOf(table),
    };
  },
  async secret() {
    const secret = `s3cret-token-${process.pid}`;
    return {
      options: {
        project: PROJECT,
        dataset: DATASET,
        table: 'anything',
        api_endpoint: server.endpoint,
        access_token: secret,
        retry: { max_attempts: 2, initial_backoff: '10ms' },
      },
      secret,
    };
  },
});
