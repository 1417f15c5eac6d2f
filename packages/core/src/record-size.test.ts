import assert from 'node:assert/strict';
import { test } from 'node:test';
import { batchBytes, recordBytes } from './record-size.ts';

test('a record with a text counts the text', () => {
  assert.equal(recordBytes({ a: 1 }, '{ "a": 1.0 }'), 12);
});

test('a record without a text counts its JSON size within a factor of two', () => {
  for (const record of [
    { id: 12345, region: 'eu-west', amount: 12.5, tags: ['a', 'b'], ok: true, note: null },
    { pad: 'x'.repeat(100_000) },
    { nested: { deeper: { list: [1, 2, 3, { k: 'v' }] } } },
  ]) {
    const json = JSON.stringify(record).length;
    const estimate = recordBytes(record);
    assert.ok(estimate >= json * 0.7 && estimate <= json * 2, `${estimate} for ${json} bytes of JSON`);
  }
});

test('a record nested deeper than the walk counts a flat rate below it', () => {
  let deep: { [k: string]: unknown } = {};
  const root = deep;
  for (let i = 0; i < 10_000; i++) {
    const next = {};
    deep.d = next;
    deep = next;
  }
  assert.ok(recordBytes(root) < 1000);
});

test('a batch counts the texts it has, and estimates a batch without texts from a sample', () => {
  const records = Array.from({ length: 1000 }, (_, i) => ({ i, name: `record-${i}` }));
  assert.equal(batchBytes(records.slice(0, 2), ['{"i":0}', undefined]), 7 + recordBytes(records[1]));
  let exact = 0;
  for (const r of records) exact += recordBytes(r);
  const sampled = batchBytes(records);
  assert.ok(Math.abs(sampled - exact) < exact * 0.05, `${sampled} for ${exact}`);
  assert.equal(
    batchBytes(records.slice(0, 10)),
    records.slice(0, 10).reduce((n, r) => n + recordBytes(r), 0),
  );
});
