import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Row } from '../record.ts';
import { generate } from './build.ts';
import { checkExpression } from './check.ts';
import { compileExpression, compilePredicate, parseExpression } from './index.ts';

const canary = globalThis as { __sluicePwned?: boolean };

const PAYLOADS = [
  '"); globalThis.__sluicePwned = true; ("',
  "'); globalThis.__sluicePwned = true; ('",
  '`); globalThis.__sluicePwned = true; (`',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the payload is a template placeholder on purpose
  '${globalThis.__sluicePwned = true}',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the payload is a template placeholder on purpose
  '`${globalThis.__sluicePwned = true}`',
  '\\"); globalThis.__sluicePwned = true; //',
  '\u2028globalThis.__sluicePwned = true\u2029',
  '*/ globalThis.__sluicePwned = true /*',
  '"]; globalThis.__sluicePwned = true; r["',
  '\\',
];

/** SQL text for a string literal and for a quoted name holding `value`. */
function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

function sqlName(value: string): string {
  return `"${value.replaceAll('"', '""')}"`;
}

/** The generated source with its string literals removed: what is left is code. */
function codeOutsideStrings(text: string): string {
  const source = generate(checkExpression(parseExpression(text)), 'value', true).source;
  return source.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""');
}

describe('injection', () => {
  beforeEach(() => {
    canary.__sluicePwned = false;
  });
  afterEach(() => {
    assert.equal(canary.__sluicePwned, false, 'generated code ran text from the expression');
    delete canary.__sluicePwned;
  });

  for (const payload of PAYLOADS) {
    it(`keeps ${JSON.stringify(payload)} as plain data`, () => {
      const literal = sqlString(payload);
      assert.equal(compileExpression(literal).evaluate({}), payload);
      assert.equal(compileExpression(`${literal} || x`).evaluate({ x: '!' }), `${payload}!`);
      assert.equal(compileExpression(`x || ${literal}`).evaluate({ x: '' }), payload);
      assert.equal(compileExpression(`x = ${literal}`).evaluate({ x: payload }), true);
      assert.equal(
        compileExpression(`x IN (${literal}, 'a', 'b', 'c', 'd', 'e', 'f')`).evaluate({ x: payload }),
        true,
      );
      assert.equal(compileExpression(`upper(x) = upper(${literal})`).evaluate({ x: payload }), true);
      assert.equal(
        compilePredicate(`x LIKE ${literal} ESCAPE ''`)({ x: payload.replaceAll('_', 'x') }),
        true,
      );
      assert.equal(compileExpression(`replace(x, 'a', ${literal})`).evaluate({ x: 'a' }), payload);
      assert.equal(
        compileExpression(`CASE x WHEN ${literal} THEN ${literal} END`).evaluate({ x: payload }),
        payload,
      );

      const name = sqlName(payload);
      const record: Row = { [payload]: 7, nested: { [payload]: 8 }, map: { [payload]: 9 } };
      assert.equal(compileExpression(name).evaluate(record), 7);
      assert.equal(compileExpression(`nested.${name}`).evaluate(record), 8);
      assert.equal(compileExpression(`map[${literal}]`).evaluate(record), 9);
      assert.equal(compileExpression(`${name} IS NULL`).evaluate({}), true);
      assert.throws(() => compileExpression(`${name} + 1`).evaluate({}), {
        code: 'EXPR_MISSING_FIELD',
        message: new RegExp(`^field '${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}' is missing`),
      });
      assert.deepEqual(compileExpression(`${name} + 1`).fields, [payload]);

      for (const text of [
        literal,
        name,
        `nested.${name}`,
        `x LIKE ${literal} ESCAPE ''`,
        `regexp_like(x, ${sqlString(payload.replace(/[\\^$.*+?()[\]{}|]/g, '.'))})`,
      ]) {
        assert.doesNotMatch(codeOutsideStrings(text), /__sluicePwned|globalThis/, text);
      }
    });
  }

  it('treats a LIKE or regular expression pattern as a pattern, never as code', () => {
    const pattern = "'/.test(r); globalThis.__sluicePwned = true; /'";
    assert.equal(compileExpression(`x LIKE ${pattern}`).evaluate({ x: 'no' }), false);
    assert.equal(compileExpression(`regexp_like(x, ${pattern})`).evaluate({ x: 'no' }), false);
    const replacement = ['$`', '$', '{x}'].join('');
    assert.equal(
      compileExpression(`regexp_replace('a', 'a', ${sqlString(replacement)})`).evaluate({ x: 1 }),
      replacement,
    );
  });

  it('re-serializes numbers from their values', () => {
    assert.equal(compileExpression('1e2 + 0.5 + .25 + 5.').evaluate({}), 105.75);
    assert.doesNotMatch(codeOutsideStrings('x + 1e2'), /1e2/);
    assert.match(codeOutsideStrings('x + 1e2'), /\+ 100\b/);
  });

  it('cannot call anything but the built-in function table', () => {
    assert.throws(() => compileExpression('constructor(1)'), { code: 'EXPR_UNKNOWN_FUNCTION' });
    assert.throws(() => compileExpression('eval(1)'), { code: 'EXPR_UNKNOWN_FUNCTION' });
    assert.throws(() => compileExpression('__proto__(1)'), { code: 'EXPR_UNKNOWN_FUNCTION' });
    assert.throws(() => compileExpression('hasownproperty(1)'), { code: 'EXPR_UNKNOWN_FUNCTION' });
    assert.throws(() => parseExpression('process.exit(1)'), { code: 'EXPR_SYNTAX' });
    assert.throws(() => parseExpression('x; process.exit(1)'), { code: 'EXPR_SYNTAX' });
  });

  it('reads inherited names only as the record’s own fields', () => {
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
      assert.throws(
        () => compileExpression(`${sqlName(name)} + 1`).evaluate({}),
        { code: 'EXPR_MISSING_FIELD' },
        name,
      );
      assert.equal(compileExpression(`a.${sqlName(name)} IS NULL`).evaluate({ a: {} }), true, name);
      assert.equal(compileExpression(`a[${sqlString(name)}]`).evaluate({ a: {} }), null, name);
    }
  });
});
