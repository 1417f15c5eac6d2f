/**
 * The number rule in expressions: every number an expression computes is a finite double. A cast
 * or an operation that would give ±Infinity or NaN fails the record with NUMBER_OUT_OF_RANGE
 * (a dead letter) instead of passing on a value that JSON writes as null; text is never read as
 * a number without CAST.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SluiceError } from '../errors.ts';
import type { Row } from '../record.ts';
import { compileExpression } from './index.ts';

function fails(text: string, record: Row, code: string, message?: RegExp): void {
  const { evaluate } = compileExpression(text, { step: 'm', path: 'fields.x' });
  assert.throws(
    () => evaluate(record),
    (err: unknown) => {
      assert.ok(err instanceof SluiceError, `not a SluiceError: ${String(err)}`);
      assert.equal(err.code, code, `${text}: ${err.message}`);
      assert.equal(err.step, 'm');
      assert.equal(err.path, 'fields.x');
      if (message) assert.match(err.message, message);
      return true;
    },
    text,
  );
}

describe('numbers in expressions', () => {
  it("CAST of text beyond a double's range is an error, not Infinity (at compile time when constant)", () => {
    for (const text of ["CAST('1e400' AS DOUBLE)", "CAST('-1e400' AS DOUBLE)", "'1e999'::double"]) {
      assert.throws(
        () => compileExpression(text),
        (err: unknown) =>
          err instanceof SluiceError &&
          err.code === 'PLAN_TYPE_ERROR' &&
          /range of a double/.test(err.message),
        text,
      );
    }
    fails('CAST(s AS DOUBLE)', { s: '1e400' }, 'NUMBER_OUT_OF_RANGE', /'1e400'.*DOUBLE/);
    fails('CAST(s AS BIGINT)', { s: '1e400' }, 'NUMBER_OUT_OF_RANGE');
    assert.equal(compileExpression("CAST('1e-400' AS DOUBLE)").evaluate({}), 0);
    assert.equal(compileExpression("CAST('1.5e308' AS DOUBLE)").evaluate({}), 1.5e308);
  });

  it('CAST never reads JavaScript number syntax or words as numbers', () => {
    for (const s of ['0x10', '0b11', '0o7', 'Infinity', '-Infinity', 'NaN', '1_000', '']) {
      fails('CAST(s AS DOUBLE)', { s }, 'EXPR_EVAL', /not a number/);
    }
    assert.equal(compileExpression('CAST(s AS DOUBLE)').evaluate({ s: ' 7 ' }), 7);
  });

  it('arithmetic that overflows to ±Infinity is an error naming the operation', () => {
    fails(
      'x * 10',
      { x: 1e308 },
      'NUMBER_OUT_OF_RANGE',
      /at column 1: 1e\+308 \* 10 gives Infinity, beyond the range of a double/,
    );
    fails('x + x', { x: 1e308 }, 'NUMBER_OUT_OF_RANGE', /\+/);
    fails('-x - x', { x: 1e308 }, 'NUMBER_OUT_OF_RANGE');
    fails('x / y', { x: 1e308, y: 1e-10 }, 'NUMBER_OUT_OF_RANGE');
    assert.equal(compileExpression('x * 10').evaluate({ x: 1e307 }), 1e308);
  });

  it('a non-finite input makes arithmetic fail rather than give Infinity or NaN', () => {
    fails('x + 1', { x: Number.POSITIVE_INFINITY }, 'NUMBER_OUT_OF_RANGE');
    fails('x - x', { x: Number.POSITIVE_INFINITY }, 'NUMBER_OUT_OF_RANGE', /NaN|not a number/);
    fails('x % 2', { x: Number.NEGATIVE_INFINITY }, 'NUMBER_OUT_OF_RANGE');
    fails('x * 1', { x: Number.NaN }, 'NUMBER_OUT_OF_RANGE');
  });

  it('functions whose result would leave the range fail', () => {
    fails('exp(x)', { x: 1000 }, 'NUMBER_OUT_OF_RANGE', /exp\(\)/);
    fails('power(10, x)', { x: 400 }, 'NUMBER_OUT_OF_RANGE', /power\(\)/);
    fails('power(-8, 1.0 / 3)', {}, 'EXPR_EVAL', /not a real number/);
    assert.equal(compileExpression('exp(0)').evaluate({}), 1);
    assert.equal(compileExpression('round(x, 2)').evaluate({ x: 1e308 }), 1e308);
  });

  it('an interval whose milliseconds leave the range is a syntax error', () => {
    for (const text of ["INTERVAL '1e305' DAY", 'INTERVAL 1e305 DAY']) {
      assert.throws(
        () => compileExpression(text),
        (err: unknown) =>
          err instanceof SluiceError && err.code === 'EXPR_SYNTAX' && /too large/.test(err.message),
        text,
      );
    }
  });

  it('a constant expression that overflows fails on the record, like division by zero', () => {
    fails('1e308 * 10', {}, 'NUMBER_OUT_OF_RANGE');
  });
});
