/**
 * Scalar functions defined from TypeScript: called from expressions like built-ins, NULL in NULL
 * out, arguments checked by their declared kinds, and a throw or a result of the wrong kind an
 * evaluation error naming the function (which sends the record to the dead letters).
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SluiceError } from '../errors.ts';
import { compileExpression, defineFunction, isUserFunction } from './index.ts';

const run = (text: string, record: { [k: string]: unknown } = {}) => compileExpression(text).evaluate(record);

const countChar = {
  name: 'test_count_char',
  params: ['string', 'string'] as const,
  returns: 'number' as const,
  impl: (s: string, c: string) => [...s].filter((x) => x === c).length,
};
defineFunction(countChar);

describe('user-defined scalar functions', () => {
  it('are called like built-ins, case-insensitively, with NULL giving NULL', () => {
    assert.equal(isUserFunction('test_count_char'), true);
    assert.equal(run("TEST_COUNT_CHAR(s, 'c')", { s: 'accbc' }), 3);
    assert.equal(run("test_count_char(s, 'c') + 1", { s: 'xyz' }), 1);
    assert.equal(run("test_count_char(s, 'c')", { s: null }), null);
  });

  it('check their arguments by kind', () => {
    assert.throws(
      () => run("test_count_char(s, 'c')", { s: 12 }),
      (e: unknown) => e instanceof SluiceError && e.code === 'EXPR_EVAL',
    );
  });

  it('turn a throw or a result of another kind into an evaluation error naming the function', () => {
    defineFunction({
      name: 'test_picky',
      params: ['number'],
      returns: 'string',
      impl: (n: number) => {
        if (n < 0) throw new Error('negative input');
        return n === 0 ? 0 : 'ok';
      },
    });
    assert.equal(run('test_picky(n)', { n: 2 }), 'ok');
    assert.throws(() => run('test_picky(n)', { n: -1 }), /test_picky\(\): negative input/);
    assert.throws(
      () => run('test_picky(n)', { n: 0 }),
      /test_picky\(\) gave number 0, where it is defined to give a string/,
    );
  });

  it('cannot replace a built-in or an aggregate, nor be defined twice with other code', () => {
    const impl = (s: string) => s;
    assert.throws(
      () => defineFunction({ name: 'lower', params: ['string'], returns: 'string', impl }),
      /built in/,
    );
    assert.throws(
      () => defineFunction({ name: 'count', params: ['any'], returns: 'number', impl: () => 1 }),
      /aggregate/,
    );
    assert.throws(
      () => defineFunction({ name: '1x', params: [], returns: 'number', impl: () => 1 }),
      /not a name/,
    );
    defineFunction(countChar);
    assert.throws(() => defineFunction({ ...countChar, impl: () => 0 }), /defined already/);
  });
});
