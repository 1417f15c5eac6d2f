/** The lookup cache: time to live from the answer, misses with their own, LRU eviction. */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LookupCache } from './lookup-cache.ts';

test('a row lives for ttl and a miss for missTtl, counted from when it was set', () => {
  const cache = new LookupCache({ ttl: 100, missTtl: 10, maxEntries: 10 });
  cache.set('a', { v: 1 }, 1_000);
  cache.set('b', null, 1_000);
  assert.deepEqual(cache.get('a', 1_099), { v: 1 });
  assert.equal(cache.get('b', 1_009), null);
  assert.equal(cache.get('b', 1_010), undefined, 'the miss expired');
  assert.equal(cache.get('a', 1_100), undefined, 'the row expired');
  assert.equal(cache.size, 0, 'expired entries are dropped when read');
});

test('a read does not renew the time to live (expire after write)', () => {
  const cache = new LookupCache({ ttl: 100, missTtl: 100, maxEntries: 10 });
  cache.set('a', { v: 1 }, 0);
  for (let t = 10; t < 100; t += 10) assert.deepEqual(cache.get('a', t), { v: 1 });
  assert.equal(cache.get('a', 100), undefined);
});

test('beyond maxEntries the least recently used key goes', () => {
  const cache = new LookupCache({ ttl: 1_000, missTtl: 1_000, maxEntries: 3 });
  cache.set('a', { v: 'a' }, 0);
  cache.set('b', { v: 'b' }, 0);
  cache.set('c', null, 0);
  assert.deepEqual(cache.get('a', 1), { v: 'a' }, 'a is now the most recently used');
  cache.set('d', { v: 'd' }, 2);
  assert.equal(cache.size, 3);
  assert.equal(cache.get('b', 3), undefined, 'b was the least recently used');
  assert.deepEqual(cache.get('a', 3), { v: 'a' });
  assert.equal(cache.get('c', 3), null);
});

test('a ttl or maxEntries of 0 keeps nothing', () => {
  const noRows = new LookupCache({ ttl: 0, missTtl: 100, maxEntries: 10 });
  noRows.set('a', { v: 1 }, 0);
  noRows.set('b', null, 0);
  assert.equal(noRows.get('a', 0), undefined);
  assert.equal(noRows.get('b', 0), null);
  const none = new LookupCache({ ttl: 100, missTtl: 100, maxEntries: 0 });
  none.set('a', { v: 1 }, 0);
  assert.equal(none.size, 0);
});
