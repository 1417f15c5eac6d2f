import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SluiceError } from '../errors.ts';
import type { Row } from '../record.ts';
import { compileExpression, compilePredicate } from './index.ts';

type Case = readonly [text: string, record: Row, expected: unknown];
type ErrorCase = readonly [text: string, record: Row, code: string, message?: RegExp];

function evaluate(text: string, record: Row = {}): unknown {
  return compileExpression(text).evaluate(record);
}

function table(cases: readonly Case[]): void {
  for (const [text, record, expected] of cases) {
    it(`${text} on ${JSON.stringify(record)} → ${JSON.stringify(expected)}`, () => {
      assert.deepEqual(evaluate(text, record), expected);
    });
  }
}

function errorTable(cases: readonly ErrorCase[]): void {
  for (const [text, record, code, message] of cases) {
    it(`${text} on ${JSON.stringify(record)} fails with ${code}`, () => {
      const compiled = compileExpression(text);
      assert.throws(
        () => compiled.evaluate(record),
        (err: unknown) => {
          assert.ok(err instanceof SluiceError, `not a SluiceError: ${String(err)}`);
          assert.equal(err.code, code, err.message);
          if (message) assert.match(err.message, message);
          return true;
        },
      );
    });
  }
}

describe('arithmetic', () => {
  table([
    ['1 + 2 * 3', {}, 7],
    ['(1 + 2) * 3', {}, 9],
    ['10 - 4 - 3', {}, 3],
    ['2 * 3 % 4', {}, 2],
    ['7 / 2', {}, 3.5],
    ['-7 % 3', {}, -1],
    ['-x', { x: 4 }, -4],
    ['+x', { x: 4 }, 4],
    ['- -x', { x: 4 }, 4],
    ['1.5e3 + .5', {}, 1500.5],
    ['amount * 1.1', { amount: 100 }, 110.00000000000001],
    ['a + b', { a: 1, b: null }, null],
    ['a * NULL', { a: 1 }, null],
    ['-a', { a: null }, null],
    ["ts + INTERVAL '5' MINUTE", { ts: 1000 }, 301_000],
    ["INTERVAL '1 minute' + INTERVAL '90s' + INTERVAL '1h30m'", {}, 60_000 + 90_000 + 5_400_000],
    ["INTERVAL '2 hours 30 minutes'", {}, 9_000_000],
    ["INTERVAL '-1' DAY", {}, -86_400_000],
  ]);
  errorTable([
    ['a / b', { a: 1, b: 0 }, 'EXPR_DIVISION_BY_ZERO', /at column 5: division by zero/],
    ['a % 0', { a: 1 }, 'EXPR_DIVISION_BY_ZERO', /modulo by zero/],
    ['a * 2', { a: 'abc' }, 'EXPR_EVAL', /operator \* needs numbers, got string 'abc'/],
    ['a + 1', { a: '5' }, 'EXPR_EVAL', /use \|\| to concatenate/],
    ['a + b', { a: true, b: 1 }, 'EXPR_EVAL', /got boolean true/],
    ['-a', { a: 'x' }, 'EXPR_EVAL', /unary -/],
    ['a - 1', { a: [1] }, 'EXPR_EVAL', /got array \[1\]/],
  ]);
  it('does not fold a failing constant into a compile error', () => {
    const c = compileExpression('CASE WHEN x THEN 1 / 0 ELSE 2 END');
    assert.equal(c.evaluate({ x: false }), 2);
    assert.throws(() => c.evaluate({ x: true }), { code: 'EXPR_DIVISION_BY_ZERO' });
  });
});

