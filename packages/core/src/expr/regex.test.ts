import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SluiceError } from '../errors.ts';
import { recordValidator } from '../operators/validate.ts';
import { compileExpression, compilePredicate } from './index.ts';

// Inputs on which a backtracking engine needs far longer than any test timeout (2^100000 steps
// for the nested quantifier, n^8 for the LIKE pattern); a linear-time engine answers at once.
const LONG_A = `${'a'.repeat(100_000)}b`;

describe('user patterns run in linear time', () => {
  it('regexp_replace with a nested quantifier from the record', () => {
    const replace = compileExpression("regexp_replace(s, p, 'Z')");
    assert.equal(replace.evaluate({ s: LONG_A, p: '(a+)+$' }), LONG_A);
    assert.equal(replace.evaluate({ s: 'xaab', p: '(a+)+b$' }), 'xZ');
  });

  it('regexp_like and regexp_extract with a constant pathological pattern', () => {
    assert.equal(compileExpression("regexp_like(s, '^(a|aa)+$')").evaluate({ s: LONG_A }), false);
    assert.equal(compileExpression("regexp_extract(s, '(a*)*c')").evaluate({ s: LONG_A }), null);
  });

  it('LIKE with many wildcards', () => {
    const like = compilePredicate("s LIKE '%a%a%a%a%a%a%a%a%c'");
    assert.equal(like({ s: 'a'.repeat(20_000) }), false);
    assert.equal(like({ s: `${'a'.repeat(20_000)}c` }), true);
    const ilike = compilePredicate('s ILIKE p');
    assert.equal(ilike({ s: 'A'.repeat(20_000), p: '%a%a%a%a%a%a%a%_%c' }), false);
  });

  it('a JSON Schema pattern in validate', () => {
    const check = recordValidator().compile({
      type: 'object',
      properties: { s: { type: 'string', pattern: '^(a+)+$' } },
    });
    assert.equal(check({ s: LONG_A }), false);
    assert.equal(check({ s: 'aaa' }), true);
  });
});

describe('RE2 syntax', () => {
  it('accepts named groups, \\x{…} code points and flags', () => {
    assert.equal(
      compileExpression("regexp_extract(s, '(?P<k>\\w+)=(?<v>\\w+)', 2)").evaluate({ s: 'a=b' }),
      'b',
    );
    assert.equal(compileExpression("regexp_like(s, '^\\x{e9}$')").evaluate({ s: 'é' }), true);
    assert.equal(compileExpression("regexp_like(s, '^a.b$', 's')").evaluate({ s: 'a\nb' }), true);
    assert.equal(compileExpression("regexp_like(s, '^b$', 'm')").evaluate({ s: 'a\nb' }), true);
    assert.equal(compileExpression("regexp_replace(s, 'o', '0', 'gi')").evaluate({ s: 'fOo' }), 'f00');
  });

  it('matches on code points, like a JavaScript RegExp with the u flag', () => {
    assert.equal(compileExpression("regexp_extract(s, '(.)z', 1)").evaluate({ s: '😀z' }), '😀');
    assert.equal(compilePredicate("s LIKE '_z'")({ s: '😀z' }), true);
  });

  it('rejects backreferences and lookahead with a message naming RE2', () => {
    for (const pattern of ['(a)\\1', '(?=a)b']) {
      assert.throws(
        () => compileExpression(`regexp_like(s, '${pattern}')`),
        (err: unknown) =>
          err instanceof SluiceError && err.code === 'PLAN_TYPE_ERROR' && /RE2 syntax/.test(err.message),
      );
      assert.throws(
        () => compileExpression('regexp_like(s, p)').evaluate({ s: 'a', p: pattern }),
        (err: unknown) =>
          err instanceof SluiceError && err.code === 'EXPR_EVAL' && /RE2 syntax/.test(err.message),
      );
    }
  });

  it('a JSON Schema pattern RE2 cannot run is refused when the schema compiles', () => {
    assert.throws(() => recordValidator().compile({ type: 'string', pattern: '^(?!x)' }), /RE2/);
  });
});
