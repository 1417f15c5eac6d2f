/**
 * The `cassandra` sink against the real node, beyond the conformance suite: a primary key of
 * partition and clustering columns, changelogs folded per key within a write, TTL, value
 * conversions, and results that do not depend on how the input was batched.
 */

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import {
  DELETE,
  INSERT,
  type Row,
  type RowKind,
  type SinkBatch,
  type SluiceError,
  silentLogger,
  systemClock,
  UPDATE_AFTER,
  UPDATE_BEFORE,
  validateConfig,
} from '@sluice/core';
import { foldChanges, seededRandom } from '@sluice/core/testing';
import type { CassandraSink } from './sink.ts';
import type { CassandraSinkConfig } from './sink-config.ts';
import { cassandraSink } from './sink-spec.ts';
import {
  CASSANDRA_HOST,
  cassandraAvailable,
  createTable,
  dropTable,
  KEYSPACE,
  REPO_ROOT,
  readRows,
  type TestClient,
  testClient,
  uniqueTable,
} from './test-support.ts';

const available = await cassandraAvailable();
const client: TestClient | undefined = available ? await testClient() : undefined;
const tables: string[] = [];
after(async () => {
  if (client === undefined) return;
  for (const t of tables) await dropTable(client, t);
  await client.shutdown();
});

async function table(prefix: string, definition: string): Promise<string> {
  if (client === undefined) throw new Error('unreachable');
  const name = uniqueTable(prefix);
  tables.push(name);
  await createTable(client, name, definition);
  return name;
}

async function opened(options: { [option: string]: unknown }): Promise<CassandraSink> {
  const cfg = validateConfig<CassandraSinkConfig>(cassandraSink.config, {
    contact_points: [CASSANDRA_HOST],
    keyspace: KEYSPACE,
    ...options,
  });
  if (!cfg.ok) throw new Error(JSON.stringify(cfg.issues));
  const sink = cassandraSink.create(cfg.value) as CassandraSink;
  await sink.open({
    id: 'out',
    restored: undefined,
    clock: systemClock,
    baseDir: REPO_ROOT,
    signal: new AbortController().signal,
    log: silentLogger,
  });
  return sink;
}

const batchOf = (records: Row[], kinds?: RowKind[]): SinkBatch => ({
  records,
  times: records.map(() => 0),
  ...(kinds ? { kinds } : {}),
});

const sortRows = (rows: Row[]) =>
  [...rows].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