describe('comparison and three-valued logic', () => {
  table([
    ['1 = 1', {}, true],
    ['1 <> 1', {}, false],
    ['1 != 2', {}, true],
    ["'a' < 'b'", {}, true],
    ['a <= 2', { a: 2 }, true],
    ['a > 2', { a: 2 }, false],
    ['a >= b', { a: 'x', b: 'x' }, true],
    ['a = b', { a: true, b: true }, true],
    ['a = NULL', { a: 1 }, null],
    ['a = b', { a: null, b: 1 }, null],
    ['NULL = NULL', {}, null],
    ['a AND b', { a: true, b: true }, true],
    ['a AND b', { a: true, b: null }, null],
    ['a AND b', { a: false, b: null }, false],
    ['a AND b', { a: null, b: false }, false],
    ['a AND b', { a: null, b: null }, null],
    ['a OR b', { a: false, b: false }, false],
    ['a OR b', { a: null, b: true }, true],
    ['a OR b', { a: false, b: null }, null],
    ['a OR b', { a: true, b: null }, true],
    ['NOT a', { a: true }, false],
    ['NOT a', { a: null }, null],
    ['NOT a = 1', { a: 1 }, false],
    ['a OR b AND c', { a: true, b: false, c: false }, true],
    ['(a OR b) AND c', { a: true, b: false, c: false }, false],
  ]);
  it('compares a timestamp field with ISO text when the field type is known', () => {
    const c = compileExpression("ts > '2024-01-01T00:00:00Z'", { fieldTypes: { ts: 'timestamp' } });
    assert.equal(c.evaluate({ ts: 1_704_067_200_001 }), true);
    assert.equal(c.evaluate({ ts: 1_704_067_200_000 }), false);
    const between = "ts BETWEEN '2024-01-01' AND '2024-01-02'";
    assert.equal(
      compileExpression(between, { fieldTypes: { ts: 'timestamp' } }).evaluate({ ts: 1_704_100_000_000 }),
      true,
    );
    assert.throws(() => compileExpression("ts > '2024-01-01'").evaluate({ ts: 1 }), { code: 'EXPR_EVAL' });
  });
  it('short-circuits AND and OR from the left', () => {
    assert.equal(evaluate('b <> 0 AND a / b > 1', { a: 1, b: 0 }), false);
    assert.equal(evaluate('x IS NULL OR x.y = 1', { x: null }), true);
    assert.equal(evaluate('FALSE AND missing_field = 1', {}), false);
  });
  errorTable([
    ['a = b', { a: 1, b: '1' }, 'EXPR_EVAL', /cannot compare number 1 with string '1' using =/],
    ['a < 5', { a: 'x' }, 'EXPR_EVAL', /cannot compare/],
    ['a = b', { a: [1], b: [1] }, 'EXPR_EVAL', /arrays and objects cannot be compared/],
    ['a AND TRUE', { a: 1 }, 'EXPR_EVAL', /AND needs a boolean, got number 1/],
    ['NOT a', { a: 'yes' }, 'EXPR_EVAL', /NOT needs a boolean/],
  ]);
});

describe('IS', () => {
  table([
    ['a IS NULL', { a: null }, true],
    ['a IS NULL', {}, true],
    ['a IS NOT NULL', {}, false],
    ['a IS NOT NULL', { a: 0 }, true],
    ['a.b IS NULL', {}, true],
    ['a.b IS NULL', { a: {} }, true],
    ['tags[3] IS NULL', { tags: [1] }, true],
    ['a IS TRUE', { a: null }, false],
    ['a IS NOT TRUE', { a: null }, true],
    ['a IS FALSE', { a: false }, true],
    ['a IS NOT FALSE', { a: true }, true],
    ['a = 1 IS NULL', { a: null }, true],
  ]);
  errorTable([
    ['(a + 1) IS NULL', {}, 'EXPR_MISSING_FIELD', /field 'a' is missing/],
    ['a IS TRUE', {}, 'EXPR_MISSING_FIELD'],
    ['a IS TRUE', { a: 1 }, 'EXPR_EVAL', /IS TRUE needs a boolean/],
  ]);
});

describe('BETWEEN', () => {
  table([
    ['a BETWEEN 1 AND 10', { a: 1 }, true],
    ['a BETWEEN 1 AND 10', { a: 10 }, true],
    ['a BETWEEN 1 AND 10', { a: 11 }, false],
    ['a NOT BETWEEN 1 AND 10', { a: 11 }, true],
    ['a BETWEEN 1 AND 10', { a: null }, null],
    ['a BETWEEN lo AND hi', { a: 5, lo: null, hi: 4 }, false],
    ['a BETWEEN lo AND hi', { a: 5, lo: null, hi: 6 }, null],
    ['a NOT BETWEEN lo AND hi', { a: 5, lo: null, hi: 6 }, null],
    ["s BETWEEN 'a' AND 'c'", { s: 'b' }, true],
    ['a BETWEEN 1 + 1 AND 3 AND TRUE', { a: 2 }, true],
  ]);
  errorTable([['a BETWEEN 1 AND 2', { a: 'x' }, 'EXPR_EVAL', /cannot compare/]]);
});

