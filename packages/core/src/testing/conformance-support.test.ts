import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DELETE, INSERT, UPDATE_AFTER, UPDATE_BEFORE } from '../record.ts';
import { foldChangelog, rowText } from './conformance-support.ts';

test('rowText names a row by value: field order, nested too, does not matter', () => {
  assert.equal(rowText({ b: 1, a: { d: 2, c: null } }), rowText({ a: { c: null, d: 2 }, b: 1 }));
  assert.equal(rowText({ a: [2, 1] }), '{"a":[2,1]}');
  assert.notEqual(rowText({ a: 1 }), rowText({ a: '1' }));
});

test('foldChangelog folds a retract stream into the multiset of rows it describes', () => {
  const table = foldChangelog([
    { record: { k: 1, n: 1 } },
    { record: { k: 2, n: 1 }, kind: INSERT },
    { record: { k: 2, n: 1 }, kind: INSERT },
    { record: { n: 1, k: 1 }, kind: UPDATE_BEFORE },
    { record: { k: 1, n: 2 }, kind: UPDATE_AFTER },
    { record: { k: 2, n: 1 }, kind: DELETE },
    { record: { k: 3, n: 1 }, kind: UPDATE_AFTER },
  ]);
  assert.deepEqual(table, ['{"k":1,"n":2}', '{"k":2,"n":1}', '{"k":3,"n":1}']);
});

test('foldChangelog refuses a retraction of a row the table does not hold', () => {
  assert.throws(
    () => foldChangelog([{ record: { k: 1 } }, { record: { k: 1, n: 0 }, kind: DELETE }]),
    /a delete of a row not in the table: \{"k":1,"n":0\}/,
  );
  assert.throws(() => foldChangelog([{ record: { k: 1 }, kind: UPDATE_BEFORE }]), /update-before/);
});
