import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SluiceError } from '../errors.ts';
import {
  type CompileOptions,
  compileExpression,
  compilePredicate,
  type ExprType,
  parseExpression,
} from './index.ts';

function compileError(text: string, code: string, message: RegExp, options?: CompileOptions): void {
  assert.throws(
    () => compileExpression(text, options),
    (err: unknown) => {
      assert.ok(err instanceof SluiceError, String(err));
      assert.equal(err.code, code, err.message);
      assert.match(err.message, message);
      return true;
    },
    text,
  );
}

describe('static checks', () => {
  it('rejects type mismatches no record could fix', () => {
    const cases: readonly (readonly [string, RegExp])[] = [
      [
        "'a' * 2",
        /^at column 1: operator \* needs numbers, but 'a' is a string; convert it with CAST\('a' AS DOUBLE\)/,
      ],
      [
        "1 + 'a'",
        /^at column 5: operator \+ needs numbers, but 'a' is a string; use \|\| to concatenate strings/,
      ],
      ['TRUE - 1', /operator - needs numbers, but TRUE is a boolean/],
      ["-'a'", /unary - needs numbers/],
      ["1 = 'a'", /^at column 5: operator = cannot compare 1 \(a number\) with 'a' \(a string\)/],
      ['1 < TRUE', /cannot compare/],
      ["a IN (1, 'x')", /IN cannot compare a \(a number\) with 'x' \(a string\)/],
      ["a BETWEEN 'a' AND 2", /BETWEEN cannot compare/],
      ['NOT 5', /NOT needs a boolean, but 5 is a number/],
      ['1 AND TRUE', /AND needs a boolean/],
      ['5 IS TRUE', /IS TRUE needs a boolean/],
      ["5 LIKE 'a'", /LIKE needs a string, but 5 is a number/],
      ['s LIKE 5', /the LIKE pattern needs a string/],
      ["s LIKE 'a' ESCAPE e", /ESCAPE needs a string literal of one character/],
      ["s LIKE 'a' ESCAPE 'ab'", /ESCAPE needs a string literal/],
      ["s LIKE 'a\\'", /^at column 8: LIKE pattern 'a\\' ends with the escape character/],
      ["CASE WHEN 1 THEN 'a' END", /CASE WHEN needs a boolean/],
      ["CASE WHEN b THEN 1 ELSE 'x' END", /CASE branches have different types \(number and string\)/],
      ["CASE x WHEN 1 THEN 'a' WHEN 'b' THEN 'c' END", /CASE cannot compare/],
      ['CAST(TRUE AS TIMESTAMP)', /cannot cast a boolean to TIMESTAMP/],
      ["CAST('abc' AS INT)", /^at column 1: cannot cast string 'abc' to BIGINT/],
      ["'x'::boolean", /cannot cast string 'x' to BOOLEAN/],
      ["CAST('2024-99-01' AS TIMESTAMP)", /cannot cast/],
      [
        'upper(5)',
        /^at column 7: upper\(\) argument 1 needs a string, but 5 is a number; convert it with CAST\(5 AS VARCHAR\)/,
      ],
      ["abs('x')", /abs\(\) argument 1 needs numbers/],
      ["substr('abc', 1.5)", /argument 2 must be a whole number/],
      [
        "date_trunc('hours', ts)",
        /^at column 12: date_trunc\(\): unknown unit 'hours'; did you mean 'hour'\?/,
      ],
      ['extract(fortnight FROM ts)', /extract\(\): unknown unit 'fortnight'; use one of year, quarter/],
      ["to_timestamp('yesterday')", /'yesterday' is not a timestamp/],
      ['to_timestamp(TRUE)', /needs a timestamp/],
      ["regexp_like(s, '(')", /invalid regular expression '\('/],
      ["regexp_like(s, 'a', 'x')", /unknown flag 'x'/],
      ["regexp_like(s, 'a', 'g')", /unknown flag 'g'/],
      ["coalesce(1, 'a')", /the arguments of coalesce\(\) have different types \(number and string\)/],
      ["greatest(1, 'a')", /different types/],
      ["if(TRUE, 1, 'a')", /the arguments of if\(\) have different types/],
      ["if('x', 1, 2)", /if\(\) argument 1 needs a boolean/],
      ['(1).x', /1 is a number, so it has no fields or elements/],
      ['tags[TRUE]', /an index must be a number/],
      ["ts > 'soon'", /'soon' is not a timestamp/],
    ];
    const fieldTypes: { [field: string]: ExprType } = {
      a: 'number',
      ts: 'timestamp',
      s: 'string',
      x: 'number',
    };
    for (const [text, message] of cases) compileError(text, 'PLAN_TYPE_ERROR', message, { fieldTypes });
  });

  it('uses known field types', () => {
    const fieldTypes: { [field: string]: ExprType } = { name: 'string', amount: 'number', ok: 'boolean' };
    compileError('name * 2', 'PLAN_TYPE_ERROR', /but name is a string/, { fieldTypes });
    compileError(
      'amount = name',
      'PLAN_TYPE_ERROR',
      /cannot compare amount \(a number\) with name \(a string\)/,
      {
        fieldTypes,
      },
    );
    compileError('ok + 1', 'PLAN_TYPE_ERROR', /but ok is a boolean/, { fieldTypes });
    assert.equal(compileExpression('upper(name)', { fieldTypes }).type, 'string');
    assert.doesNotThrow(() => compileExpression('other * 2', { fieldTypes }));
  });

  it('still checks typed field values on each record', () => {
    const c = compileExpression('amount * 2', { fieldTypes: { amount: 'number' } });
    assert.throws(() => c.evaluate({ amount: 'oops' }), { code: 'EXPR_EVAL' });
  });

  it('rejects unknown functions with a suggestion', () => {
    compileError(
      'uper(x)',
      'EXPR_UNKNOWN_FUNCTION',
      /^at column 1: unknown function uper\(\); did you mean upper\(\)\?$/,
    );
    compileError('1 + cielng(x)', 'EXPR_UNKNOWN_FUNCTION', /^at column 5: .*did you mean ceiling\(\)\?/);
    compileError('datetrunc(x)', 'EXPR_UNKNOWN_FUNCTION', /did you mean date_trunc\(\)\?/);
    compileError('coun(x)', 'EXPR_UNKNOWN_FUNCTION', /did you mean count\(\)\?/);
    compileError(
      'frobnicate(x)',
      'EXPR_UNKNOWN_FUNCTION',
      /unknown function frobnicate\(\); see the function reference/,
    );
  });

  it('rejects wrong argument counts with the signature', () => {
    compileError(
      'upper()',
      'PLAN_TYPE_ERROR',
      /^at column 1: upper\(\) takes 1 argument, got 0: upper\(s\)$/,
    );
    compileError(
      "substr('a')",
      'PLAN_TYPE_ERROR',
      /substr\(\) takes 2 to 3 arguments, got 1: substr\(s, start\[, length\]\)/,
    );
    compileError('coalesce()', 'PLAN_TYPE_ERROR', /coalesce\(\) takes at least 1 argument, got 0/);
    compileError('now(1)', 'PLAN_TYPE_ERROR', /now\(\) takes 0 arguments, got 1/);
    compileError('log(8)', 'PLAN_TYPE_ERROR', /log\(\) takes 2 arguments/);
  });

  it('rejects aggregates, DISTINCT and * in scalar context', () => {
    compileError(
      'sum(x)',
      'PLAN_TYPE_ERROR',
      /^at column 1: sum\(\) is an aggregate; use it in an aggregate step's fields$/,
    );
    compileError('1 + count(*)', 'PLAN_TYPE_ERROR', /^at column 5: count\(\) is an aggregate/);
    compileError('count(DISTINCT user_id)', 'PLAN_TYPE_ERROR', /count\(\) is an aggregate/);
    compileError('percentile(amount, 0.95)', 'PLAN_TYPE_ERROR', /percentile\(\) is an aggregate/);
    compileError('approx_count_distinct(x)', 'PLAN_TYPE_ERROR', /is an aggregate/);
    compileError('min(a, b)', 'PLAN_TYPE_ERROR', /use least\(\)/);
    compileError('upper(DISTINCT x)', 'PLAN_TYPE_ERROR', /DISTINCT is only allowed in aggregate calls/);
    compileError('upper(*)', 'PLAN_TYPE_ERROR', /'\*' is only allowed in count\(\*\)/);
  });

  it('compiles the arguments of an aggregate call given as a tree', () => {
    const call = parseExpression('sum(amount * 2)');
    assert.equal(call.kind, 'call');
    if (call.kind !== 'call') return;
    const arg = compileExpression(call.args[0]);
    assert.equal(arg.text, 'amount * 2');
    assert.deepEqual(arg.fields, ['amount']);
    assert.equal(arg.evaluate({ amount: 4 }), 8);
    const distinct = parseExpression('count(DISTINCT user_id)');
    assert.ok(distinct.kind === 'call' && distinct.distinct);
    if (distinct.kind === 'call')
      assert.equal(compileExpression(distinct.args[0]).evaluate({ user_id: 'u1' }), 'u1');
  });
});