describe('IN', () => {
  const many = '(1, 2, 3, 4, 5, 6, 7, 8)';
  table([
    ['a IN (1, 2, 3)', { a: 2 }, true],
    ['a IN (1, 2, 3)', { a: 4 }, false],
    ['a NOT IN (1, 2, 3)', { a: 4 }, true],
    ['a IN (1, NULL)', { a: 1 }, true],
    ['a IN (1, NULL)', { a: 2 }, null],
    ['a NOT IN (1, NULL)', { a: 2 }, null],
    ['a IN (1, 2)', { a: null }, null],
    ['a IN (b, c)', { a: 3, b: null, c: 3 }, true],
    ['a IN (b, c)', { a: 3, b: null, c: 4 }, null],
    ["s IN ('x', 'y')", { s: 'y' }, true],
    [`a IN ${many}`, { a: 8 }, true],
    [`a IN ${many}`, { a: 9 }, false],
    [`a NOT IN ${many}`, { a: 9 }, true],
  ]);
  errorTable([
    ["a IN ('1', '2')", { a: 1 }, 'EXPR_EVAL', /cannot compare number 1 with string '1'/],
    [`a IN ${many}`, { a: '1' }, 'EXPR_EVAL', /cannot compare/],
  ]);
});

describe('LIKE and ILIKE', () => {
  table([
    ["s LIKE 'abc'", { s: 'abc' }, true],
    ["s LIKE 'ab'", { s: 'abc' }, false],
    ["s LIKE 'a%'", { s: 'abc' }, true],
    ["s LIKE '%c'", { s: 'abc' }, true],
    ["s LIKE '%b%'", { s: 'abc' }, true],
    ["s LIKE '%'", { s: '' }, true],
    ["s LIKE ''", { s: '' }, true],
    ["s LIKE 'a_c'", { s: 'abc' }, true],
    ["s LIKE 'a_c'", { s: 'ac' }, false],
    ["s LIKE '_'", { s: '😀' }, true],
    ["s LIKE 'a%%c'", { s: 'ac' }, true],
    ["s LIKE '%a%c%'", { s: 'xaybcz' }, true],
    ["s LIKE 'a.c'", { s: 'abc' }, false],
    ["s LIKE '(x)+[y]'", { s: '(x)+[y]' }, true],
    ["s LIKE '%'", { s: 'multi\nline' }, true],
    ["s LIKE 'ABC'", { s: 'abc' }, false],
    ["s ILIKE 'ABC'", { s: 'abc' }, true],
    ["s ILIKE 'a%'", { s: 'ABC' }, true],
    ["s NOT LIKE 'a%'", { s: 'abc' }, false],
    ["s NOT ILIKE 'x%'", { s: 'abc' }, true],
    ["s LIKE '100\\%'", { s: '100%' }, true],
    ["s LIKE '100\\%'", { s: '1000' }, false],
    ["s LIKE 'a\\_c'", { s: 'abc' }, false],
    ["s LIKE 'a!_c' ESCAPE '!'", { s: 'a_c' }, true],
    ["s LIKE 'a\\%' ESCAPE ''", { s: 'a\\xyz' }, true],
    ['s LIKE p', { s: 'abc', p: 'a%' }, true],
    ['s LIKE p', { s: 'abc', p: null }, null],
    ["s LIKE 'a%'", { s: null }, null],
    ['s ILIKE p', { s: 'ABC', p: '%b%' }, true],
  ]);
  errorTable([
    ["s LIKE 'a%'", { s: 5 }, 'EXPR_EVAL', /LIKE needs a string, got number 5/],
    ['s LIKE p', { s: 'a', p: 'a\\' }, 'EXPR_EVAL', /ends with the escape character/],
  ]);
});

describe('CASE', () => {
  table([
    ["CASE WHEN a > 10 THEN 'big' WHEN a > 5 THEN 'medium' ELSE 'small' END", { a: 7 }, 'medium'],
    ["CASE WHEN a > 10 THEN 'big' END", { a: 1 }, null],
    ["CASE WHEN a THEN 'yes' ELSE 'no' END", { a: null }, 'no'],
    ["CASE a WHEN 1 THEN 'one' WHEN 2 THEN 'two' ELSE 'many' END", { a: 2 }, 'two'],
    ["CASE a WHEN 1 THEN 'one' ELSE 'other' END", { a: null }, 'other'],
    ["CASE a WHEN NULL THEN 'null' ELSE 'other' END", { a: null }, 'other'],
    ["CASE a WHEN b THEN 'same' ELSE 'different' END", { a: 1, b: 1 }, 'same'],
    ['CASE WHEN TRUE THEN 1 ELSE 1 / 0 END', {}, 1],
    ['CASE WHEN a = 0 THEN 0 ELSE 10 / a END', { a: 0 }, 0],
  ]);
  errorTable([
    ['CASE WHEN a THEN 1 END', { a: 'x' }, 'EXPR_EVAL', /CASE WHEN needs a boolean/],
    ["CASE a WHEN 1 THEN 'one' END", { a: 'x' }, 'EXPR_EVAL', /cannot compare/],
  ]);
});

