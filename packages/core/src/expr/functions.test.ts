import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SluiceError } from '../errors.ts';
import type { Row } from '../record.ts';
import { ManualClock } from '../time.ts';
import { lookupFunction } from './functions.ts';
import { compileExpression, functionDocs } from './index.ts';

type Case = readonly [text: string, record: Row, expected: unknown];

function table(cases: readonly Case[]): void {
  for (const [text, record, expected] of cases) {
    it(`${text} → ${JSON.stringify(expected)}`, () => {
      assert.deepEqual(compileExpression(text).evaluate(record), expected);
    });
  }
}

function errorTable(cases: readonly (readonly [string, Row, string, RegExp])[]): void {
  for (const [text, record, code, message] of cases) {
    it(`${text} on ${JSON.stringify(record)} fails with ${code}`, () => {
      const compiled = compileExpression(text);
      assert.throws(
        () => compiled.evaluate(record),
        (err: unknown) => err instanceof SluiceError && err.code === code && message.test(err.message),
      );
    });
  }
}

const MAY_1_NOON = Date.UTC(2024, 4, 1, 12, 34, 56, 789);

describe('string functions', () => {
  table([
    ["upper('abc')", {}, 'ABC'],
    ['UPPER(s)', { s: 'straße' }, 'STRASSE'],
    ["lower('ÀB')", {}, 'àb'],
    ["trim('  a b \t')", {}, 'a b'],
    ["ltrim('  a ')", {}, 'a '],
    ["rtrim('  a ')", {}, '  a'],
    ["length('héllo')", {}, 5],
    ["char_length('😀a')", {}, 2],
    ["character_length('')", {}, 0],
    ["substr('hello', 2)", {}, 'ello'],
    ["substr('hello', 2, 3)", {}, 'ell'],
    ["substring('hello', 0, 3)", {}, 'he'],
    ["substr('hello', 10)", {}, ''],
    ["substr('😀bc', 2, 1)", {}, 'b'],
    ["substring('hello' FROM 2 FOR 2)", {}, 'el'],
    ["substring('hello' FROM 3)", {}, 'llo'],
    ["concat('a', 1, TRUE, NULL, 'z')", {}, 'a1truez'],
    ['concat(a)', { a: null }, ''],
    ['concat(a, b)', { a: 'x', b: [1] }, 'x[1]'],
    ["replace('a.b.c', '.', '-')", {}, 'a-b-c'],
    ["replace('abc', '', 'x')", {}, 'abc'],
    ["replace('a$b', '$', '$&$1')", {}, 'a$&$1b'],
    ["split_part('a,b,c', ',', 2)", {}, 'b'],
    ["split_part('a,b,c', ',', 4)", {}, ''],
    ["split_part('a,b,c', ',', -1)", {}, 'c'],
    ["split_part('a,b,c', ',', -3)", {}, 'a'],
    ["split_part('a,b,c', ',', -4)", {}, ''],
    ["split_part('a::b::c', '::', 3)", {}, 'c'],
    ["split_part('abc', '', 1)", {}, 'abc'],
    ["starts_with('hello', 'he')", {}, true],
    ["ends_with('hello', 'lo')", {}, true],
    ["ends_with('hello', 'he')", {}, false],
    ["position('lo' IN 'hello')", {}, 4],
    ["position('z' IN 'hello')", {}, 0],
    ["position('b' IN '😀b')", {}, 2],
    ["strpos('hello', 'l')", {}, 3],
    ["strpos('hello', '')", {}, 1],
    ["lpad('7', 3, '0')", {}, '007'],
    ["lpad('abc', 2)", {}, 'ab'],
    ["lpad('a', 4, 'xy')", {}, 'xyxa'],
    ["lpad('a', 3)", {}, '  a'],
    ["lpad('a', 3, '')", {}, 'a'],
    ["rpad('a', 3, '.')", {}, 'a..'],
    ["rpad('abc', 0)", {}, ''],
    ["regexp_like('abc123', '[0-9]+')", {}, true],
    ["regexp_like('ABC', '^abc$')", {}, false],
    ["regexp_like('ABC', '^abc$', 'i')", {}, true],
    ['regexp_like(s, p)', { s: 'x-1', p: '\\d' }, true],
    ["regexp_replace('a1b22', '[0-9]+', '#')", {}, 'a#b22'],
    ["regexp_replace('a1b22', '[0-9]+', '#', 'g')", {}, 'a#b#'],
    ["regexp_replace('john smith', '(\\w+) (\\w+)', '\\2, \\1')", {}, 'smith, john'],
    ["regexp_replace('abc', 'b', '[\\0]')", {}, 'a[b]c'],
    ["regexp_replace('abc', 'b', '$1')", {}, 'a$1c'],
    ["regexp_extract('order-123-x', '[0-9]+')", {}, '123'],
    ["regexp_extract('k=v', '(\\w)=(\\w)', 2)", {}, 'v'],
    ["regexp_extract('abc', '[0-9]')", {}, null],
    ['upper(s)', { s: null }, null],
    ['substr(s, 1, NULL)', { s: 'x' }, null],
  ]);
  errorTable([
    ['upper(s)', { s: 5 }, 'EXPR_EVAL', /upper\(\) expects a string as argument 1, got number 5/],
    ['substr(s, i)', { s: 'abc', i: 1.5 }, 'EXPR_EVAL', /expects a whole number as argument 2/],
    ["substr('abc', 1, -1)", {}, 'EXPR_EVAL', /negative length/],
    ["split_part('a', ',', 0)", {}, 'EXPR_EVAL', /must not be 0/],
    ['regexp_like(s, p)', { s: 'a', p: '(' }, 'EXPR_EVAL', /invalid regular expression/],
    ["regexp_extract('ab', '(a)', 3)", {}, 'EXPR_EVAL', /has no group 3/],
    ["lpad('a', n)", { n: 1e9 }, 'EXPR_EVAL', /too large/],
  ]);
});

