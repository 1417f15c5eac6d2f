import assert from 'node:assert/strict';
import { test } from 'node:test';
import { concatPath, joinPath, parentPath, pointerToPath, splitPath } from './config-path.ts';

test('joinPath builds dotted paths with brackets for indexes and odd keys', () => {
  assert.equal(joinPath('', 'sources'), 'sources');
  assert.equal(joinPath('sources', 'orders'), 'sources.orders');
  assert.equal(joinPath('steps', 1), 'steps[1]');
  assert.equal(joinPath('steps[1].fields', 'amount_usd'), 'steps[1].fields.amount_usd');
  assert.equal(joinPath('h', 'x.y z'), 'h["x.y z"]');
  assert.equal(joinPath('', '0'), '["0"]');
});

test('concatPath joins a component path and a relative one', () => {
  assert.equal(concatPath('steps[1]', 'fields.region'), 'steps[1].fields.region');
  assert.equal(concatPath('steps[1]', '[2]'), 'steps[1][2]');
  assert.equal(concatPath('steps[1]', ''), 'steps[1]');
  assert.equal(concatPath('', 'name'), 'name');
});

test('parentPath walks up one segment at a time', () => {
  const seen: string[] = [];
  for (let p: string | undefined = 'steps[1].fields["a.b"].x'; p !== undefined; p = parentPath(p))
    seen.push(p);
  assert.deepEqual(seen, [
    'steps[1].fields["a.b"].x',
    'steps[1].fields["a.b"]',
    'steps[1].fields',
    'steps[1]',
    'steps',
    '',
  ]);
});

test('pointerToPath tells indexes from digit keys by the data', () => {
  const data = { list: [{ a: 1 }], map: { '0': { 'a/b': 1 } } };
  assert.equal(pointerToPath('/list/0/a', data), 'list[0].a');
  assert.equal(pointerToPath('/map/0/a~1b', data), 'map["0"]["a/b"]');
  assert.equal(pointerToPath('', data), '');
});

test('splitPath gives back the keys and indexes joinPath joined', () => {
  const keys: (string | number)[] = ['sinks', 'out', 'headers', 'x-api-key', 'list', 2, 'x.y "z"', '0'];
  let path = '';
  for (const key of keys) path = joinPath(path, key);
  assert.deepEqual(splitPath(path), keys);
  assert.deepEqual(splitPath(''), []);
  assert.equal(splitPath('.a'), undefined);
  assert.equal(splitPath('a..b'), undefined);
});
