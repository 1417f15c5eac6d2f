/**
 * The `postgres` lookup against the real server: rows by single and composite keys, misses,
 * a key value its column cannot take, setup errors, and the URL kept out of errors.
 */

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { type Lookup, SluiceError, systemClock, validateConfig } from '@sluice/core';
import { type PostgresLookupConfig, postgresLookup } from './lookup.ts';
import { keptLines, PG_URL, postgresMissing, REPO_ROOT, TestSchema } from './test-support.ts';

const skip = (await postgresMissing()) ?? false;
const schema = new TestSchema();
const opened: Lookup[] = [];
after(async () => {
  for (const l of opened) await l.close?.();
  await schema.drop();
});

async function open(options: { [option: string]: unknown }, keyLength = 1): Promise<Lookup> {
  const cfg = validateConfig<PostgresLookupConfig>(postgresLookup.config, options);
  if (!cfg.ok) throw new Error(JSON.stringify(cfg.issues));
  const lookup = postgresLookup.create(cfg.value, { keyLength });
  opened.push(lookup);
  const { log } = keptLines();
  await lookup.open?.({
    id: 'enrich',
    clock: systemClock,
    baseDir: REPO_ROOT,
    log,
    signal: new AbortController().signal,
  });
  return lookup;
}

const signal = new AbortController().signal;

describe('postgres lookup', { skip }, () => {
  test('one query answers a batch of keys: rows, misses, keys as their column’s type', async () => {
    const table = schema.table('customers');
    await schema.query(
      `CREATE TABLE ${table} (id bigint PRIMARY KEY, name text, tier varchar(10), since timestamptz, big bigint)`,
    );
    await schema.query(
      `INSERT INTO ${table} VALUES (1, 'Ada', 'gold', '2026-01-01Z', 9007199254740993), (2, 'Bo', NULL, NULL, 5), (3, 'Cy', 'tin', NULL, NULL)`,
    );
    const lookup = await open({ url: PG_URL, table, key: ['id'], columns: ['name', 'tier', 'big'] });
    assert.deepEqual(await lookup.get([[2], [7], [1], ['3']], signal), [
      { name: 'Bo', tier: null, big: 5 },
      null,
      { name: 'Ada', tier: 'gold', big: 9007199254740993n },
      { name: 'Cy', tier: 'tin', big: null },
    ]);
    const all = await open({ url: PG_URL, table, key: ['id'] });
    assert.deepEqual(await all.get([[1]], signal), [
      { id: 1, name: 'Ada', tier: 'gold', since: new Date('2026-01-01T00:00:00Z'), big: 9007199254740993n },
    ]);
  });

  test('composite keys, and a key value its column cannot take fails that key alone', async () => {
    const table = schema.table('prices');
    await schema.query(
      `CREATE TABLE ${table} (region text, sku integer, price numeric, PRIMARY KEY (region, sku))`,
    );
    await schema.query(`INSERT INTO ${table} VALUES ('eu', 1, 9.5), ('us', 1, 10), ('eu', 2, 3)`);
    const lookup = await open({ url: PG_URL, table, key: ['region', 'sku'], columns: ['price'] }, 2);
    const answers = await lookup.get(
      [
        ['us', 1],
        ['eu', 'not a number'],
        ['eu', 2],
        ['ap', 1],
      ],
      signal,
    );
    assert.deepEqual(answers[0], { price: '10' });
    assert.ok(answers[1] instanceof SluiceError);
    assert.equal(answers[1].code, 'LOOKUP_FAILED');
    assert.match(answers[1].message, /invalid input syntax for type integer: "not a number"/);
    assert.deepEqual(answers.slice(2), [{ price: '3' }, null]);
  });

  test('setup errors fail the open, naming the option; the URL’s password is never shown', async () => {
    const table = schema.table('small');
    await schema.query(`CREATE TABLE ${table} (id integer)`);
    await assert.rejects(
      open({ url: PG_URL, table: `${schema.name}.nowhere`, key: ['id'] }),
      (err: SluiceError) => {
        assert.equal(err.path, 'table');
        return /does not exist/.test(err.message);
      },
    );
    await assert.rejects(open({ url: PG_URL, table, key: ['code'] }), /has no column code/);
    await assert.rejects(open({ url: PG_URL, table, key: ['id'] }, 2), /the step's key has 2 value/);
    const secret = `pw-${process.pid}-secret`;
    await assert.rejects(
      open({
        url: `postgres://x:${secret}@127.0.0.1:5432/sluice_no_such_db_${process.pid}`,
        table,
        key: ['id'],
      }),
      (err: SluiceError) => {
        assert.equal(err.code, 'LOOKUP_FAILED');
        for (const text of [err.message, err.stack ?? '', String(err.cause)])
          assert.ok(!text.includes(secret));
        return /does not exist/.test(err.message);
      },
    );
    const lookup = await open({
      url: `postgres://x:${secret}@127.0.0.1:1/test`,
      table,
      key: ['id'],
      connect_timeout: 2000,
    }).catch((err: unknown) => err);
    assert.ok(lookup instanceof SluiceError);
    assert.equal(lookup.code, 'LOOKUP_UNAVAILABLE', 'nothing listening is transient');
    assert.ok(!lookup.message.includes(secret));
  });
});
