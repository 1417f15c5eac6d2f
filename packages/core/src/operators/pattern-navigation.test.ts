/**
 * Running semantics (`running: true`, what MATCH_RECOGNIZE compiles to), offsets (`last(A.x, n)`,
 * `first(A.x, n)`, `prev(x, n)`) and aggregates over a stage's records (`avg(A.price)`,
 * `count(*)`), each on a small input whose matches are worked out by hand in the comments. The
 * SQL front end's oracle test checks the same forms on random inputs.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Input } from './pattern-test-harness.ts';
import { runPattern } from './pattern-test-harness.ts';

/** One record a second from t = 1s, prices as given. */
function prices(list: readonly number[]): Input[] {
  return list.map((price, i) => ({ key: 'k', t: (i + 1) * 1000, id: `r${i + 1}`, price }));
}

function run(cfg: Parameters<typeof runPattern>[0], input: readonly Input[], batchSize?: number) {
  return runPattern(cfg, input, batchSize === undefined ? {} : { batchSize }).out.map((o) => o.row);
}

describe('pattern step: running semantics, offsets and aggregates', () => {
  it('reads the record being tested as one of its stage’s (running) or not (Flink CEP)', () => {
    const input = prices([10, 12, 13, 11]);
    // A+ rising, then B below the last A: with running semantics A.price is the current record’s
    // and last(A.price, 1) the A before it; without, A.price is already the A before.
    const running = run(
      {
        running: true,
        stages: [
          { name: 'A', where: 'last(A.price, 1) IS NULL OR A.price > last(A.price, 1)', quantifier: '+' },
          { name: 'B', where: 'B.price < last(A.price)' },
        ],
        measures: { start: 'first(A.price)', top: 'last(A.price)', end: 'B.price', n: 'count(*)' },
      },
      input,
    );
    assert.deepEqual(
      running.map(({ start, top, end, n }) => ({ start, top, end, n })),
      [{ start: 10, top: 13, end: 11, n: 4 }],
    );
    const cep = run(
      {
        stages: [
          { name: 'A', where: 'A.price IS NULL OR price > A.price', quantifier: '+' },
          { name: 'B', where: 'price < A.price' },
        ],
        measures: { start: 'first(A.price)', top: 'last(A.price)', end: 'B.price' },
      },
      input,
    );
    assert.deepEqual(
      cep.map(({ start, top, end }) => ({ start, top, end })),
      [{ start: 10, top: 13, end: 11 }],
    );
  });

  it('aggregates over a stage’s records so far, the current one included', () => {
    // A+ while the average of A stays below 15, then any B: [12 17 13 16] avg 14.5 ends at 25;
    // then [2 4 10 15 25 25] avg 13.5 ends at 30.
    const input = prices([12, 17, 13, 16, 25, 2, 4, 10, 15, 25, 25, 30]);
    for (const batchSize of [1, 3, 100]) {
      const rows = run(
        {
          running: true,
          stages: [
            { name: 'A', where: 'avg(A.price) < 15', quantifier: '+' },
            { name: 'B', where: 'true' },
          ],
          measures: {
            start: 'first(A.id)',
            end: 'last(A.id)',
            avg: 'avg(A.price)',
            sum: 'sum(A.price)',
            low: 'min(A.price)',
            high: 'max(A.price)',
            n: 'count(A.price)',
            all: 'sum(price)',
            at: 'match_rowtime()',
          },
        },
        input,
        batchSize,
      );
      assert.deepEqual(
        rows.map(({ start, end, avg, sum, low, high, n, all, at }) => ({
          start,
          end,
          avg,
          sum,
          low,
          high,
          n,
          all,
          at,
        })),
        [
          { start: 'r1', end: 'r4', avg: 14.5, sum: 58, low: 12, high: 17, n: 4, all: 83, at: 5000 },
          { start: 'r6', end: 'r11', avg: 13.5, sum: 81, low: 2, high: 25, n: 6, all: 111, at: 12_000 },
        ],
        `batch size ${batchSize}`,
      );
    }
  });

  it('keeps the records of partial matches across a checkpoint (own snapshot and keyed state)', () => {
    const input = prices([12, 17, 13, 16, 25, 2, 4, 10, 15, 25, 25, 30]);
    const cfg = {
      running: true,
      stages: [
        {
          name: 'A',
          where: 'avg(A.price) < 15 AND (prev(price) IS NULL OR price <> prev(price))',
          quantifier: '+',
        },
        { name: 'B', where: 'true' },
      ],
      measures: { avg: 'avg(A.price)', second: 'first(A.price, 1)', n: 'count(*)' },
    };
    const whole = runPattern(cfg, input).out.map((o) => o.row);
    assert.equal(whole.length, 2);
    for (const restartAt of [2, 5, 8, 10])
      for (const keyed of [false, true])
        assert.deepEqual(
          runPattern(cfg, input, { restartAt, keyed, batchSize: 3 }).out.map((o) => o.row),
          whole,
          `restart after ${restartAt} records${keyed ? ', keyed state' : ''}`,
        );
  });

  it('navigates by offsets: last(A.x, n), first(A.x, n), prev(x, n)', () => {
    const input = prices([1, 2, 3, 4, 5, 9]);
    const rows = run(
      {
        running: true,
        stages: [
          { name: 'A', where: 'price < 9', quantifier: '+' },
          { name: 'B', where: 'price >= 9' },
        ],
        measures: {
          second: 'first(A.price, 1)',
          before_last: 'last(A.price, 1)',
          far: 'last(A.price, 9)',
          prev_b: 'prev(B.price)',
          prev2: 'prev(price, 2)',
          prev_a: 'prev(A.price, 1)',
          all_first: 'first(price)',
        },
      },
      input,
    );
    assert.deepEqual(
      rows.map(({ key: _k, match_start: _s, match_end: _e, ...m }) => m),
      [{ second: 2, before_last: 4, far: null, prev_b: 5, prev2: 4, prev_a: 4, all_first: 1 }],
    );
    // In a condition, prev(price) is the record before the current one in the match (NULL at its first).
    const rising = run(
      {
        running: true,
        stages: [{ name: 'A', where: 'prev(price) IS NULL OR price > prev(price)', quantifier: '{3}' }],
        measures: { from: 'first(A.id)' },
      },
      prices([5, 6, 7, 1, 2, 3]),
    );
    assert.deepEqual(
      rising.map((r) => r.from),
      ['r1', 'r4'],
    );
  });

  it('refuses an aggregate or offset over two stages, a bad offset, and nesting', () => {
    const bad = (where: string) =>
      assert.throws(
        () =>
          runPattern(
            {
              running: true,
              stages: [
                { name: 'A', where: 'true' },
                { name: 'B', where },
              ],
            },
            [],
          ),
        /stage's records|offset of|cannot hold another/,
      );
    bad('sum(A.price * B.price) > 1');
    bad('last(B.price, -1) > 1');
    bad('sum(last(A.price)) > 1');
  });
});
