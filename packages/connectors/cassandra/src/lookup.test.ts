/**
 * The `cassandra` lookup against the real node: rows by partition key and by partition +
 * clustering key, misses, a key value its column cannot take, and setup errors.
 */

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { type Lookup, SluiceError, silentLogger, systemClock, validateConfig } from '@sluice/core';
import { type CassandraLookupConfig, cassandraLookup } from './lookup.ts';
import {
  CASSANDRA_HOST,
  cassandraAvailable,
  createTable,
  dropTable,
  KEYSPACE,
  REPO_ROOT,
  type TestClient,
  testClient,
  uniqueTable,
} from './test-support.ts';

const available = await cassandraAvailable();
const client: TestClient | undefined = available ? await testClient() : undefined;
const tables: string[] = [];
const opened: Lookup[] = [];
after(async () => {
  for (const l of opened) await l.close?.();
  if (client === undefined) return;
  for (const t of tables) await dropTable(client, t);
  await client.shutdown();
});

async function table(prefix: string, definition: string, rows: string[]): Promise<string> {
  if (client === undefined) throw new Error('unreachable');
  const name = uniqueTable(prefix);
  tables.push(name);
  await createTable(client, name, definition);
  for (const values of rows) await client.execute(`INSERT INTO ${KEYSPACE}.${name} ${values}`);
  return name;
}

async function open(options: { [option: string]: unknown }, keyLength = 1): Promise<Lookup> {
  const cfg = validateConfig<CassandraLookupConfig>(cassandraLookup.config, {
    contact_points: [CASSANDRA_HOST],
    keyspace: KEYSPACE,
    ...options,
  });
  if (!cfg.ok) throw new Error(JSON.stringify(cfg.issues));
  const lookup = cassandraLookup.create(cfg.value, { keyLength });
  opened.push(lookup);
  await lookup.open?.({
    id: 'enrich',
    clock: systemClock,
    baseDir: REPO_ROOT,
    log: silentLogger,
    signal: new AbortController().signal,
  });
  return lookup;
}

const signal = new AbortController().signal;

describe('cassandra lookup', { skip: client === undefined ? 'Cassandra is not reachable' : false }, () => {
  test('one query answers a batch of keys: rows, misses, keys as their column’s type', async () => {
    const name = await table('customers', 'id bigint PRIMARY KEY, name text, tier text, big bigint', [
      "(id, name, tier, big) VALUES (1, 'Ada', 'gold', 9007199254740993)",
      "(id, name, big) VALUES (2, 'Bo', 5)",
      "(id, name, tier) VALUES (3, 'Cy', 'tin')",
    ]);
    const lookup = await open({ table: name, key: ['id'], columns: ['name', 'tier', 'big'] });
    assert.deepEqual(await lookup.get([[2], [7], [1], ['3']], signal), [
      { name: 'Bo', tier: null, big: 5 },
      null,
      { name: 'Ada', tier: 'gold', big: 9007199254740993n },
      { name: 'Cy', tier: 'tin', big: null },
    ]);
    const all = await open({ table: name, key: ['id'] });
    assert.deepEqual(await all.get([[3]], signal), [{ id: 3, name: 'Cy', tier: 'tin', big: null }]);
  });

  test('partition and clustering key; a key value its column cannot take fails that key alone', async () => {
    const name = await table('prices', 'region text, sku int, price double, PRIMARY KEY (region, sku)', [
      "(region, sku, price) VALUES ('eu', 1, 9.5)",
      "(region, sku, price) VALUES ('us', 1, 10)",
      "(region, sku, price) VALUES ('eu', 2, 3)",
    ]);
    const lookup = await open({ table: name, key: ['region', 'sku'], columns: ['price'] }, 2);
    const answers = await lookup.get(
      [
        ['us', 1],
        ['eu', 'not a number'],
        ['eu', 2],
        ['ap', 1],
        ['us', 2],
      ],
      signal,
    );
    assert.deepEqual(answers[0], { price: 10 });
    assert.ok(answers[1] instanceof SluiceError);
    assert.equal(answers[1].code, 'LOOKUP_FAILED');
    assert.deepEqual(answers.slice(2), [{ price: 3 }, null, null], 'only the requested keys answer');
    // The partition key alone: the first row in clustering order.
    const first = await open({ table: name, key: ['region'], columns: ['sku', 'price'] });
    assert.deepEqual(await first.get([['eu']], signal), [{ sku: 1, price: 9.5 }]);
  });

  test('setup errors fail the open, naming the option', async () => {
    const name = await table('small', 'a text, b int, c text, PRIMARY KEY ((a, b), c)', []);
    await assert.rejects(open({ table: 'nowhere', key: ['id'] }), (err: SluiceError) => {
      assert.equal(err.path, 'table');
      return /does not exist/.test(err.message);
    });
    await assert.rejects(open({ table: name, key: ['a'] }), /must be the partition key .* \(a, b\)/);
    await assert.rejects(open({ table: name, key: ['a', 'b'], columns: ['d'] }, 2), /has no column d/);
    assert.throws(
      () => cassandraLookup.create({ ...configOf(name), key: ['a'] }, { keyLength: 2 }),
      /the step's key has 2 value/,
    );
    const down = await open({
      contact_points: ['127.0.0.1:1'],
      table: name,
      key: ['a'],
      connect_timeout: '1s',
    }).catch((err: unknown) => err);
    assert.ok(down instanceof SluiceError);
    assert.equal(down.code, 'LOOKUP_UNAVAILABLE', 'nothing listening is transient');
  });
});

function configOf(name: string): CassandraLookupConfig {
  const cfg = validateConfig<CassandraLookupConfig>(cassandraLookup.config, {
    keyspace: KEYSPACE,
    table: name,
    key: ['a'],
  });
  if (!cfg.ok) throw new Error(JSON.stringify(cfg.issues));
  return cfg.value;
}
