import assert from 'node:assert/strict';
import { test } from 'node:test';
import { arrayLiteral, columnText, copyField, quoteIdent, quoteTable } from './encode.ts';

test('columnText: the text PostgreSQL parses each kind of value from', () => {
  assert.equal(columnText(undefined, 'other'), null);
  assert.equal(columnText(null, 'array'), null);
  assert.equal(columnText('a\tb', 'other'), 'a\tb');
  assert.equal(columnText(1.5, 'other'), '1.5');
  assert.equal(columnText(Number.NEGATIVE_INFINITY, 'other'), '-Infinity');
  assert.equal(columnText(Number.NaN, 'other'), 'NaN');
  assert.equal(columnText(2n ** 70n, 'other'), '1180591620717411303424');
  assert.equal(columnText(false, 'other'), 'false');
  assert.equal(columnText(new Date(0), 'other'), '1970-01-01T00:00:00.000Z');
  assert.equal(columnText({ a: [1, 2n] }, 'other'), '{"a":[1,"2"]}');
  assert.equal(columnText(['x'], 'other'), '["x"]', 'an array into a non-array column is JSON');
  assert.equal(columnText(['x'], 'array'), '{"x"}');
});

test('arrayLiteral quotes every element and nests arrays', () => {
  assert.equal(arrayLiteral([]), '{}');
  assert.equal(arrayLiteral(['a"b', 'c\\d', null, 3]), '{"a\\"b","c\\\\d",NULL,"3"}');
  assert.equal(arrayLiteral([[1, 2], [3]]), '{{"1","2"},{"3"}}');
});

test('copyField escapes what COPY’s text format treats as special, and writes NULL as \\N', () => {
  assert.equal(copyField(null), '\\N');
  assert.equal(copyField('plain'), 'plain');
  assert.equal(copyField('a\\b\nc\rd\te'), 'a\\\\b\\nc\\rd\\te');
  assert.equal(copyField('\\N'), '\\\\N', 'the text \\N is not NULL');
});

test('identifiers are quoted as given', () => {
  assert.equal(quoteIdent('Order "x"'), '"Order ""x"""');
  assert.equal(quoteTable('public.Orders'), '"public"."Orders"');
  assert.equal(quoteTable('t'), '"t"');
});