describe('CAST', () => {
  table([
    ["CAST('42' AS INT)", {}, 42],
    ["CAST(' 42 ' AS INTEGER)", {}, 42],
    ['CAST(2.5 AS BIGINT)', {}, 3],
    ['CAST(-2.5 AS BIGINT)', {}, -3],
    ["CAST('3.7' AS INT)", {}, 4],
    ["CAST('1e3' AS DOUBLE)", {}, 1000],
    ['CAST(TRUE AS INT)', {}, 1],
    ["'12.5'::DOUBLE * 2", {}, 25],
    ['CAST(a AS FLOAT)', { a: '0.5' }, 0.5],
    ['CAST(a AS REAL)', { a: 7 }, 7],
    ['CAST(a AS DECIMAL)', { a: '-1.25' }, -1.25],
    ['CAST(a AS NUMERIC)', { a: false }, 0],
    ['CAST(a AS DOUBLE PRECISION)', { a: '2' }, 2],
    ['CAST(42 AS VARCHAR)', {}, '42'],
    ['CAST(a AS TEXT)', { a: true }, 'true'],
    ['CAST(a AS STRING)', { a: [1, 'x'] }, '[1,"x"]'],
    ['a::text', { a: { k: 1 } }, '{"k":1}'],
    ["CAST('yes' AS BOOLEAN)", {}, true],
    ["CAST('F' AS BOOLEAN)", {}, false],
    ['CAST(0 AS BOOLEAN)', {}, false],
    ['CAST(a AS BOOL)', { a: 2 }, true],
    ["CAST('2024-05-01T12:00:00Z' AS TIMESTAMP)", {}, 1_714_564_800_000],
    ["CAST('2024-05-01' AS TIMESTAMP)", {}, 1_714_521_600_000],
    ["CAST('2024-05-01T14:00:00+02:00' AS TIMESTAMP)", {}, 1_714_564_800_000],
    ["CAST('2024-05-01 12:00:00' AS TIMESTAMP)", {}, 1_714_564_800_000],
    ['CAST(a AS TIMESTAMP)', { a: '1714564800000' }, 1_714_564_800_000],
    ['CAST(a AS TIMESTAMP)', { a: 5 }, 5],
    ['CAST(a AS INT)', { a: null }, null],
    ['a::int + 1', { a: '41' }, 42],
  ]);
  errorTable([
    [
      'CAST(a AS INT)',
      { a: 'abc' },
      'EXPR_EVAL',
      /cannot cast string 'abc' to BIGINT; the text is not a number/,
    ],
    ['CAST(a AS DOUBLE)', { a: '' }, 'EXPR_EVAL', /cannot cast/],
    ['CAST(a AS DOUBLE)', { a: [1] }, 'EXPR_EVAL', /cannot cast array/],
    ['CAST(a AS BOOLEAN)', { a: 'maybe' }, 'EXPR_EVAL', /use true or false/],
    ['CAST(a AS TIMESTAMP)', { a: 'yesterday' }, 'EXPR_EVAL', /ISO-8601/],
    ['CAST(a AS TIMESTAMP)', { a: '2024-02-30' }, 'EXPR_EVAL'],
    ['CAST(a AS TIMESTAMP)', { a: true }, 'EXPR_EVAL'],
  ]);
});

describe('concatenation', () => {
  table([
    ["'a' || 'b'", {}, 'ab'],
    ["'n=' || n", { n: 5 }, 'n=5'],
    ["a || '-' || b", { a: 'x', b: true }, 'x-true'],
    ["'a' || NULL", {}, null],
    ["a || 'b'", { a: null }, null],
    ['a || b', { a: 1, b: 2 }, '12'],
    ["'tags: ' || tags", { tags: ['a'] }, 'tags: ["a"]'],
  ]);
});

