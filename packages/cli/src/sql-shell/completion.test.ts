/** What Tab offers: keywords, functions, and the session's tables, views and columns. */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { complete } from './completion.ts';
import { Session } from './session.ts';

function session(): Session {
  const s = new Session('/tmp');
  s.add({ kind: 'table', name: 'bids', text: '', columns: ['auction', 'price', 'bidder'] });
  s.add({ kind: 'view', name: 'big_bids', text: '', columns: ['auction', 'price'] });
  s.add({ kind: 'table', name: 'people', text: '', columns: ['id', 'name'] });
  return s;
}

test('a word completes to the names, functions and keywords it starts', () => {
  const s = session();
  assert.deepEqual(complete(s, 'SELECT * FROM bi'), [['bids', 'big_bids', 'bidder', 'bigint'], 'bi']);
  assert.deepEqual(complete(s, 'SELECT pri'), [['price', 'primary'], 'pri']);
  assert.deepEqual(complete(s, 'sel'), [['select'], 'sel']);
  assert.deepEqual(complete(s, 'SEL'), [['SELECT'], 'SEL']);
  assert.deepEqual(complete(s, 'SELECT uppe'), [['upper'], 'uppe']);
});

test('after a table, view or alias and a dot, only its columns', () => {
  const s = session();
  assert.deepEqual(complete(s, 'SELECT people.'), [['id', 'name'], '']);
  assert.deepEqual(complete(s, 'SELECT b.pr'), [['price'], 'pr']);
  assert.deepEqual(complete(s, 'SELECT p.n FROM bids AS b JOIN people p ON p.n'), [['name'], 'n']);
});

test("after SET ', the setting keys", () => {
  const [hits, word] = complete(session(), "SET 'sql-client.");
  assert.deepEqual([hits, word], [["sql-client.execution.result-mode'"], 'sql-client.']);
});