describe('math functions', () => {
  table([
    ['abs(-3)', {}, 3],
    ['ceil(1.2)', {}, 2],
    ['ceiling(-1.2)', {}, -1],
    ['floor(-1.2)', {}, -2],
    ['round(2.5)', {}, 3],
    ['round(-2.5)', {}, -3],
    ['round(1.005, 2)', {}, 1.01],
    ['round(2.675, 2)', {}, 2.68],
    ['round(1234.5, -2)', {}, 1200],
    ['round(x, 1)', { x: 0.15 }, 0.2],
    ['sqrt(16)', {}, 4],
    ['power(2, 10)', {}, 1024],
    ['pow(4, 0.5)', {}, 2],
    ['exp(0)', {}, 1],
    ['ln(1)', {}, 0],
    ['log10(1000)', {}, 3],
    ['log(2, 8)', {}, 3],
    ['mod(7, 3)', {}, 1],
    ['mod(-7, 3)', {}, -1],
    ['sign(-4)', {}, -1],
    ['sign(0)', {}, 0],
    ['abs(x)', { x: null }, null],
  ]);
  errorTable([
    ['sqrt(x)', { x: -1 }, 'EXPR_EVAL', /square root of -1/],
    ['ln(x)', { x: 0 }, 'EXPR_EVAL', /logarithm of 0/],
    ['log10(x)', { x: -5 }, 'EXPR_EVAL', /logarithm/],
    ['log(x, 8)', { x: 1 }, 'EXPR_EVAL', /base 1 is invalid/],
    ['power(x, 0.5)', { x: -8 }, 'EXPR_EVAL', /not a real number/],
    ['mod(x, 0)', { x: 1 }, 'EXPR_DIVISION_BY_ZERO', /modulo by zero/],
    ['abs(x)', { x: '3' }, 'EXPR_EVAL', /abs\(\) expects a number as argument 1, got string '3'/],
  ]);
});

