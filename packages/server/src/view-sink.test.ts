/**
 * The `view` sink folds a changelog by its key: update pairs that keep the key are one change,
 * a pair that moves the row deletes the old key, deletes remove rows; offsets count changes, so
 * they do not depend on how the input was split into batches.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DELETE, INSERT, type RowKind, systemClock, UPDATE_AFTER, UPDATE_BEFORE } from '@sluice/core';
import { Value } from 'typebox/value';
import { viewSink } from './view-sink.ts';
import { viewTable } from './views.ts';

const rows: [RowKind, { k: string; v: number }][] = [
  [INSERT, { k: 'a', v: 1 }],
  [INSERT, { k: 'b', v: 1 }],
  [UPDATE_BEFORE, { k: 'a', v: 1 }],
  [UPDATE_AFTER, { k: 'a', v: 2 }],
  [UPDATE_BEFORE, { k: 'b', v: 1 }],
  [UPDATE_AFTER, { k: 'c', v: 1 }],
  [DELETE, { k: 'a', v: 2 }],
  [INSERT, { k: 'd', v: 4 }],
];

async function fold(pipeline: string, batchSize: number) {
  const config = Value.Default(viewSink.config, { name: 'v', key: ['k'] }) as never;
  const sink = viewSink.create(config);
  await sink.open({
    id: 'v',
    pipeline,
    restored: undefined,
    clock: systemClock,
    baseDir: '.',
    signal: new AbortController().signal,
    log: { debug() {}, info() {}, warn() {}, error() {} },
  });
  for (let i = 0; i < rows.length; i += batchSize) {
    // An update pair is never split across batches, as the runtime guarantees.
    let end = Math.min(rows.length, i + batchSize);
    if (rows[end - 1]?.[0] === UPDATE_BEFORE) end++;
    const part = rows.slice(i, end);
    i = end - batchSize;
    await sink.write({
      records: part.map((r) => r[1]),
      times: part.map(() => 0),
      kinds: part.map((r) => r[0]),
    });
  }
  const table = viewTable(pipeline, 'v')!;
  return { snapshot: table.snapshot(), changes: table.changesFrom(1) };
}

test('the view sink applies upserts, moves and deletes by key, with offsets independent of batch sizes', async () => {
  const whole = await fold('fold-1', rows.length);
  assert.deepEqual(
    [...whole.snapshot.rows].sort(),
    [
      ['c', '{"k":"c","v":1}', 5],
      ['d', '{"k":"d","v":4}', 7],
    ].sort(),
  );
  assert.deepEqual(
    whole.changes?.map((c) => [c.offset, c.op, c.key]),
    [
      [1, 'upsert', 'a'],
      [2, 'upsert', 'b'],
      [3, 'upsert', 'a'],
      [4, 'delete', 'b'],
      [5, 'upsert', 'c'],
      [6, 'delete', 'a'],
      [7, 'upsert', 'd'],
    ],
  );
  for (const size of [1, 2, 3]) {
    const split = await fold(`fold-${size + 1}`, size);
    assert.deepEqual(split, whole, `batches of ${size}`);
  }
});
