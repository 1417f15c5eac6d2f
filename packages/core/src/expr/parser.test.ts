import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatExpression, isAggregateCall, parseExpression } from './index.ts';
import { tokenize } from './lexer.ts';
import type { Expr } from './types.ts';

/** The tree without offsets, for comparing shapes. */
function shape(e: Expr): unknown {
  return JSON.parse(
    JSON.stringify(e, (key, value) => (key === 'start' || key === 'end' ? undefined : value)),
  );
}

function syntaxError(text: string, message: RegExp): void {
  assert.throws(() => parseExpression(text), { code: 'EXPR_SYNTAX', message });
}

describe('parseExpression', () => {
  it('gives every node its source offsets', () => {
    const e = parseExpression('a + upper(b)');
    assert.equal(e.kind, 'binary');
    if (e.kind !== 'binary') return;
    assert.deepEqual([e.start, e.end], [0, 12]);
    assert.deepEqual([e.left.start, e.left.end], [0, 1]);
    assert.deepEqual([e.right.start, e.right.end], [4, 12]);
  });

  it('parses calls into the exact call node shape', () => {
    assert.deepEqual(shape(parseExpression('COUNT(*)')), {
      kind: 'call',
      name: 'count',
      args: [],
      distinct: false,
      star: true,
    });
    assert.deepEqual(shape(parseExpression('count(DISTINCT user_id)')), {
      kind: 'call',
      name: 'count',
      args: [{ kind: 'field', name: 'user_id' }],
      distinct: true,
      star: false,
    });
    assert.deepEqual(shape(parseExpression('percentile(amount, 0.95)')), {
      kind: 'call',
      name: 'percentile',
      args: [
        { kind: 'field', name: 'amount' },
        { kind: 'literal', value: 0.95 },
      ],
      distinct: false,
      star: false,
    });
    assert.deepEqual(shape(parseExpression('now()')), {
      kind: 'call',
      name: 'now',
      args: [],
      distinct: false,
      star: false,
    });
  });

  it('normalizes the special call forms', () => {
    assert.deepEqual(shape(parseExpression('extract(HOUR FROM ts)')), {
      kind: 'call',
      name: 'extract',
      args: [
        { kind: 'literal', value: 'hour' },
        { kind: 'field', name: 'ts' },
      ],
      distinct: false,
      star: false,
    });
    const position = parseExpression("position('a' || 'b' IN s)");
    assert.equal(position.kind === 'call' && position.args[0].kind, 'binary');
    const substring = parseExpression('substring(s FROM 2 FOR 3)');
    assert.equal(substring.kind === 'call' && substring.args.length, 3);
  });

  it('recognizes aggregate calls', () => {
    for (const text of ['count(*)', 'SUM(x)', 'avg(x)', 'min(x)', 'max(x)', 'first(x)', 'last(x)']) {
      assert.equal(isAggregateCall(parseExpression(text)), true, text);
    }
    assert.equal(isAggregateCall(parseExpression('approx_count_distinct(x)')), true);
    assert.equal(isAggregateCall(parseExpression('percentile(x, 0.5)')), true);
    assert.equal(isAggregateCall(parseExpression('upper(x)')), false);
    assert.equal(isAggregateCall(parseExpression('sum(x) + 1')), false);
  });

  it('reads literals', () => {
    const literal = (text: string) => {
      const e = parseExpression(text);
      assert.equal(e.kind, 'literal', text);
      return e.kind === 'literal' ? e.value : undefined;
    };
    assert.equal(literal('42'), 42);
    assert.equal(literal('4.25'), 4.25);
    assert.equal(literal('.5'), 0.5);
    assert.equal(literal('5.'), 5);
    assert.equal(literal('1e3'), 1000);
    assert.equal(literal('2.5E-2'), 0.025);
    assert.equal(literal("'it''s'"), "it's");
    assert.equal(literal("''"), '');
    assert.equal(literal('TRUE'), true);
    assert.equal(literal('false'), false);
    assert.equal(literal('Null'), null);
    assert.equal(literal("INTERVAL '5' MINUTE"), 300_000);
    assert.equal(literal("interval '1.5' hours"), 5_400_000);
    assert.equal(literal("INTERVAL '250ms'"), 250);
    assert.equal(literal("INTERVAL '1 day 2 hours'"), 93_600_000);
    assert.equal(literal('INTERVAL 3 SECOND'), 3000);
  });

  it('treats contextual words as field names elsewhere', () => {
    for (const name of ['interval', 'cast', 'from', 'as', 'escape', 'distinct', 'year', 'count', 'value']) {
      assert.deepEqual(shape(parseExpression(name)), { kind: 'field', name }, name);
    }
  });

  it('follows SQL precedence', () => {
    const cases: readonly (readonly [string, string])[] = [
      ['a OR b AND c', 'a OR b AND c'],
      ['(a OR b) AND c', '(a OR b) AND c'],
      ['NOT a = b', 'NOT a = b'],
      ['NOT (a AND b)', 'NOT (a AND b)'],
      ['a + b * c', 'a + b * c'],
      ['(a + b) * c', '(a + b) * c'],
      ['a - (b - c)', 'a - (b - c)'],
      ['a - b - c', 'a - b - c'],
      ['a || b + 1', 'a || b + 1'],
      ["(a || b) = 'x'", "a || b = 'x'"],
      ['a = b IS NULL', 'a = b IS NULL'],
      ['(a IS NULL) = b', '(a IS NULL) = b'],
      ['-a::int', '-CAST(a AS BIGINT)'],
      ['(-a)::int', 'CAST(-a AS BIGINT)'],
      ['a BETWEEN 1 AND 2 AND c', 'a BETWEEN 1 AND 2 AND c'],
      ["a NOT IN (1, 2) OR b NOT LIKE 'x%'", "a NOT IN (1, 2) OR b NOT LIKE 'x%'"],
      ["s ILIKE 'a!%' ESCAPE '!'", "s ILIKE 'a!%' ESCAPE '!'"],
      ['a.b[0].c', 'a.b[0].c'],
      ['"my field".x', '"my field".x'],
      ["CASE x WHEN 1 THEN 'a' ELSE 'b' END", "CASE x WHEN 1 THEN 'a' ELSE 'b' END"],
      ['case when a then 1 end', 'CASE WHEN a THEN 1 END'],
      ['- - a', '- -a'],
      ['a - -1', 'a - -1'],
      ['extract(hour from ts)', 'extract(hour FROM ts)'],
      ["position('x' IN s)", "position('x' IN s)"],
      ['count(DISTINCT a)', 'count(DISTINCT a)'],
      ['x -- a comment\n + 1', 'x + 1'],
      ['x /* block */ * 2', 'x * 2'],
      ['a != b', 'a <> b'],
      ['"end" + "x y"', '"end" + "x y"'],
    ];
    for (const [text, formatted] of cases) {
      const e = parseExpression(text);
      assert.equal(formatExpression(e), formatted, text);
      assert.deepEqual(shape(parseExpression(formatExpression(e))), shape(e), `round trip of ${text}`);
    }
  });

  it('reports syntax errors with the column', () => {
    syntaxError('', /^at column 1: expected an expression, found the end of the expression$/);
    syntaxError('upper(a', /^at column 8: expected '\)' to close the call to upper\( at column 6/);
    syntaxError('(1 + 2', /^at column 7: expected '\)' to close the '\(' at column 1/);
    syntaxError('a +', /^at column 4: expected an expression/);
    syntaxError('a b', /^at column 3: unexpected 'b' after a complete expression/);
    syntaxError("'abc", /^at column 1: unterminated string literal/);
    syntaxError('"abc', /^at column 1: unterminated quoted name/);
    syntaxError('""', /empty quoted name/);
    syntaxError('a == b', /^at column 3: '==' is not an operator; use '='/);
    syntaxError('a && b', /use AND/);
    syntaxError('a # b', /^at column 3: unexpected character '#'/);
    syntaxError('`a`', /backticks do not quote names/);
    syntaxError('a; b', /';' cannot appear/);
    syntaxError('5abc', /'5a' is not a number/);
    syntaxError('1e999', /too large/);
    syntaxError('a IS 5', /^at column 6: expected NULL, TRUE or FALSE after IS/);
    syntaxError('a NOT 5', /expected BETWEEN, IN, LIKE or ILIKE after NOT/);
    syntaxError('a BETWEEN 1 OR 2', /expected AND between the bounds of BETWEEN/);
    syntaxError('a IN ()', /IN needs at least one value/);
    syntaxError('a IN (1, 2', /to close the IN list/);
    syntaxError('CASE WHEN a THEN 1', /expected WHEN, ELSE or END in the CASE at column 1/);
    syntaxError('CASE END', /expected WHEN after CASE/);
    syntaxError(
      'CAST(a AS VARCHR)',
      /^at column 11: expected a type, found 'VARCHR'; did you mean VARCHAR\?$/,
    );
    syntaxError('a::json', /^at column 4: expected a type, found 'json'; use one of INT, INTEGER, BIGINT/);
    syntaxError('CAST(a AS VARCHAR(10))', /type modifiers such as VARCHAR\(…\) are not supported/);
    syntaxError('CAST(a INT)', /expected AS/);
    syntaxError("INTERVAL '5'", /needs a unit/);
    syntaxError("INTERVAL '1' MONTH", /has no fixed length/);
    syntaxError("INTERVAL '2 fortnights'", /not an interval unit/);
    syntaxError('a AND AND b', /expected an expression, found AND/);
    syntaxError('a IN 5', /^at column 6: expected '\(' after IN, found '5'$/);
    syntaxError('end + 1', /to use a field named 'end', quote it: "end"/);
    syntaxError('a.', /expected a field name after '\.'/);
    syntaxError('a[1', /expected '\]'/);
    syntaxError('/* open', /unterminated comment/);
    syntaxError('extract(1 FROM ts)', /expected a date part/);
    syntaxError(`${'('.repeat(20_000)}1${')'.repeat(20_000)}`, /nests more than 500 levels deep/);
    syntaxError(Array.from({ length: 600 }, () => 'x').join(' + '), /nests more than 500 levels deep/);
    assert.doesNotThrow(() => parseExpression(Array.from({ length: 200 }, (_, i) => `x${i}`).join(' + ')));
  });
});

describe('tokenize with backtickNames (the SQL front end)', () => {
  it('reads a backticked run as a quoted name, a doubled backtick as one; without the option it is refused', () => {
    const [user, odd, end] = tokenize('`user` `a``b`', { backtickNames: true });
    assert.deepEqual([user.kind, user.text, user.start, user.end], ['quoted', 'user', 0, 6]);
    assert.deepEqual([odd.kind, odd.text], ['quoted', 'a`b']);
    assert.equal(end.kind, 'end');
    assert.throws(() => tokenize('`a', { backtickNames: true }), /unterminated quoted name; close it with `/);
    assert.throws(
      () => tokenize('``', { backtickNames: true }),
      /empty quoted name; put the field name between the backticks/,
    );
    assert.throws(() => tokenize('`user`'), /backticks do not quote names/);
  });
});