describe('conditional functions', () => {
  table([
    ['coalesce(a, b, 0)', { a: null, b: 2 }, 2],
    ['coalesce(a, b, 0)', {}, 0],
    ['coalesce(a, 5)', { a: 0 }, 0],
    ['coalesce(NULL, NULL)', {}, null],
    ['coalesce(a.b, 1)', { a: {} }, 1],
    ['coalesce(a, 1 / 0)', { a: 3 }, 3],
    ['ifnull(a, 5)', {}, 5],
    ['ifnull(a, 5)', { a: 1 }, 1],
    ['nullif(a, 0)', { a: 0 }, null],
    ['nullif(a, 0)', { a: 3 }, 3],
    ['nullif(a, 0)', {}, null],
    ['nullif(a, b)', { a: 1, b: null }, 1],
    ['10 / nullif(a, 0)', { a: 0 }, null],
    ['greatest(1, 5, 3)', {}, 5],
    ['greatest(a, b)', { a: null, b: 2 }, 2],
    ['greatest(a, b)', { a: null, b: null }, null],
    ["greatest('apple', 'pear')", {}, 'pear'],
    ['least(3, 1, 2)', {}, 1],
    ['least(a, 7)', { a: null }, 7],
    ["if(a > 1, 'big', 'small')", { a: 2 }, 'big'],
    ["if(a > 1, 'big', 'small')", { a: null }, 'small'],
    ['if(a = 0, 0, 1 / a)', { a: 0 }, 0],
  ]);
  errorTable([
    [
      'greatest(a, b)',
      { a: 1, b: 'x' },
      'EXPR_EVAL',
      /cannot compare number 1 with string 'x' using greatest\(\)/,
    ],
    ['nullif(a, b)', { a: 1, b: 'x' }, 'EXPR_EVAL', /cannot compare/],
    ['if(a, 1, 2)', { a: 'x' }, 'EXPR_EVAL', /if\(\) needs a boolean/],
    ['coalesce(a + 1, 0)', {}, 'EXPR_MISSING_FIELD', /field 'a'/],
  ]);
});

describe('time functions', () => {
  table([
    ["to_timestamp('2024-05-01T12:34:56.789Z')", {}, MAY_1_NOON],
    ["to_timestamp('2024-05-01T12:34:56.789')", {}, MAY_1_NOON],
    ["to_timestamp('2024-05-01T14:34:56.789+0200')", {}, MAY_1_NOON],
    ['to_timestamp(1714566896789)', {}, MAY_1_NOON],
    ["to_timestamp('1714566896789')", {}, MAY_1_NOON],
    ["date_trunc('second', ts)", { ts: MAY_1_NOON }, Date.UTC(2024, 4, 1, 12, 34, 56)],
    ["date_trunc('minute', ts)", { ts: MAY_1_NOON }, Date.UTC(2024, 4, 1, 12, 34)],
    ["date_trunc('HOUR', ts)", { ts: MAY_1_NOON }, Date.UTC(2024, 4, 1, 12)],
    ["date_trunc('day', ts)", { ts: MAY_1_NOON }, Date.UTC(2024, 4, 1)],
    ["date_trunc('week', ts)", { ts: MAY_1_NOON }, Date.UTC(2024, 3, 29)],
    ["date_trunc('month', ts)", { ts: MAY_1_NOON }, Date.UTC(2024, 4, 1)],
    ["date_trunc('quarter', ts)", { ts: MAY_1_NOON }, Date.UTC(2024, 3, 1)],
    ["date_trunc('year', ts)", { ts: MAY_1_NOON }, Date.UTC(2024, 0, 1)],
    ["date_trunc('hour', ts)", { ts: -1 }, -3_600_000],
    ['date_trunc(u, ts)', { u: 'Day', ts: MAY_1_NOON }, Date.UTC(2024, 4, 1)],
    ["date_trunc('day', '2024-05-01T23:59:59Z')", {}, Date.UTC(2024, 4, 1)],
    ['extract(year FROM ts)', { ts: MAY_1_NOON }, 2024],
    ['extract(QUARTER FROM ts)', { ts: MAY_1_NOON }, 2],
    ['extract(month FROM ts)', { ts: MAY_1_NOON }, 5],
    ['extract(week FROM ts)', { ts: MAY_1_NOON }, 18],
    ['extract(day FROM ts)', { ts: MAY_1_NOON }, 1],
    ['extract(dow FROM ts)', { ts: MAY_1_NOON }, 3],
    ['extract(isodow FROM ts)', { ts: Date.UTC(2024, 4, 5) }, 7],
    ['extract(dow FROM ts)', { ts: Date.UTC(2024, 4, 5) }, 0],
    ['extract(doy FROM ts)', { ts: MAY_1_NOON }, 122],
    ['extract(hour FROM ts)', { ts: MAY_1_NOON }, 12],
    ['extract(minute FROM ts)', { ts: MAY_1_NOON }, 34],
    ['extract(second FROM ts)', { ts: MAY_1_NOON }, 56.789],
    ['extract(epoch FROM ts)', { ts: MAY_1_NOON }, 1_714_566_896.789],
    ["extract('hour', ts)", { ts: MAY_1_NOON }, 12],
    ["date_part('day', ts)", { ts: MAY_1_NOON }, 1],
    ["date_part('week', '2021-01-03')", {}, 53],
    ["date_part('week', '2024-12-30')", {}, 1],
    ['extract(hour FROM ts)', { ts: '2024-05-01T12:34:56Z' }, 12],
    ['to_iso8601(ts)', { ts: MAY_1_NOON }, '2024-05-01T12:34:56.789Z'],
    ["epoch_ms('1970-01-01T00:00:01Z')", {}, 1000],
    ['to_timestamp(x)', { x: null }, null],
  ]);
  errorTable([
    [
      'to_timestamp(x)',
      { x: 'not a date' },
      'EXPR_EVAL',
      /to_timestamp\(\) expects a timestamp .* got string 'not a date'/,
    ],
    ['to_timestamp(x)', { x: '2024-13-01' }, 'EXPR_EVAL', /expects a timestamp/],
    ['to_timestamp(x)', { x: true }, 'EXPR_EVAL', /expects a timestamp/],
    ['date_trunc(u, 0)', { u: 'fortnight' }, 'EXPR_EVAL', /unknown unit 'fortnight'/],
    ['to_iso8601(x)', { x: 1e20 }, 'EXPR_EVAL', /outside the range/],
  ]);
  it('now() reads the clock given in the options on every evaluation', () => {
    const clock = new ManualClock(1000);
    const c = compileExpression('now() - ts', { clock });
    assert.equal(c.evaluate({ ts: 400 }), 600);
    clock.advance(5);
    assert.equal(c.evaluate({ ts: 400 }), 605);
    assert.equal(c.type, 'number');
    assert.equal(compileExpression('now()').type, 'timestamp');
  });
  it('agrees with Date on calendar fields across four centuries', () => {
    const parts = ['year', 'month', 'day', 'hour', 'dow', 'doy'] as const;
    const compiled = parts.map((p) => compileExpression(`extract(${p} FROM ts)`).evaluate);
    const trunc = compileExpression("date_trunc('month', ts)").evaluate;
    for (let ts = Date.UTC(1900, 0, 1); ts < Date.UTC(2300, 0, 1); ts += 86_400_000 * 37 + 3_600_000 * 7) {
      const d = new Date(ts);
      const start = Date.UTC(d.getUTCFullYear(), 0, 1);
      const expected = [
        d.getUTCFullYear(),
        d.getUTCMonth() + 1,
        d.getUTCDate(),
        d.getUTCHours(),
        d.getUTCDay(),
        Math.floor((ts - start) / 86_400_000) + 1,
      ];
      assert.deepEqual(
        compiled.map((f) => f({ ts })),
        expected,
        d.toISOString(),
      );
      assert.equal(trunc({ ts }), Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1));
    }
  });
});

