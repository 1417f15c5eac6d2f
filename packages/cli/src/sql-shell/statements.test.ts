/** Statements out of typed lines: `;` ends one only outside quotes and comments. */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { leadingWords, StatementBuffer } from './statements.ts';

test('a statement spans lines until its ;, and one line may end several', () => {
  const b = new StatementBuffer();
  assert.deepEqual(b.push('SELECT a,'), []);
  assert.equal(b.pending, true);
  assert.deepEqual(b.push('  b FROM t; SHOW TABLES ; SELECT'), ['SELECT a,\n  b FROM t', 'SHOW TABLES']);
  assert.equal(b.pending, true);
  assert.deepEqual(b.push('1;'), ['SELECT\n1']);
  assert.equal(b.pending, false);
});

test('a ; inside a string, a quoted name or a comment ends nothing', () => {
  const b = new StatementBuffer();
  assert.deepEqual(b.push("SELECT 'a;b', `x;y` -- not; here"), []);
  assert.deepEqual(b.push('/* nor; here */ FROM t;'), [
    "SELECT 'a;b', `x;y` -- not; here\n/* nor; here */ FROM t",
  ]);
  assert.deepEqual(b.push("SELECT 'it''s;"), []);
  assert.deepEqual(b.push("';"), ["SELECT 'it''s;\n'"]);
  assert.deepEqual(b.push('-- only a comment;'), []);
  assert.deepEqual(b.push(';;'), []);
  assert.equal(b.pending, false);
});

test('the leading words leave comments out', () => {
  assert.deepEqual(leadingWords('-- hi\n  /* x */ show  jobs'), ['SHOW', 'JOBS']);
  assert.deepEqual(leadingWords('SELECT(1)', 1), ['SELECT']);
});
