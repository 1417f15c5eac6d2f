/**
 * `requiredLiteral`: the literal a regular expression's every match contains, checked against
 * RE2 itself — for each pattern, strings with and without the literal, and every string RE2
 * matches must contain it.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RE2JS } from 're2js';
import { requiredLiteral } from './regex-literal.ts';

test('the literal outside groups, classes and quantified characters', () => {
  assert.equal(requiredLiteral('(&|^)channel_id=([^&]*)'), 'channel_id=');
  assert.equal(requiredLiteral('abc'), 'abc');
  assert.equal(requiredLiteral('ab*cd'), 'cd', 'b is optional');
  assert.equal(requiredLiteral('ab+'), 'a', 'a quantified character is left out');
  assert.equal(requiredLiteral('x{2}yz'), 'yz');
  assert.equal(requiredLiteral('[]a]bc'), 'bc', '] right after [ is a member of the class');
  assert.equal(requiredLiteral('[^]x]yz'), 'yz');
  assert.equal(requiredLiteral('a\\.bc'), 'bc', 'an escape breaks the run');
  assert.equal(requiredLiteral('^id=(\\d+)$'), 'id=');
  assert.equal(requiredLiteral('[\\]]ok'), 'ok');
  assert.equal(requiredLiteral('^\\x{e9}$'), undefined, 'a code point is no literal run');
  assert.equal(requiredLiteral('\\x41bc-d'), '-d', 'hex digits after \\x may be its argument');
  assert.equal(requiredLiteral('\\pLxy=\\101z'), '=', 'nor the letters after \\p or an octal escape');
});

test('none where the text does not show one for sure', () => {
  assert.equal(requiredLiteral('abc|def'), undefined, 'an alternation at the top level');
  assert.equal(requiredLiteral('(?i)abc'), undefined, 'an inline flag');
  assert.equal(requiredLiteral('\\Q|\\Eabc'), undefined, 'a quote');
  assert.equal(requiredLiteral('[[:alpha:]]x'), undefined, 'a POSIX class');
  assert.equal(requiredLiteral('(abc)'), undefined, 'only inside a group');
  assert.equal(requiredLiteral('a*'), undefined);
  assert.equal(requiredLiteral('.*'), undefined);
  assert.equal(requiredLiteral(''), undefined);
});

test('every string RE2 finds a match in contains the literal', () => {
  /** Each pattern with a string it matches, put into a third of the strings tried. */
  const patterns = [
    ['(&|^)channel_id=([^&]*)', 'channel_id=7'],
    ['ab*cd', 'abbcd'],
    ['ab+', 'ab'],
    ['x{2}yz', 'xxyz'],
    ['[]a]bc', ']bc'],
    ['a\\.bc', 'a.bc'],
    ['^id=(\\d+)$', 'id=1'],
    ['k(e|y)=v', 'ky=v'],
    ['(a|b)c-d(e)?', 'bc-d'],
    ['\\x41bc-d', 'Abc-d'],
    ['\\pLxy=\\101z', 'kxy=Az'],
  ];
  const alphabet = [
    'a',
    'b',
    'c',
    'd',
    'e',
    'x',
    'y',
    'z',
    'k',
    'v',
    '=',
    '-',
    '.',
    ']',
    '&',
    'id=1',
    'channel_id=7',
  ];
  let seed = 7;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  for (const [p, sample] of patterns) {
    const literal = requiredLiteral(p);
    assert.ok(literal !== undefined, p);
    const re = RE2JS.compile(p);
    let matched = 0;
    for (let n = 0; n < 3000; n++) {
      let s = '';
      const len = rand(8);
      for (let k = 0; k < len; k++) s += alphabet[rand(alphabet.length)];
      if (n % 3 === 0) s = rand(2) === 0 ? sample + s : s + sample;
      if (re.test(s)) {
        matched++;
        assert.ok(s.includes(literal), `${p} matches '${s}', which lacks '${literal}'`);
      }
    }
    assert.ok(matched > 0, `${p} matched something`);
  }
});