describe('field access', () => {
  table([
    ['amount', { amount: 3 }, 3],
    ['Amount', { Amount: 1, amount: 2 }, 1],
    ['a.b.c', { a: { b: { c: 'deep' } } }, 'deep'],
    ['a.b', { a: null }, null],
    ['a.b.c', { a: { b: null } }, null],
    ['"field name"', { 'field name': 1 }, 1],
    ['"end"', { end: 2 }, 2],
    ['"a""b"', { 'a"b': 3 }, 3],
    ['a."x.y"', { a: { 'x.y': 4 } }, 4],
    ['tags[0]', { tags: ['x', 'y'] }, 'x'],
    ['tags[1 + 0]', { tags: ['x', 'y'] }, 'y'],
    ['tags[5]', { tags: ['x'] }, null],
    ['tags[-1]', { tags: ['x'] }, null],
    ['tags[i]', { tags: ['x', 'y'], i: 1 }, 'y'],
    ['tags[NULL]', { tags: ['x'] }, null],
    ["attrs['k']", { attrs: { k: 'v' } }, 'v'],
    ["attrs['missing']", { attrs: {} }, null],
    ['attrs[0]', { attrs: { '0': 'zero' } }, 'zero'],
    ['items[0].price * 2', { items: [{ price: 5 }] }, 10],
    ["a.b['c'][1]", { a: { b: { c: [0, 7] } } }, 7],
    ['obj', { obj: { k: [1] } }, { k: [1] }],
    ['constructor', { constructor: 'own' }, 'own'],
    ['"__proto__"', JSON.parse('{"__proto__": 5}') as Row, 5],
    ['a.toString', { a: { toString: 'own' } }, 'own'],
    ["attrs['constructor']", { attrs: {} }, null],
    ['x', Object.assign(Object.create(null) as Row, { x: 1 }), 1],
  ]);
  errorTable([
    ['amount * 2', {}, 'EXPR_MISSING_FIELD', /^field 'amount' is missing from the record/],
    ['amount', { amount: undefined }, 'EXPR_MISSING_FIELD'],
    ['a.b.c', {}, 'EXPR_MISSING_FIELD', /field 'a' is missing/],
    ['a.b.c', { a: {} }, 'EXPR_MISSING_FIELD', /field 'a\.b' is missing/],
    ['"my field"', {}, 'EXPR_MISSING_FIELD', /field '"my field"' is missing/],
    ['constructor', {}, 'EXPR_MISSING_FIELD'],
    ['toString', {}, 'EXPR_MISSING_FIELD'],
    ['a.b', { a: 5 }, 'EXPR_EVAL', /cannot read 'b' of a: it is number 5, not an object/],
    ['a.b', { a: [1] }, 'EXPR_EVAL', /not an object/],
    ['tags[0]', { tags: 'abc' }, 'EXPR_EVAL', /only arrays and objects/],
    ["tags['x']", { tags: [1] }, 'EXPR_EVAL', /array index must be a whole number/],
    ['tags[0.5]', { tags: [1] }, 'EXPR_EVAL', /whole number/],
  ]);
});

describe('compilePredicate', () => {
  const cases: readonly (readonly [string, Row, boolean])[] = [
    ['amount > 0', { amount: 1 }, true],
    ['amount > 0', { amount: 0 }, false],
    ['amount > 0', { amount: null }, false],
    ['flag', { flag: true }, true],
    ['flag', { flag: null }, false],
    ['NULL', {}, false],
    ["status = 'paid' AND amount > 100", { status: 'paid', amount: 101 }, true],
    ['NOT (a > 1)', { a: null }, false],
  ];
  for (const [text, record, expected] of cases) {
    it(`${text} on ${JSON.stringify(record)} → ${expected}`, () => {
      assert.equal(compilePredicate(text)(record), expected);
    });
  }
  it('rejects a non-boolean value on a record with EXPR_EVAL', () => {
    assert.throws(() => compilePredicate('flag')({ flag: 'yes' }), {
      code: 'EXPR_EVAL',
      message: /must be TRUE, FALSE or NULL, got string 'yes'/,
    });
  });
  it('rejects a statically non-boolean condition at compile time', () => {
    assert.throws(() => compilePredicate('amount * 2'), {
      code: 'PLAN_TYPE_ERROR',
      message: /a condition must be boolean, but amount \* 2 is a number/,
    });
  });
});
