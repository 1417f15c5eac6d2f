/**
 * The `duckdb` sink beyond the conformance suite: DuckDB's own reasons for refused values, results
 * that do not depend on batch sizes, nothing visible before the checkpoint's commit, the table of
 * published checkpoints, and a changelog's deletes.
 */

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import {
  DELETE,
  INSERT,
  type Row,
  type SinkBatch,
  silentLogger,
  systemClock,
  UPDATE_AFTER,
  UPDATE_BEFORE,
} from '@sluice/core';
import { Value } from 'typebox/value';
import { DuckdbSink } from './sink.ts';
import { type DuckdbSinkConfig, duckdbSinkConfig } from './sink-config.ts';
import { queryFile, TestFolder } from './test-support.ts';

const folder = new TestFolder();
after(() => folder.dispose());

function sinkOf(options: Partial<DuckdbSinkConfig>): DuckdbSink {
  return new DuckdbSink(Value.Default(duckdbSinkConfig, structuredClone(options)) as DuckdbSinkConfig);
}

const context = (restored?: unknown) => ({
  id: 'out',
  pipeline: 'sink-test',
  restored,
  clock: systemClock,
  baseDir: folder.dir,
  signal: new AbortController().signal,
  log: silentLogger,
});

const batchOf = (records: Row[], kinds?: SinkBatch['kinds']): SinkBatch => ({
  records,
  times: records.map(() => 0),
  ...(kinds ? { kinds } : {}),
});

const typed = { id: 'INTEGER', name: 'VARCHAR NOT NULL', at: 'TIMESTAMP' };

test('a value DuckDB will not cast or a missing NOT NULL value is refused with the reason; the rest is written, however the input is split into writes', async () => {
  const input: Row[] = [
    { id: 1, name: 'a', at: '2026-01-01 10:00:00' },
    { id: 'two', name: 'b' },
    { id: 3, name: 'c' },
    { id: 4 },
    { id: 5, name: 'e', at: 'not a time' },
    { id: 6, name: 'f' },
  ];
  const tables: Row[][] = [];
  for (const size of [1, 2, input.length]) {
    const path = folder.file();
    const sink = sinkOf({ path, table: 't', create_table: true, columns: typed });
    await sink.open(context());
    const rejected = [];
    for (let from = 0; from < input.length; from += size)
      for (const r of (await sink.write(batchOf(input.slice(from, from + size)))) ?? [])
        rejected.push({ ...r, index: from + r.index });
    await sink.close();
    assert.deepEqual(
      rejected.map((r) => r.index),
      [1, 3, 4],
    );
    assert.match(rejected[0].message, /column "id": .*Could not convert string 'two' to INT32/);
    assert.match(rejected[1].message, /NOT NULL column "name" of "t" has no value/);
    assert.match(rejected[2].message, /column "at": .*not a time/);
    tables.push(await queryFile(path, 'SELECT id, name FROM t ORDER BY rowid'));
  }
  assert.deepEqual(tables[0], [
    { id: 1, name: 'a' },
    { id: 3, name: 'c' },
    { id: 6, name: 'f' },
  ]);
  assert.deepEqual(tables[1], tables[0]);
  assert.deepEqual(tables[2], tables[0]);
});

test('rows appear only when their checkpoint commits, with its id in _sluice_checkpoints', async () => {
  const path = folder.file();
  const sink = sinkOf({ path, table: 't', create_table: true, columns: typed });
  await sink.open(context());
  await sink.write(batchOf([{ id: 1, name: 'a' }]));
  const count = async () => Number((await queryFile(path, 'SELECT count(*) AS n FROM t'))[0].n);
  assert.equal(await count(), 0, 'nothing before the checkpoint');
  const state = await sink.prepareCommit(7);
  assert.deepEqual(state, { checkpoint: 7 });
  await sink.write(batchOf([{ id: 2, name: 'b' }]));
  assert.equal(await count(), 0, 'nothing before the checkpoint is durable');
  await sink.commit(7);
  assert.equal(await count(), 1, 'the checkpoint’s row, not the one written after it');
  assert.deepEqual(await queryFile(path, 'SELECT sink, checkpoint FROM _sluice_checkpoints'), [
    { sink: 'sink-test/out', checkpoint: 7n },
  ]);
  await sink.abort();
  // A restart from checkpoint 7 drops the row written after it: the job writes it again.
  const again = sinkOf({ path, table: 't', create_table: true, columns: typed });
  await again.open(context(state));
  await again.close();
  assert.deepEqual(await queryFile(path, 'SELECT id FROM t'), [{ id: 1 }]);
});

test('upsert: a delete and a lone UPDATE_BEFORE remove rows by key; an update pair replaces the row', async () => {
  const path = folder.file();
  const options = {
    path,
    table: 'u',
    mode: 'upsert' as const,
    key: ['k'],
    create_table: true,
    columns: { k: 'VARCHAR', v: 'INTEGER NOT NULL' },
  };
  const sink = sinkOf(options);
  await sink.open(context());
  await sink.write(
    batchOf([
      { k: 'a', v: 1 },
      { k: 'b', v: 2 },
      { k: 'c', v: 3 },
    ]),
  );
  await sink.prepareCommit(1);
  await sink.commit(1);
  await sink.write(
    batchOf(
      [{ k: 'a', v: 1 }, { k: 'a', v: 10 }, { k: 'b' }, { k: 'c', v: 3 }],
      [UPDATE_BEFORE, UPDATE_AFTER, DELETE, UPDATE_BEFORE],
    ),
  );
  await sink.write(batchOf([{ k: 'd', v: 4 }], [INSERT]));
  await sink.close();
  assert.deepEqual(await queryFile(path, 'SELECT k, v FROM u ORDER BY k'), [
    { k: 'a', v: 10 },
    { k: 'd', v: 4 },
  ]);
});

test('a restart after the table gained a column stages and writes the new column', async () => {
  const path = folder.file();
  const first = sinkOf({ path, table: 'g', create_table: true, columns: { id: 'INTEGER' } });
  await first.open(context());
  await first.write(batchOf([{ id: 1 }]));
  await first.close();
  await queryFile(path, 'ALTER TABLE g ADD COLUMN note VARCHAR');
  const second = sinkOf({ path, table: 'g' });
  await second.open(context());
  await second.write(batchOf([{ id: 2, note: 'new' }]));
  await second.close();
  assert.deepEqual(await queryFile(path, 'SELECT id, note FROM g ORDER BY id'), [
    { id: 1, note: null },
    { id: 2, note: 'new' },
  ]);
});
