/**
 * The result of a query as the shell keeps and draws it: changes folded into rows that keep
 * their places, frames cut to the terminal, the tableau form.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { frame, ResultTable, Tableau } from './result-view.ts';

test('an update takes the place of the row it replaces; a delete removes its row', () => {
  const t = new ResultTable(['k', 'n']);
  t.apply({ kind: 0, row: { k: 'a', n: 1 } });
  t.apply({ kind: 0, row: { k: 'b', n: 1 } });
  t.apply({ kind: 0, row: { k: 'c', n: 1 } });
  t.apply({ kind: 1, row: { k: 'b', n: 1 } });
  t.apply({ kind: 2, row: { k: 'b', n: 2 } });
  t.apply({ kind: 3, row: { k: 'a', n: 1 } });
  assert.deepEqual(t.rows, [
    { k: 'b', n: 2 },
    { k: 'c', n: 1 },
  ]);
  assert.equal(t.changeCount, 6);
  assert.equal(t.rowCount, 2);
});

test('an upsert (an UPDATE_AFTER without UPDATE_BEFORE) replaces the row of its key', () => {
  const t = new ResultTable(['k', 'n']);
  t.apply({ kind: 0, row: { k: 'a', n: 1 }, key: '"a"' });
  t.apply({ kind: 0, row: { k: 'b', n: 1 }, key: '"b"' });
  t.apply({ kind: 2, row: { k: 'a', n: 5 }, key: '"a"' });
  t.apply({ kind: 3, row: { k: 'b', n: 9 }, key: '"b"' });
  assert.deepEqual(t.rows, [{ k: 'a', n: 5 }]);
});

test('a frame fits the terminal: the first rows of a table, the last changes of a changelog, and the counts', () => {
  const t = new ResultTable(['k', 'n']);
  for (let i = 0; i < 10; i++) t.apply({ kind: 0, row: { k: `key-${i}`, n: i } });
  const size = { width: 80, height: 6 };
  const table = frame(t, 'table', size, { state: 'running', seconds: 1 });
  assert.equal(table.length, 6);
  assert.deepEqual(table.slice(0, 5), ['k     | n', '------+--', 'key-0 | 0', 'key-1 | 1', 'key-2 | 2']);
  assert.match(table[5], /^table mode: 10 rows \(showing the first 3\), 10 changes — running/);
  const changelog = frame(t, 'changelog', size, { state: 'completed', seconds: 1 });
  assert.deepEqual(changelog.slice(2, 5), ['+I | key-7 | 7', '+I | key-8 | 8', '+I | key-9 | 9']);
  assert.match(changelog[5], /^changelog mode: 10 changes \(showing the last 3\) — completed/);
  const narrow = frame(t, 'table', { width: 12, height: 6 }, { state: 'running', seconds: 1 });
  assert.ok(
    narrow.every((l) => l.length <= 11),
    narrow.join('\n'),
  );
});

test('the tableau form pads cells to their column and never cuts them', () => {
  const tableau = new Tableau(['name', 'n']);
  assert.equal(
    tableau.header(),
    '+----+--------------+--------------+\n| op |         name |            n |\n+----+--------------+--------------+\n',
  );
  assert.equal(
    tableau.row({ kind: 2, row: { name: 'a very long name indeed', n: null } }),
    '| +U | a very long name indeed |         NULL |\n',
  );
});

test('a large table folds to the same rows in the same places after its empty slots are compacted', () => {
  const t = new ResultTable(['k', 'n']);
  const want = new Map<string, number>();
  let seed = 3;
  for (let i = 0; i < 20_000; i++) {
    seed = (seed * 48_271) % 2_147_483_647;
    const k = `k${seed % 3000}`;
    const old = want.get(k);
    if (old === undefined) t.apply({ kind: 0, row: { k, n: 1 } });
    else if (seed % 7 === 0) {
      t.apply({ kind: 3, row: { k, n: old } });
      want.delete(k);
      continue;
    } else {
      t.apply({ kind: 1, row: { k, n: old } });
      t.apply({ kind: 2, row: { k, n: old + 1 } });
    }
    want.set(k, (old ?? 0) + 1);
  }
  // A Map keeps the order keys were first set in; an update keeps the row's place, as the table does.
  assert.deepEqual(
    t.rows,
    [...want].map(([k, n]) => ({ k, n })),
  );
  assert.equal(t.rowCount, want.size);
});