describe('cassandra sink', { skip: client === undefined ? 'Cassandra is not reachable' : false }, () => {
  test('partition and clustering key: upserts, deletes and updates fold per row; batch sizes do not matter', async () => {
    // A random changelog over 6 users × 8 sessions, checked against folding it in memory, written
    // three times with different write sizes and batch limits.
    const random = seededRandom(12);
    const records: Row[] = [];
    const kinds: RowKind[] = [];
    const live = new Map<string, Row>();
    for (let i = 0; i < 400; i++) {
      const user = `u${Math.floor(random() * 6)}`;
      const session = Math.floor(random() * 8);
      const id = `${user}/${session}`;
      const old = live.get(id);
      const row = { user_id: user, session, id, clicks: i, pages: [`p${i % 5}`] };
      if (old === undefined) {
        records.push(row);
        kinds.push(INSERT);
        live.set(id, row);
      } else if (random() < 0.3) {
        records.push(old);
        kinds.push(DELETE);
        live.delete(id);
      } else if (random() < 0.5) {
        records.push(old, row);
        kinds.push(UPDATE_BEFORE, UPDATE_AFTER);
        live.set(id, row);
      } else {
        records.push(row);
        kinds.push(INSERT); // an upsert without its old row
        live.set(id, row);
      }
    }
    const expected = sortRows(
      foldChanges(records, kinds, 'id').map(({ user_id, session, clicks, pages }) => ({
        user_id,
        session,
        clicks,
        pages,
      })),
    );
    for (const [writeSize, maxBatch] of [
      [records.length, 50],
      [7, 3],
      [1, 1],
    ] as const) {
      const name = await table(
        'history',
        'user_id text, session int, clicks bigint, pages list<text>, PRIMARY KEY (user_id, session)',
      );
      const sink = await opened({ table: name, max_batch: maxBatch, key: ['user_id', 'session'] });
      for (let at = 0; at < records.length; ) {
        let end = Math.min(at + writeSize, records.length);
        // An UPDATE_BEFORE and its UPDATE_AFTER stay in one batch, as the runtime keeps them.
        if (kinds[end - 1] === UPDATE_BEFORE) end++;
        assert.equal(await sink.write(batchOf(records.slice(at, end), kinds.slice(at, end))), undefined);
        at = end;
      }
      await sink.close();
      const rows = sortRows((await readRows(client as TestClient, name)).map(({ id: _id, ...r }) => r));
      assert.deepEqual(rows, expected, `writes of ${writeSize}, batches of at most ${maxBatch}`);
    }
  });

  test('ttl: rows are written with it; values are converted where nothing is lost', async () => {
    const name = await table(
      'typed',
      'id bigint PRIMARY KEY, at timestamp, price decimal, n int, note text, big bigint',
    );
    const sink = await opened({ table: name, ttl: '1h' });
    const at = Date.UTC(2026, 11, 7, 12, 0, 0);
    const rejected = await sink.write(
      batchOf([
        { id: 1, at, price: 9.5, n: '42', note: { a: [1, 2] }, big: '9007199254740993', extra: 'ignored' },
        { id: 2, at: new Date(at).toISOString(), price: '0.25', n: 7, note: 'plain' },
        { id: 3, n: 'many' },
        { n: 1 },
      ]),
    );
    await sink.close();
    assert.deepEqual(
      rejected?.map((r) => r.index),
      [2, 3],
    );
    assert.match(rejected?.[1]?.message ?? '', /primary key column 'id' is missing/);
    const rows = (await readRows(client as TestClient, name)).sort((a, b) => Number(a.id) - Number(b.id));
    assert.deepEqual(rows, [
      { id: 1, at: new Date(at), price: '9.5', n: 42, note: '{"a":[1,2]}', big: 9007199254740993n },
      { id: 2, at: new Date(at), price: '0.25', n: 7, note: 'plain', big: null },
    ]);
    const ttl = await (client as TestClient).execute(
      `SELECT TTL(note) AS t FROM ${KEYSPACE}.${name} WHERE id = 1`,
    );
    const left = Number(ttl.first().get('t'));
    assert.ok(left > 3000 && left <= 3600, `TTL of the row is about an hour (${left}s)`);
  });

  test('setup errors: no table, a key that is not the primary key, a bad ttl', async () => {
    await assert.rejects(opened({ table: 'no_such_table' }), (err: SluiceError) => {
      assert.equal(err.code, 'CONFIG_INVALID');
      assert.equal(err.path, 'table');
      return /does not exist/.test(err.message);
    });
    await assert.rejects(opened({ keyspace: 'no_such_keyspace', table: 't' }), (err: SluiceError) => {
      assert.equal(err.path, 'keyspace');
      return true;
    });
    const name = await table('keyed', 'a text, b int, c text, PRIMARY KEY (a, b)');
    await assert.rejects(opened({ table: name, key: ['a'] }), /is not the primary key .* \(a, b\)/);
    assert.throws(
      () => cassandraSink.create({ ...validDefaults(name), ttl: '1500ms' }),
      (err: SluiceError) => err.path === 'ttl',
    );
  });
});

function validDefaults(name: string): CassandraSinkConfig {
  const cfg = validateConfig<CassandraSinkConfig>(cassandraSink.config, { keyspace: KEYSPACE, table: name });
  if (!cfg.ok) throw new Error(JSON.stringify(cfg.issues));
  return cfg.value;
}
