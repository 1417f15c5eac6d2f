/**
 * Golden cases for alternations of stages (SQL `PATTERN (A (B | C) D)`);
 * `pattern-oracle.test.ts` checks them on random inputs.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SluiceError } from '../errors.ts';
import { buildPattern, matches, type PatternConfig } from './pattern-test-harness.ts';

type Stages = PatternConfig['stages'];

const is = (v: string) => `v = '${v}'`;

describe('pattern step: alternation', () => {
  it('takes one of the alternatives, then the stage after them', () => {
    const stages: Stages = [
      { name: 'A', where: is('a') },
      { name: 'B', where: is('b') },
      { name: 'C', where: is('c'), alternative: true },
      { name: 'D', where: is('d') },
    ];
    assert.deepEqual(matches(stages, 'a1@1 b1@2 d1@3 a2@4 c1@5 d2@6 a3@7 x1@8 d3@9'), [
      'A:a1 B:b1 D:d1',
      'A:a2 C:c1 D:d2',
    ]);
  });

  it('prefers the earlier alternative, and tries the later one when the earlier fails', () => {
    const stages = (d: string): Stages => [
      { name: 'A', where: is('a') },
      { name: 'B', where: "v IN ('b', 'c')" },
      { name: 'C', where: is('c'), alternative: true },
      { name: 'D', where: d },
    ];
    assert.deepEqual(matches(stages(is('d')), 'a1@1 c1@2 d1@3'), ['A:a1 B:c1 D:d1']);
    assert.deepEqual(matches(stages(`${is('d')} AND count(C) = 1`), 'a1@1 c1@2 d1@3'), ['A:a1 C:c1 D:d1']);
  });

  it('can begin the pattern, take quantifiers and contiguity of its own, and chain three ways', () => {
    const start: Stages = [
      { name: 'A', where: is('a') },
      { name: 'B', where: is('b'), quantifier: '{2}', alternative: true },
      { name: 'E', where: is('e'), alternative: true },
      { name: 'C', where: is('c'), contiguity: 'relaxed' },
    ];
    assert.deepEqual(matches(start, 'a1@1 x1@2 c1@3 b1@4 b2@5 c2@6 e1@7 x2@8 c3@9'), [
      'A:a1 C:c1',
      'B:b1..b2(2) C:c2',
      'E:e1 C:c3',
    ]);
  });

  it('refuses alternatives that cannot be one, naming the stage path', () => {
    const bad = (stages: Stages, path: string) =>
      assert.throws(
        () => buildPattern({ stages }),
        (err: unknown) => err instanceof SluiceError && err.code === 'CONFIG_INVALID' && err.path === path,
      );
    const a = { name: 'A', where: is('a') };
    const b = { name: 'B', where: is('b') };
    const c = { name: 'C', where: is('c'), alternative: true };
    bad([c, a], 'stages[0].alternative');
    bad([a, { name: 'N', where: is('n'), absent: true }, c], 'stages[2].alternative');
    bad([a, { ...c, absent: true }], 'stages[1].alternative');
    bad([a, { ...b, quantifier: '?' }, c], 'stages[1].quantifier');
    bad([a, b, { ...c, quantifier: '*' }], 'stages[2].quantifier');
  });
});
