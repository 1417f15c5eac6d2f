/**
 * The `bigquery` sink against the stand-in BigQuery REST server: an upsert checkpoint finished by
 * the restart while staged rows after it are dropped, the requests the client sends, and
 * appends replayed after a restart carrying the insert ids they had.
 */

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  DELETE,
  INSERT,
  type Row,
  type RowKind,
  type Sink,
  SluiceError,
  silentLogger,
  systemClock,
  UPDATE_AFTER,
  UPDATE_BEFORE,
  validateConfig,
} from '@sluice/core';
import { foldChanges } from '@sluice/core/testing';
import { bigquerySink, mergeStatement } from './sink.ts';
import type { BigquerySinkConfig } from './sink-config.ts';
import { BigQueryStandIn, DATASET, PROJECT, REPO_ROOT, TOKEN, uniqueName } from './test-support.ts';

const server = new BigQueryStandIn(TOKEN);
before(() => server.start());
after(() => server.stop());

async function opened(options: { [k: string]: unknown }, restored?: unknown): Promise<Sink> {
  const result = validateConfig<BigquerySinkConfig>(bigquerySink.config, {
    project: PROJECT,
    dataset: DATASET,
    api_endpoint: server.endpoint,
    access_token: TOKEN,
    ...options,
  });
  assert.ok(result.ok);
  const sink = bigquerySink.create(result.value);
  await sink.open({
    id: 'out',
    restored,
    clock: systemClock,
    baseDir: REPO_ROOT,
    signal: new AbortController().signal,
    log: silentLogger,
  });
  return sink;
}

const rows = (table: string) => server.tables.get(`${PROJECT}.${DATASET}.${table}`)?.rows ?? [];
const staging = (table: string) => [...server.tables.keys()].filter((k) => k.includes(`${table}__sluice_`));

