/**
 * Golden cases for absent stages (Flink CEP's `notNext` and `notFollowedBy`) and `any`
 * contiguity (Flink's `followedByAny`); `pattern-oracle.test.ts` checks them on random inputs.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SluiceError } from '../errors.ts';
import {
  buildPattern,
  matches,
  type PatternConfig,
  records,
  runPattern,
  stageMeasures,
} from './pattern-test-harness.ts';

type Stages = PatternConfig['stages'];

const is = (v: string) => `v = '${v}'`;

describe('pattern step: absent stages and any contiguity', () => {
  it('notFollowedBy: no forbidden record between the stages around it', () => {
    const stages: Stages = [
      { name: 'A', where: is('a') },
      { name: 'N', where: is('c'), contiguity: 'relaxed', absent: true },
      { name: 'B', where: is('b'), contiguity: 'relaxed' },
    ];
    assert.deepEqual(matches(stages, 'a1@1 x1@2 b1@3 a2@4 c1@5 b2@6 a3@7 b3@8'), ['A:a1 B:b1', 'A:a3 B:b3']);
    // A record meeting both the absent stage and the next one is forbidden (as in Flink).
    const both: Stages = [stages[0], { ...stages[1], where: 'n > 5' }, stages[2]];
    assert.deepEqual(matches(both, 'a1@1 b9@2 b2@3'), []);
    // It applies after the last record of a repeated stage, not between its records.
    const loop: Stages = [
      { name: 'A', where: is('a'), quantifier: '+', contiguity: 'relaxed' },
      { ...stages[1], where: is('x') },
      stages[2],
    ];
    assert.deepEqual(matches(loop, 'a1@1 x1@2 a2@3 b1@4'), ['A:a1..a2(2) B:b1']);
  });

  it('notNext: the record right after the previous stage must not meet it', () => {
    const stages: Stages = [
      { name: 'A', where: is('a') },
      { name: 'N', where: is('c'), absent: true },
      { name: 'B', where: is('b'), contiguity: 'relaxed' },
    ];
    // a1 is followed by c1; a2 by x1, so the later c2 does not matter.
    assert.deepEqual(matches(stages, 'a1@1 c1@2 b1@3 a2@4 x1@5 c2@6 b2@7'), ['A:a2 B:b2']);
  });

  it('notNext at the end: the match is output at the next record, if that one is not forbidden', () => {
    const stages: Stages = [
      { name: 'A', where: is('a') },
      { name: 'N', where: is('b'), absent: true },
    ];
    const run = runPattern({ stages, measures: stageMeasures(['A']) }, records('a1@1 b1@2 a2@3 c1@4 a3@5'));
    // a3 has no next record before the end of input: it is not confirmed.
    assert.deepEqual(
      run.out.map((o) => [o.row.A_first, o.time]),
      [['a2', 4]],
    );
  });

  it('notFollowedBy at the end: the match is output when within has passed without a forbidden record', () => {
    const stages: Stages = [
      { name: 'A', where: is('a') },
      { name: 'N', where: is('p'), contiguity: 'relaxed', absent: true },
    ];
    const input = records('a1@1 x1@3 p1@5 a2@20 x2@25 a3@40 p2@52');
    const run = runPattern({ stages, measures: stageMeasures(['A']), within: '10ms' }, input);
    assert.deepEqual(
      run.out.map((o) => [o.row.A_first, o.row.match_end, o.time]),
      [
        ['a2', 20, 30],
        ['a3', 40, 50],
      ],
    );
    // Partial matches that a forbidden record ended do not time out: they failed.
    const emitted = runPattern({ stages, measures: {}, within: '10ms', timeouts: 'emit' }, input);
    assert.deepEqual(
      emitted.out.map((o) => o.row.match),
      ['complete', 'complete'],
    );
    // Behind optional stages only, it can end the pattern too.
    const optional: Stages = [...stages, { name: 'B', where: is('b'), quantifier: '?' }];
    assert.deepEqual(matches(optional, 'a1@1 b1@2 a2@10 x1@11 p1@12', { within: '5ms' }), ['A:a1 B:b1']);
  });

  it('any contiguity: each later matching record starts a branch (followedByAny)', () => {
    const ab = (contiguity: 'relaxed' | 'any'): Stages => [
      { name: 'A', where: is('a') },
      { name: 'B', where: is('b'), contiguity },
    ];
    assert.deepEqual(matches(ab('relaxed'), 'a1@1 b1@2 x1@3 b2@4', { skip: 'no_skip' }), ['A:a1 B:b1']);
    assert.deepEqual(matches(ab('any'), 'a1@1 b1@2 x1@3 b2@4', { skip: 'no_skip' }), [
      'A:a1 B:b1',
      'A:a1 B:b2',
    ]);
    // The preferred match may need a later record: b1 is not followed by c directly, b2 is.
    const abc = (contiguity: 'relaxed' | 'any'): Stages => [...ab(contiguity), { name: 'C', where: is('c') }];
    assert.deepEqual(matches(abc('relaxed'), 'a1@1 b1@2 x1@3 b2@4 c1@5'), []);
    assert.deepEqual(matches(abc('any'), 'a1@1 b1@2 x1@3 b2@4 c1@5'), ['A:a1 B:b2 C:c1']);
    // Between the records of a repeated stage it is Flink's allowCombinations().
    const loop: Stages = [
      { name: 'A', where: is('a') },
      { name: 'B', where: is('b'), quantifier: '{2}', contiguity: 'any' },
    ];
    assert.deepEqual(matches(loop, 'a1@1 b1@2 b2@3 b3@4', { skip: 'no_skip' }).sort(), [
      'A:a1 B:b1..b2(2)',
      'A:a1 B:b1..b3(2)',
      'A:a1 B:b2..b3(2)',
    ]);
  });

  it('refuses absent stages where Flink does, naming the stage path', () => {
    const bad = (
      cfg: Partial<PatternConfig> & Pick<PatternConfig, 'stages'>,
      path: string,
      message?: RegExp,
    ) =>
      assert.throws(
        () => buildPattern(cfg),
        (err: unknown) =>
          err instanceof SluiceError &&
          err.code === 'CONFIG_INVALID' &&
          err.path === path &&
          (message === undefined || message.test(err.message)),
      );
    const a = { name: 'A', where: is('a') };
    const b = { name: 'B', where: is('b') };
    const n = { name: 'N', where: is('c'), absent: true };
    bad({ stages: [n, a] }, 'stages[0].absent', /cannot begin with an absent stage/);
    bad({ stages: [a, { ...n, quantifier: '+' }, b] }, 'stages[1].quantifier');
    bad({ stages: [a, { ...n, contiguity: 'any' }, b] }, 'stages[1].contiguity');
    bad({ stages: [{ ...a, quantifier: '?' }, n, b] }, 'stages[1]', /optional/);
    bad({ stages: [a, { ...n, contiguity: 'relaxed' }] }, 'stages[1]', /stage 'N' \(stages\[1\]\).*within/);
    bad(
      { stages: [a, { ...n, contiguity: 'relaxed' }, { ...b, quantifier: '*' }] },
      'stages[1]',
      /can end the pattern/,
    );
    bad({ stages: [a, n, { ...b, where: 'n > N.n' }] }, 'stages[2].where', /absent/);
    bad({ stages: [a, n, b], measures: { x: 'count(N)' } }, 'measures.x', /absent/);
    bad({ stages: [a, n, b], skip: 'to_first', skip_to: 'N' }, 'skip_to');
    // Allowed: notNext at the end, notFollowedBy at the end with within, absent stages in a row.
    buildPattern({ stages: [a, n] });
    buildPattern({ stages: [a, { ...n, contiguity: 'relaxed' }], within: '1m' });
    buildPattern({ stages: [a, n, { ...n, name: 'M', contiguity: 'relaxed' }, b] });
  });
});
