/**
 * `ViewTable.scan`: key ranges, prefixes and pages, and a filter that looks at a bounded number
 * of rows per page without skipping any.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ViewTable } from './view-table.ts';

const table = () => {
  const t = new ViewTable('t', ['k'], 100);
  for (let i = 0; i < 30; i++) {
    const k = `k${String(i).padStart(2, '0')}`;
    t.upsert(k, JSON.stringify({ k, v: i }));
  }
  return t;
};
const keysOf = (rows: readonly { key: string }[]) => rows.map((r) => r.key);

test('a scan reads the range [start, end), within a prefix, in pages', () => {
  const t = table();
  assert.deepEqual(keysOf(t.scan({ start: 'k05', end: 'k09', limit: 100 }).rows), [
    'k05',
    'k06',
    'k07',
    'k08',
  ]);
  assert.deepEqual(keysOf(t.scan({ prefix: 'k1', start: 'k17', limit: 100 }).rows), ['k17', 'k18', 'k19']);
  assert.deepEqual(keysOf(t.scan({ prefix: 'k2', end: 'k22', limit: 100 }).rows), ['k20', 'k21']);
  assert.deepEqual(t.scan({ start: 'k09', end: 'k05', limit: 100 }).rows, []);

  const first = t.scan({ start: 'k05', end: 'k12', limit: 4 });
  assert.deepEqual(keysOf(first.rows), ['k05', 'k06', 'k07', 'k08']);
  assert.equal(first.next, 'k08');
  const second = t.scan({ start: 'k05', end: 'k12', after: first.next, limit: 4 });
  assert.deepEqual(keysOf(second.rows), ['k09', 'k10', 'k11']);
  assert.equal(second.next, undefined, 'the range is read to its end');
  // `after` before `start` does not widen the range.
  assert.deepEqual(keysOf(t.scan({ start: 'k28', after: 'k01', limit: 100 }).rows), ['k28', 'k29']);
});

test('a filtered scan looks at maxExamined rows per page at most, and its pages together miss nothing', () => {
  const t = table();
  const everySeventh = (json: string) => (JSON.parse(json) as { v: number }).v % 7 === 3;
  const want = ['k03', 'k10', 'k17', 'k24'];
  const seen: string[] = [];
  let after: string | undefined;
  let pages = 0;
  let examined = 0;
  const counting = (json: string) => {
    examined++;
    return everySeventh(json);
  };
  do {
    const before = examined;
    const page = t.scan({ limit: 2, match: counting, maxExamined: 5, ...(after ? { after } : {}) });
    assert.ok(examined - before <= 5, 'at most maxExamined rows looked at');
    seen.push(...keysOf(page.rows));
    after = page.next;
    pages++;
  } while (after !== undefined && pages < 100);
  assert.deepEqual(seen, want);
  assert.equal(examined, 30, 'each row looked at once over all pages');
  // Without a bound, one page fills up to its limit.
  assert.deepEqual(keysOf(t.scan({ limit: 3, match: everySeventh }).rows), want.slice(0, 3));
});

test('a snapshot keeps the newest changes, rows written once, and restores them to the same offsets', () => {
  const t = new ViewTable('v', ['k'], 100);
  t.upsert('a', '{"k":"a","v":1}');
  t.upsert('b', '{"k":"b","v":2}');
  t.upsert('a', '{"k":"a","v":3}');
  t.delete('b');
  t.upsert('c', '{"k":"c","v":5}');
  const snapshot = t.snapshot(4);
  // Change 3 wrote the row `a` still holds, 5 the row of `c`: their text is not repeated.
  assert.deepEqual(snapshot.changes, [['b', '{"k":"b","v":2}'], ['a', ''], ['b'], ['c', '']]);
  const restored = new ViewTable('v', ['k'], 100);
  restored.restore(snapshot);
  assert.equal(restored.offset, 5);
  assert.equal(restored.oldestKept, 2);
  assert.equal(restored.changesFrom(1), undefined);
  assert.deepEqual(restored.changesFrom(2), t.changesFrom(2));
  assert.deepEqual(restored.snapshot(4), snapshot);
  // A snapshot written before changes were kept (version 1) restores with an empty ring.
  const old = new ViewTable('v', ['k'], 100);
  old.restore({ version: 1, offset: 5, rows: snapshot.rows });
  assert.equal(old.oldestKept, 6);
  assert.deepEqual(old.changesFrom(6), []);
  assert.equal(old.changesFrom(5), undefined);
});
