import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { deserialize } from 'node:v8';
import { SluiceError } from '../errors.ts';
import { PATTERN_KEYED_STATE } from './pattern.ts';
import {
  buildPattern,
  describeMatch,
  type Input,
  matches,
  type PatternConfig,
  records,
  runPattern,
  stageMeasures,
} from './pattern-test-harness.ts';

type Stages = PatternConfig['stages'];

const is = (v: string) => `v = '${v}'`;

describe('pattern step', () => {
  it('matches a strict sequence and skips past the last row', () => {
    const stages: Stages = [
      { name: 'A', where: is('a') },
      { name: 'B', where: is('b') },
    ];
    assert.deepEqual(matches(stages, 'a1@1 b1@2 a2@3 c1@4 b2@5 a3@6 b3@7'), ['A:a1 B:b1', 'A:a3 B:b3']);
  });

  it('relaxed contiguity skips records that fail the condition', () => {
    const stages: Stages = [
      { name: 'A', where: is('a') },
      { name: 'B', where: is('b'), contiguity: 'relaxed' },
    ];
    assert.deepEqual(matches(stages, 'a1@1 c1@2 b1@3 a2@4 c2@5 c3@6 b2@7'), ['A:a1 B:b1', 'A:a2 B:b2']);
  });

  it('takes exactly n, n..m, one or more and optional, greedily', () => {
    const ab = (q: string): Stages => [
      { name: 'A', where: is('a'), quantifier: q },
      { name: 'B', where: is('b') },
    ];
    const input = 'a1@1 a2@2 a3@3 a4@4 b1@5';
    assert.deepEqual(matches(ab('{2}'), input), ['A:a3..a4(2) B:b1']);
    assert.deepEqual(matches(ab('{2,3}'), input), ['A:a2..a4(3) B:b1']);
    assert.deepEqual(matches(ab('+'), input), ['A:a1..a4(4) B:b1']);
    assert.deepEqual(matches(ab('{2,}'), input), ['A:a1..a4(4) B:b1']);
    assert.deepEqual(matches(ab('?'), 'a1@1 b1@2 b2@3'), ['A:a1 B:b1', 'B:b2']);
    assert.deepEqual(matches(ab('*'), 'c1@1 b1@2 a1@3 a2@4 b2@5'), ['B:b1', 'A:a1..a2(2) B:b2']);
  });

  it('reluctant quantifiers take as few records as the pattern allows', () => {
    const stages: Stages = [
      { name: 'A', where: is('a') },
      { name: 'B', where: "v IN ('a', 'b')", quantifier: '+?' },
      { name: 'C', where: is('b') },
    ];
    assert.deepEqual(matches(stages, 'a1@1 a2@2 b1@3 b2@4'), ['A:a1 B:a2 C:b1']);
    const greedy = stages.map((s) => (s.name === 'B' ? { ...s, quantifier: '+' } : s));
    assert.deepEqual(matches(greedy, 'a1@1 a2@2 b1@3 b2@4'), ['A:a1 B:a2..b1(2) C:b2']);
    // A trailing reluctant loop ends at once; a greedy one waits for its last record.
    const tail = (q: string): Stages => [
      { name: 'A', where: is('a') },
      { name: 'B', where: is('b'), quantifier: q },
    ];
    assert.deepEqual(matches(tail('+?'), 'a1@1 b1@2 b2@3 b3@4'), ['A:a1 B:b1']);
    assert.deepEqual(matches(tail('+'), 'a1@1 b1@2 b2@3 b3@4 c1@5'), ['A:a1 B:b1..b3(3)']);
    assert.deepEqual(matches(tail('??'), 'a1@1 b1@2'), ['A:a1']);
  });

  it('conditions refer to earlier stages: rising values', () => {
    const stages: Stages = [
      { name: 'A', where: 'true' },
      { name: 'B', where: 'n > coalesce(B.n, A.n)', quantifier: '{2,}' },
    ];
    // ids carry their value in n: x1 x5 x7 x9 x2 … rises 1<5<7<9 then falls.
    assert.deepEqual(matches(stages, 'x1@1 x5@2 x7@3 x9@4 x2@5 x3@6 x1@7'), ['A:x1 B:x5..x9(3)']);
    const firstRef: Stages = [
      { name: 'A', where: is('a') },
      { name: 'B', where: 'n > first(A.n) + 2', contiguity: 'relaxed' },
    ];
    assert.deepEqual(matches(firstRef, 'a1@1 b2@2 b3@3 b4@4'), ['A:a1 B:b4']);
  });

  it('within bounds a match from its first record; timed-out partial matches can be emitted', () => {
    const stages: Stages = [
      { name: 'A', where: is('a') },
      { name: 'B', where: is('b'), contiguity: 'relaxed' },
    ];
    const input = 'a1@0 c1@5 b1@9 a2@20 c2@25 b2@30 a3@40';
    assert.deepEqual(matches(stages, input, { within: '10ms' }), ['A:a1 B:b1']);
    const result = runPattern(
      { stages, within: '10ms', timeouts: 'emit', measures: stageMeasures(['A', 'B']) },
      records(input),
    );
    assert.deepEqual(
      result.out.map((o) => `${describeMatch(o.row, ['A', 'B'])}@${o.time}`),
      ['A:a1 B:b1@9', 'timeout A:a2@30', 'timeout A:a3@50'],
    );
    assert.equal(result.out[1].row.match_start, 20);
    const dropped = runPattern({ stages, within: '10ms' }, records(input));
    assert.equal(dropped.out.length, 1, 'the one complete match; the two timeouts are dropped');
    assert.equal(dropped.filtered, 0, 'a dropped timeout is no input record');
    // A start that times out is reported before a later start's match decided after its deadline.
    const overlap = (skip: PatternConfig['skip']) =>
      runPattern(
        { stages, within: '10ms', timeouts: 'emit', skip, measures: stageMeasures(['A', 'B']) },
        records('a1@0 a2@8 b1@12 a3@30'),
      ).out.map((o) => `${describeMatch(o.row, ['A', 'B'])}@${o.time}`);
    assert.deepEqual(overlap('past_last_row'), ['timeout A:a1@10', 'A:a2 B:b1@12', 'timeout A:a3@40']);
    assert.deepEqual(overlap('no_skip'), ['timeout A:a1@10', 'A:a2 B:b1@12', 'timeout A:a3@40']);
    // A start whose match skipped a later partial match: the later one is not reported.
    assert.deepEqual(
      runPattern(
        { stages, within: '10ms', timeouts: 'emit', measures: stageMeasures(['A', 'B']) },
        records('a1@0 a2@2 b1@5'),
      ).out.map((o) => describeMatch(o.row, ['A', 'B'])),
      ['A:a1 B:b1'],
    );
  });

  it('skip strategies: past last row, to next row, to first / last stage, no skip', () => {
    const stages: Stages = [
      { name: 'A', where: is('a'), quantifier: '+' },
      { name: 'B', where: is('b') },
    ];
    const input = 'a1@1 a2@2 a3@3 b1@4';
    assert.deepEqual(matches(stages, input), ['A:a1..a3(3) B:b1']);
    assert.deepEqual(matches(stages, input, { skip: 'to_next_row' }), [
      'A:a1..a3(3) B:b1',
      'A:a2..a3(2) B:b1',
      'A:a3 B:b1',
    ]);
    assert.deepEqual(matches(stages, input, { skip: 'to_last', skip_to: 'A' }), [
      'A:a1..a3(3) B:b1',
      'A:a3 B:b1',
    ]);
    assert.deepEqual(matches(stages, input, { skip: 'to_first', skip_to: 'A' }), [
      'A:a1..a3(3) B:b1',
      'A:a2..a3(2) B:b1',
      'A:a3 B:b1',
    ]);
    const relaxed: Stages = [
      { name: 'A', where: is('a'), quantifier: '+', contiguity: 'relaxed' },
      { name: 'B', where: is('b'), contiguity: 'relaxed' },
    ];
    assert.deepEqual(matches(relaxed, 'a1@1 c1@2 a2@3 b1@4', { skip: 'no_skip' }).sort(), [
      'A:a1 B:b1',
      'A:a1..a2(2) B:b1',
      'A:a2 B:b1',
    ]);
  });

  it('measures: key fields, match bounds, first / last / count and plain fields of the last record', () => {
    const stages: Stages = [
      { name: 'A', where: "action = 'fail'", quantifier: '{2,}' },
      { name: 'B', where: "action = 'ok'" },
    ];
    const inputs: Input[] = [
      { key: 'x', t: 10, user: 'u1', action: 'fail', ip: '1' },
      { key: 'x', t: 11, user: 'u1', action: 'fail', ip: '2' },
      { key: 'x', t: 12, user: 'u1', action: 'fail', ip: '3' },
      { key: 'x', t: 13, user: 'u1', action: 'ok', ip: '4' },
    ].map(({ key, ...r }) => ({ key, ...r }));
    const op = runPattern(
      {
        stages,
        key: ['user'],
        measures: {
          failures: 'count(A)',
          first_ip: 'first(A.ip)',
          last_ip: 'last(A.ip)',
          ok_ip: 'B.ip',
          ip: 'ip',
          took: 'match_end() - match_start()',
        },
      },
      inputs.map((r) => ({ ...r, key: 'u1' })),
    );
    assert.deepEqual(op.out, [
      {
        key: 'u1',
        time: 13,
        row: {
          user: 'u1',
          match_start: 10,
          match_end: 13,
          failures: 3,
          first_ip: '1',
          last_ip: '3',
          ok_ip: '4',
          ip: '4',
          took: 3,
        },
      },
    ]);
  });

  it('orders records by event time within the watermark bound, and sends records behind it to late', () => {
    const stages: Stages = [
      { name: 'A', where: is('a') },
      { name: 'B', where: is('b') },
    ];
    const inputs = records('b1@2 a1@1 c1@3 a2@10 b2@11 a3@4');
    const bounded = runPattern({ stages, measures: stageMeasures(['A', 'B']) }, inputs, { bound: 5 });
    assert.deepEqual(
      bounded.out.map((o) => describeMatch(o.row, ['A', 'B'])),
      ['A:a1 B:b1', 'A:a2 B:b2'],
    );
    assert.deepEqual(bounded.late, ['a3']);
    const strict = runPattern({ stages, measures: stageMeasures(['A', 'B']) }, inputs, { bound: 0 });
    assert.deepEqual(strict.late, ['a1', 'a3']);
  });

  it('keeps keys apart and frees a key with no partial match', () => {
    const stages: Stages = [
      { name: 'A', where: is('a') },
      { name: 'B', where: is('b'), contiguity: 'relaxed' },
    ];
    const inputs = [...records('a1@1 b1@4', 'x'), ...records('a2@2 c1@3 b2@5', 'y')].sort(
      (p, q) => p.t - q.t,
    );
    const r = runPattern({ stages, measures: stageMeasures(['A', 'B']) }, inputs);
    assert.deepEqual(
      r.out.map((o) => `${o.key}:${describeMatch(o.row, ['A', 'B'])}`),
      ['x:A:a1 B:b1', 'y:A:a2 B:b2'],
    );
    const op = buildPattern({ stages, within: '1h' });
    op.processBatch({ records: [{ v: 'a' }, { v: 'b' }], times: [1, 2], keys: ['x', 'x'] }, sinkOutput());
    op.onWatermark?.(5, sinkOutput());
    const snapshot = op.snapshot?.() as { keyed: Map<string, Map<string, unknown>> };
    assert.equal(snapshot.keyed.get(PATTERN_KEYED_STATE)?.size, 0);
  });

  it('within keeps the state bounded on unbounded input', () => {
    const stages: Stages = [
      { name: 'A', where: is('a') },
      { name: 'B', where: is('b'), quantifier: '+', contiguity: 'relaxed' },
      { name: 'C', where: is('c'), contiguity: 'relaxed' },
    ];
    const op = buildPattern({ stages, within: '50ms', timeouts: 'emit' });
    const out = sinkOutput();
    const letters = ['a', 'b', 'x', 'a', 'b', 'b', 'x', 'c', 'a', 'x'];
    const sizes: number[] = [];
    for (let round = 0; round < 200; round++) {
      const records = [];
      const times = [];
      const keys = [];
      for (let i = 0; i < 500; i++) {
        const n = round * 500 + i;
        // 50 keys; letters cycle per key with a stride so that matches, timeouts and dead ends mix.
        records.push({ v: letters[(n * 7 + Math.floor(n / 50)) % letters.length] });
        times.push(n);
        keys.push(`k${n % 50}`);
      }
      op.processBatch({ records, times, keys }, out);
      op.onWatermark?.(round * 500 + 499 - 10, out);
      const snap = op.snapshot?.() as {
        keyed: Map<string, Map<string, { state?: { threads: unknown[] }; pending?: { times: number[] } }>>;
      };
      let threads = 0;
      let pending = 0;
      for (const e of snap.keyed.get(PATTERN_KEYED_STATE)?.values() ?? []) {
        threads += e.state?.threads.length ?? 0;
        pending += e.pending?.times.length ?? 0;
      }
      sizes.push(threads + pending);
    }
    const early = Math.max(...sizes.slice(10, 100));
    const late = Math.max(...sizes.slice(100));
    assert.ok(late <= early, `state grew: ${early} then ${late}`);
    assert.ok(late < 2000, `state too large: ${late}`);
  });

  it('timeouts: side_output sends what emit marks as timeouts to the side output, for batch sizes 1, 7, 1024', () => {
    const stages: Stages = [
      { name: 'A', where: is('a') },
      { name: 'B', where: is('b'), quantifier: '+', contiguity: 'relaxed' },
      { name: 'C', where: is('c'), contiguity: 'relaxed' },
    ];
    const letters = ['a', 'b', 'x', 'a', 'b', 'b', 'x', 'c', 'a', 'x'];
    const inputs: Input[] = Array.from({ length: 3_000 }, (_, n) => ({
      key: `k${n % 13}`,
      // Out of order within the bound.
      t: n + ((n * 37) % 11),
      id: `r${n}`,
      v: letters[(n * 7 + Math.floor(n / 13)) % letters.length],
    }));
    const cfg = { stages, within: '60ms', measures: stageMeasures(['A', 'B', 'C']) };
    const emitted = runPattern({ ...cfg, timeouts: 'emit' }, inputs, { bound: 11, batchSize: 7 });
    const strip = ({ row: { match: _, ...row }, ...o }: (typeof emitted.out)[number]) => ({ ...o, row });
    const complete = emitted.out.filter((o) => o.row.match === 'complete').map(strip);
    const timeouts = emitted.out.filter((o) => o.row.match === 'timeout').map(strip);
    assert.ok(complete.length > 50 && timeouts.length > 50, `${complete.length} / ${timeouts.length}`);
    for (const batchSize of [1, 7, 1024]) {
      const side = runPattern({ ...cfg, timeouts: 'side_output' }, inputs, { bound: 11, batchSize });
      assert.deepEqual(side.out, complete, `complete matches, batch size ${batchSize}`);
      assert.deepEqual(side.timeouts, timeouts, `timeouts, batch size ${batchSize}`);
      assert.deepEqual([side.late, side.dead], [emitted.late, emitted.dead]);
    }
  });

  it('a condition that fails on a record makes it a dead letter; it matches nothing', () => {
    const stages: Stages = [
      { name: 'A', where: 'n / d > 1' },
      { name: 'B', where: is('b') },
    ];
    const inputs: Input[] = [
      { key: 'k', t: 1, id: 'a1', v: 'a', n: 4, d: 0 },
      { key: 'k', t: 2, id: 'a2', v: 'a', n: 4, d: 2 },
      { key: 'k', t: 3, id: 'b1', v: 'b', n: 0, d: 1 },
    ];
    const r = runPattern({ stages, measures: stageMeasures(['A', 'B']) }, inputs);
    assert.deepEqual(r.dead, ['a1:EXPR_DIVISION_BY_ZERO']);
    assert.deepEqual(
      r.out.map((o) => describeMatch(o.row, ['A', 'B'])),
      ['A:a2 B:b1'],
    );
  });

  it('restores a snapshot written before absent stages and any contiguity (sluice.pattern.v1)', () => {
    // testdata/pattern-v1.snapshot: this pattern's state after r1..r5 at watermark 5, written
    // (v8.serialize) by the matcher before threads could carry a guard.
    const cfg = {
      stages: [
        { name: 'A', where: is('a'), quantifier: '+', contiguity: 'strict' as const },
        { name: 'B', where: is('b'), contiguity: 'relaxed' as const },
      ],
      within: '100ms',
      measures: stageMeasures(['A', 'B']),
      timeouts: 'emit' as const,
    };
    const before: Input[] = [
      { key: 'x', t: 1, id: 'r1', v: 'a' },
      { key: 'y', t: 2, id: 'r2', v: 'a' },
      { key: 'x', t: 3, id: 'r3', v: 'a' },
      { key: 'x', t: 4, id: 'r4', v: 'c' },
      { key: 'y', t: 9, id: 'r5', v: 'c' },
    ];
    const after: Input[] = [
      { key: 'x', t: 10, id: 'r6', v: 'b' },
      { key: 'y', t: 12, id: 'r7', v: 'a' },
      { key: 'x', t: 13, id: 'r8', v: 'a' },
      { key: 'y', t: 14, id: 'r9', v: 'b' },
      { key: 'x', t: 300, id: 'r10', v: 'c' },
    ];
    const snapshot = deserialize(readFileSync(new URL('./testdata/pattern-v1.snapshot', import.meta.url)));
    assert.equal(snapshot.format, 'sluice.pattern.v1');
    const restored = runPattern(cfg, after, { restored: snapshot });
    assert.deepEqual(restored, runPattern(cfg, [...before, ...after]));
    assert.deepEqual(
      restored.out.map((o) => `${o.key} ${describeMatch(o.row, ['A', 'B'])}`),
      ['x A:r1..r3(2) B:r6', 'y A:r2 B:r9', 'x timeout A:r8'],
    );
  });

  it('refuses bad options with the config path', () => {
    const bad = (cfg: Partial<PatternConfig> & Pick<PatternConfig, 'stages'>, path: string) =>
      assert.throws(
        () => buildPattern(cfg),
        (err: unknown) => err instanceof SluiceError && err.path === path,
      );
    bad({ stages: [{ name: 'A', where: 'true', quantifier: '{3,1}' }] }, 'stages[0].quantifier');
    bad({ stages: [{ name: 'A', where: 'true', quantifier: 'x' }] }, 'stages[0].quantifier');
    bad({ stages: [{ name: 'A', where: 'true', quantifier: '?' }] }, 'stages');
    bad(
      {
        stages: [
          { name: 'A', where: 'true' },
          { name: 'A', where: 'true' },
        ],
      },
      'stages[1].name',
    );
    bad({ stages: [{ name: 'A', where: 'count(A, 2) > 1' }] }, 'stages[0].where');
    bad({ stages: [{ name: 'A', where: 'true' }], skip: 'to_first' }, 'skip_to');
    bad({ stages: [{ name: 'A', where: 'true' }], within: '0s' }, 'within');
    bad({ stages: [{ name: 'A', where: 'true' }], key: ['lower(u)'] }, 'key[0]');
    bad({ stages: [{ name: 'A', where: 'true' }], measures: { x: 'first(A.y, A.z)' } }, 'measures.x');
  });
});

function sinkOutput() {
  return { emit() {}, deadLetter() {}, late() {}, filtered() {} };
}