test('upsert: a checkpoint prepared before a crash is merged by the restart; staged rows after it are dropped', async () => {
  const table = uniqueName('upsert_restart');
  server.createTable(PROJECT, DATASET, table, [
    { name: 'id', type: 'INTEGER', mode: 'REQUIRED' },
    { name: 'region', type: 'STRING' },
    { name: 'total', type: 'FLOAT' },
  ]);
  const v = (id: number, region: string, total: number): Row => ({ id, region, total });
  const a: [Row[], RowKind[]] = [
    [v(1, 'EU', 1), v(2, 'US', 2), v(1, 'EU', 1), v(1, 'EU', 5)],
    [INSERT, INSERT, UPDATE_BEFORE, UPDATE_AFTER],
  ];
  const b: [Row[], RowKind[]] = [
    [v(2, 'US', 2), v(3, 'EU', 3)],
    [DELETE, INSERT],
  ];
  const first = await opened({ table, mode: 'upsert', key: ['id'] });
  await first.write({ records: a[0], kinds: a[1], times: a[0].map(() => 0) });
  const state = await first.prepareCommit?.(1);
  await first.write({ records: b[0], kinds: b[1], times: b[0].map(() => 0) });
  await first.abort?.();
  assert.deepEqual(rows(table), [], 'nothing is merged before the checkpoint commits');
  assert.equal(staging(table).length, 2, 'the checkpoint’s staging table and the one after it');

  const second = await opened({ table, mode: 'upsert', key: ['id'] }, state);
  assert.deepEqual(
    rows(table).sort((x, y) => Number(x.id) - Number(y.id)),
    foldChanges(a[0], a[1], 'id').sort((x, y) => Number(x.id) - Number(y.id)),
    'the restart merged the durable checkpoint',
  );
  assert.deepEqual(staging(table), [], 'the staging table after the checkpoint is dropped');
  await second.write({ records: b[0], kinds: b[1], times: b[0].map(() => 0) });
  await second.prepareCommit?.(2);
  await second.commit?.(2);
  await second.close();
  const expected = foldChanges([...a[0], ...b[0]], [...a[1], ...b[1]], 'id');
  assert.deepEqual(
    rows(table).sort((x, y) => Number(x.id) - Number(y.id)),
    expected.sort((x, y) => Number(x.id) - Number(y.id)),
  );
  const merges = server.requests.filter(
    (r) =>
      r.method === 'POST' &&
      r.path === `/bigquery/v2/projects/${PROJECT}/jobs` &&
      JSON.stringify(r.body).includes(table),
  );
  assert.equal(merges.length, 2, 'one MERGE per committed checkpoint');
  for (const m of merges) {
    const query = (m.body as { configuration: { query: { query: string; useLegacySql: boolean } } })
      .configuration.query;
    assert.equal(query.useLegacySql, false);
    assert.match(query.query, /^MERGE `sluice-test\.conformance\.upsert_restart_/);
  }
});

test('append: rows carry insert ids from the checkpointed sequence, so a replay after a restart is not stored twice', async () => {
  const table = uniqueName('append_replay');
  server.createTable(PROJECT, DATASET, table, [
    { name: 'id', type: 'INTEGER', mode: 'REQUIRED' },
    { name: 'at', type: 'TIMESTAMP' },
    { name: 'payload', type: 'JSON' },
  ]);
  const records = Array.from({ length: 10 }, (_, i) => ({ id: i, at: 1_700_000_000 + i, payload: { n: i } }));
  const first = await opened({ table });
  await first.write({ records: records.slice(0, 4), times: [0, 0, 0, 0] });
  const state = await first.prepareCommit?.(1);
  await first.write({ records: records.slice(4), times: records.slice(4).map(() => 0) });
  await first.abort?.();
  const second = await opened({ table }, state);
  await second.write({ records: records.slice(4), times: records.slice(4).map(() => 0) });
  await second.close();
  assert.deepEqual(
    rows(table).map((r) => r.id),
    records.map((r) => r.id),
  );
  const inserts = server.requests.filter((r) => r.path.endsWith(`/tables/${table}/insertAll`));
  for (const req of inserts) {
    const body = req.body as { rows: { insertId: string; json: Row }[] };
    for (const row of body.rows) assert.match(row.insertId, /^[0-9a-f]{16}-\d+$/);
  }
});

test('the MERGE statement names the key in its partition, join and insert', () => {
  const sql = mergeStatement('p.d.t', 'p.d.s', ['a', 'b'], ['a', 'b', 'c']);
  assert.match(sql, /PARTITION BY a, b ORDER BY _sluice_seq DESC/);
  assert.match(sql, /ON T\.a = S\.a AND T\.b = S\.b/);
  assert.match(sql, /UPDATE SET c = S\.c /);
  assert.match(sql, /INSERT \(a, b, c\) VALUES \(S\.a, S\.b, S\.c\)$/);
});

test('a table that does not exist fails at open with CONFIG_INVALID', async () => {
  await assert.rejects(
    opened({ table: uniqueName('missing') }),
    (err: unknown) =>
      err instanceof SluiceError && err.code === 'CONFIG_INVALID' && /Not found/.test(err.message),
  );
});

test('an outage of the service is retried: the rows arrive once it ends', async () => {
  const table = uniqueName('outage');
  server.createTable(PROJECT, DATASET, table, [{ name: 'id', type: 'INTEGER' }]);
  const sink = await opened({
    table,
    retry: { max_attempts: 30, initial_backoff: '20ms', max_backoff: '100ms' },
  });
  const records = [{ id: 1 }, { id: 2 }];
  server.unavailable = true;
  const written = sink.write({ records, times: [0, 0] });
  const start = server.requests.length;
  const deadline = Date.now() + 10_000;
  while (server.requests.length === start && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 20));
  server.unavailable = false;
  assert.equal(await written, undefined);
  await sink.close();
  assert.deepEqual(
    rows(table).map((r) => r.id),
    [1, 2],
    'each row once (the insert ids deduplicate a retried request)',
  );
});