describe('conversion functions', () => {
  table([
    ["hash('')", {}, 0x811c9dc5],
    ["hash('a')", {}, 0xe40c292c],
    ["hash('foobar')", {}, 0xbf9cf968],
    ['hash(x)', { x: 'foobar' }, 0xbf9cf968],
    ["hash(42) = hash('42')", {}, true],
    ["hash('é') = hash(x)", { x: 'é' }, true],
    ['hash(x)', { x: null }, null],
    ['to_json(x)', { x: { a: [1, 'b'] } }, '{"a":[1,"b"]}'],
    ["to_json('q\"')", {}, '"q\\""'],
  ]);
  it('hashes the UTF-8 bytes, so non-ASCII text matches other FNV-1a implementations', () => {
    const bytes = new TextEncoder().encode('héllo 😀');
    let h = 0x811c9dc5;
    for (const b of bytes) h = Math.imul(h ^ b, 0x01000193);
    assert.equal(compileExpression("hash('héllo 😀')").evaluate({}), h >>> 0);
  });
});

describe('functionDocs', () => {
  it('documents every function once, with a signature and a summary', () => {
    const names = functionDocs.map((d) => d.name);
    assert.equal(new Set(names).size, names.length);
    for (const doc of functionDocs) {
      assert.ok(doc.signature.length > 0 && doc.summary.endsWith('.'), doc.name);
      if (doc.name !== 'cast') assert.ok(lookupFunction(doc.name), doc.name);
    }
    for (const name of ['upper', 'coalesce', 'date_trunc', 'round', 'hash', 'cast', 'extract']) {
      assert.ok(names.includes(name), name);
    }
  });
  it('is sorted by category and name', () => {
    const keys = functionDocs.map((d) => `${d.category}/${d.name}`);
    assert.deepEqual(
      keys,
      [...keys].sort((a, b) => a.localeCompare(b)),
    );
  });
});
