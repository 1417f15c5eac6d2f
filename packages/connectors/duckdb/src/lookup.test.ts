/**
 * The `duckdb` lookup on a real database file: one query answers a batch of keys (rows, misses,
 * keys cast to their column's type), composite keys, a key value its column cannot take failing
 * that key alone, setup errors at open.
 */

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { type Lookup, SluiceError, silentLogger, systemClock, validateConfig } from '@sluice/core';
import { type DuckdbLookupConfig, duckdbLookup } from './lookup.ts';
import { queryFile, TestFolder } from './test-support.ts';

const folder = new TestFolder();
const opened: Lookup[] = [];
after(async () => {
  for (const l of opened) await l.close?.();
  folder.dispose();
});

async function open(options: { [option: string]: unknown }, keyLength = 1): Promise<Lookup> {
  const cfg = validateConfig<DuckdbLookupConfig>(duckdbLookup.config, options);
  if (!cfg.ok) throw new Error(JSON.stringify(cfg.issues));
  const lookup = duckdbLookup.create(cfg.value, { keyLength });
  opened.push(lookup);
  await lookup.open?.({
    id: 'enrich',
    clock: systemClock,
    baseDir: folder.dir,
    log: silentLogger,
    signal: new AbortController().signal,
  });
  return lookup;
}

const signal = new AbortController().signal;
const path = folder.file();
await queryFile(
  path,
  `CREATE TABLE customers (id BIGINT PRIMARY KEY, region VARCHAR, name VARCHAR, tier VARCHAR, big BIGINT);
   INSERT INTO customers VALUES (1, 'eu', 'Ada', 'gold', 9007199254740993), (2, 'us', 'Bo', NULL, 5), (3, 'eu', 'Cy', 'tin', NULL)`,
);

test('one query answers a batch of keys: rows, misses, keys as their column’s type', async () => {
  const lookup = await open({ path, table: 'customers', key: ['id'], columns: ['name', 'tier', 'big'] });
  assert.deepEqual(await lookup.get([[2], [7], [1], ['3']], signal), [
    { name: 'Bo', tier: null, big: 5 },
    null,
    { name: 'Ada', tier: 'gold', big: 9007199254740993n },
    { name: 'Cy', tier: 'tin', big: null },
  ]);
});

test('composite keys; a key value its column cannot take fails that key alone, with DuckDB’s reason', async () => {
  const lookup = await open({ path, table: 'customers', key: ['region', 'id'], columns: ['name'] }, 2);
  const answers = await lookup.get(
    [
      ['eu', 3],
      ['us', 'not a number'],
      ['us', 1],
      ['us', 2],
    ],
    signal,
  );
  assert.deepEqual(answers[0], { name: 'Cy' });
  assert.ok(answers[1] instanceof SluiceError);
  assert.equal(answers[1].code, 'LOOKUP_FAILED');
  assert.match(answers[1].message, /Could not convert string 'not a number'/);
  assert.equal(answers[2], null);
  assert.deepEqual(answers[3], { name: 'Bo' });
});

test('a missing file, table or column fails at open with CONFIG_INVALID naming the option', async () => {
  await assert.rejects(open({ path: 'no-such.duckdb', table: 'customers', key: ['id'] }), {
    code: 'CONFIG_INVALID',
    path: 'path',
  });
  await assert.rejects(open({ path, table: 'nothing', key: ['id'] }), {
    code: 'CONFIG_INVALID',
    path: 'table',
  });
  await assert.rejects(open({ path, table: 'customers', key: ['id'], columns: ['nope'] }), {
    code: 'CONFIG_INVALID',
    path: 'columns',
  });
});