describe('compiled expression', () => {
  it('reports its text, type and the top-level fields it reads', () => {
    const c = compileExpression('upper(a.b) || c[0] || coalesce(d, a.x) || CAST(e AS VARCHAR)');
    assert.equal(c.text, 'upper(a.b) || c[0] || coalesce(d, a.x) || CAST(e AS VARCHAR)');
    assert.equal(c.type, 'string');
    assert.deepEqual(c.fields, ['a', 'c', 'd', 'e']);
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.fields));
  });

  it('infers result types', () => {
    const types: readonly (readonly [string, ExprType])[] = [
      ['1 + 2', 'number'],
      ["'a' || 1", 'string'],
      ['a = 1', 'boolean'],
      ['a', 'any'],
      ['NULL', 'null'],
      ["to_timestamp('2024-01-01')", 'timestamp'],
      ["to_timestamp('2024-01-01') + INTERVAL '1' HOUR", 'timestamp'],
      ["to_timestamp('2024-01-01') - INTERVAL '1' HOUR", 'timestamp'],
      ["now() - to_timestamp('2024-01-01')", 'number'],
      ['CASE WHEN a THEN 1 ELSE NULL END', 'number'],
      ['CASE WHEN a THEN 1 ELSE b END', 'any'],
      ['coalesce(a, 0)', 'any'],
      ['coalesce(1, 2)', 'number'],
      ['CAST(a AS TIMESTAMP)', 'timestamp'],
      ['a::int', 'number'],
      ['length(s)', 'number'],
      ["if(a, 'x', 'y')", 'string'],
    ];
    for (const [text, type] of types) assert.equal(compileExpression(text).type, type, text);
  });

  it('sets step and path on compile-time and runtime errors', () => {
    const options = { step: 'enrich', path: 'fields.total' };
    assert.throws(() => compileExpression('1 +', options), {
      code: 'EXPR_SYNTAX',
      step: 'enrich',
      path: 'fields.total',
    });
    assert.throws(() => compileExpression('nope(1)', options), {
      code: 'EXPR_UNKNOWN_FUNCTION',
      step: 'enrich',
    });
    assert.throws(() => compilePredicate('1', options), { code: 'PLAN_TYPE_ERROR', path: 'fields.total' });
    const c = compileExpression('a / b', options);
    assert.throws(() => c.evaluate({ a: 1, b: 0 }), {
      code: 'EXPR_DIVISION_BY_ZERO',
      step: 'enrich',
      path: 'fields.total',
    });
    assert.throws(() => c.evaluate({ b: 1 }), { code: 'EXPR_MISSING_FIELD', step: 'enrich' });
    const err = (() => {
      try {
        c.evaluate({ a: 'x', b: 1 });
      } catch (e) {
        return e;
      }
    })();
    assert.ok(err instanceof SluiceError);
    assert.equal(
      err.describe(),
      "step 'enrich', fields.total: at column 1: operator / needs numbers, got string 'x'; convert text with CAST(x AS DOUBLE) (EXPR_EVAL)",
    );
  });

  it('evaluates without `this`, so evaluate can be passed around', () => {
    const { evaluate } = compileExpression('x + 1');
    assert.deepEqual([{ x: 1 }, { x: 2 }].map(evaluate), [2, 3]);
  });

  it('folds constant subexpressions but never now()', () => {
    let t = 0;
    const c = compileExpression("now() + INTERVAL '1' SECOND * 2", { clock: { now: () => t } });
    assert.equal(c.evaluate({}), 2000);
    t = 10;
    assert.equal(c.evaluate({}), 2010);
  });
});
