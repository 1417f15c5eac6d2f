/**
 * What the `aggregate` step does with argument values — one rule, as in expressions:
 * - a missing field or NULL is NULL: that aggregate skips it, the record counts for the others;
 * - a value of the wrong type (text, a boolean or an object where a number is needed) fails the
 *   record: a dead letter naming the step, the field, the call and the fix (CAST), counted in no
 *   aggregate;
 * - a non-finite number, or one that would take a sum beyond the range of a double, fails the
 *   record (NUMBER_OUT_OF_RANGE) and leaves every accumulator as it was.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SluiceError } from '../errors.ts';
import type { Operator } from '../operator.ts';
import type { Row } from '../record.ts';
import { ManualClock } from '../testing/index.ts';
import { batchOf, CollectingOutput } from '../window/test-support.ts';
import { aggregateStep } from './aggregate-step.ts';
import { createStep } from './step-test-support.ts';

type Window =
  | { type: 'tumbling'; size: string }
  | { type: 'hopping'; size: string; slide: string }
  | { type: 'session'; gap: string };

function step(
  fields: { [name: string]: string },
  window: Window = { type: 'tumbling', size: '10ms' },
): Operator {
  const op = createStep(
    aggregateStep,
    { window, time: 'event', fields, allowed_lateness: '0s', on_late: 'late_output' },
    { id: 'agg', baseDir: '.', clock: new ManualClock(0), functions: new Map() },
  );
  op.open?.({ stepId: 'agg', restored: undefined, clock: new ManualClock(0), watermark: () => 0 });
  return op;
}

interface Run {
  results: Row[];
  dead: { record: Row; error: SluiceError }[];
}

/** Runs the records (at `times`, default all at 1) through a fresh step and fires every window. */
function run(fields: { [name: string]: string }, records: Row[], times?: number[], window?: Window): Run {
  const op = step(fields, window);
  const out = new CollectingOutput();
  for (let i = 0; i < records.length; i++) {
    // one record a batch: the accounting must not depend on batching
    op.processBatch(batchOf([records[i]], [times?.[i] ?? 1]), out);
  }
  op.onWatermark!(Number.POSITIVE_INFINITY, out);
  return { results: out.take(), dead: out.dead };
}

describe('aggregate arguments: missing fields and NULL', () => {
  it('count(y) of a record without y counts it as NULL; count(*) still counts it', () => {
    const { results, dead } = run({ all: 'count(*)', ys: 'count(y)', total: 'sum(y)', first_y: 'first(y)' }, [
      { y: 1 },
      {},
      { y: null },
      { y: 2 },
    ]);
    assert.deepEqual(dead, []);
    assert.deepEqual(results, [{ window_start: 0, window_end: 10, all: 4, ys: 2, total: 3, first_y: 1 }]);
  });

  it('a missing field inside an argument expression makes that argument NULL', () => {
    const { results, dead } = run({ n: 'count(*)', doubled: 'sum(a * 2)', nested: 'max(o.v)' }, [
      { a: 1, o: { v: 5 } },
      { o: {} },
      { a: 4 },
    ]);
    assert.deepEqual(dead, []);
    assert.deepEqual(results, [{ window_start: 0, window_end: 10, n: 3, doubled: 10, nested: 5 }]);
  });

  it('an argument expression that fails for another reason is still a dead letter', () => {
    const { results, dead } = run({ n: 'count(*)', q: 'sum(a / b)' }, [
      { a: 1, b: 1 },
      { a: 1, b: 0 },
    ]);
    assert.deepEqual(results, [{ window_start: 0, window_end: 10, n: 1, q: 1 }]);
    assert.deepEqual(
      dead.map((d) => d.error.code),
      ['EXPR_DIVISION_BY_ZERO'],
    );
  });
});

describe('aggregate arguments: one number rule', () => {
  const strange = ['7', '0x10', '0b11', 'Infinity', '', true, { v: 1 }, [1]];

  for (const fn of ['sum', 'avg', 'percentile']) {
    it(`${fn}(amount) dead-letters text, booleans and objects instead of converting or ignoring them`, () => {
      const call = fn === 'percentile' ? 'percentile(amount, 0.5)' : `${fn}(amount)`;
      const records: Row[] = [{ amount: 2 }, ...strange.map((amount) => ({ amount })), { amount: 4 }];
      const { results, dead } = run({ n: 'count(*)', x: call }, records);
      assert.deepEqual(results, [{ window_start: 0, window_end: 10, n: 2, x: fn === 'sum' ? 6 : 3 }]);
      assert.deepEqual(
        dead.map((d) => d.record.amount),
        strange,
      );
      for (const { error } of dead) {
        assert.equal(error.code, 'EXPR_EVAL');
        assert.equal(error.step, 'agg');
        assert.equal(error.path, 'fields.x');
        assert.ok(error.message.includes(`field 'x'`), error.message);
        assert.ok(error.message.includes(call), error.message);
      }
      assert.match(dead[0].error.message, /string '7'/);
      assert.ok(dead[0].error.message.includes(`${fn}(CAST(amount AS DOUBLE)`), dead[0].error.message);
    });
  }

  it('min and max take numbers or strings, one kind per group: another kind is a dead letter', () => {
    const numbers = run({ lo: 'min(v)', hi: 'max(v)' }, [{ v: 5 }, { v: '9' }, { v: 7 }, { v: true }]);
    assert.deepEqual(numbers.results, [{ window_start: 0, window_end: 10, lo: 5, hi: 7 }]);
    assert.deepEqual(
      numbers.dead.map((d) => [d.record.v, d.error.code]),
      [
        ['9', 'EXPR_EVAL'],
        [true, 'EXPR_EVAL'],
      ],
    );
    assert.match(numbers.dead[0].error.message, /numbers/);
    assert.match(numbers.dead[0].error.message, /CAST/);
    const strings = run({ lo: 'min(v)', hi: 'max(v)' }, [{ v: 'pear' }, { v: 'apple' }, { v: 3 }]);
    assert.deepEqual(strings.results, [{ window_start: 0, window_end: 10, lo: 'apple', hi: 'pear' }]);
    assert.equal(strings.dead.length, 1);
  });

  it('count, first, last and count(DISTINCT) take any value', () => {
    const { results, dead } = run({ n: 'count(v)', d: 'count(DISTINCT v)', f: 'first(v)', l: 'last(v)' }, [
      { v: '7' },
      { v: true },
      { v: { a: 1 } },
      { v: '7' },
    ]);
    assert.deepEqual(dead, []);
    assert.deepEqual(results, [{ window_start: 0, window_end: 10, n: 4, d: 3, f: '7', l: '7' }]);
  });
});

describe('aggregate arguments: no Infinity, no overflow', () => {
  it('a non-finite value is a dead letter for every aggregate, and leaves sum and max as they were', () => {
    for (const v of [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN]) {
      const { results, dead } = run(
        { n: 'count(*)', s: 'sum(v)', hi: 'max(v)', f: 'first(v)', c: 'count(v)' },
        [{ v: 1 }, { v }, { v: 2 }],
      );
      assert.deepEqual(results, [{ window_start: 0, window_end: 10, n: 2, s: 3, hi: 2, f: 1, c: 2 }]);
      assert.equal(dead.length, 1);
      assert.equal(dead[0].error.code, 'NUMBER_OUT_OF_RANGE');
      assert.match(dead[0].error.message, /field 's'|field 'hi'|field 'f'|field 'c'/);
    }
  });

  it("CAST('1e400' AS DOUBLE) in an argument is a dead letter, not an Infinity sum", () => {
    const { results, dead } = run(
      { n: 'count(*)', s: 'sum(CAST(t AS DOUBLE))', hi: 'max(CAST(t AS DOUBLE))' },
      [{ t: '5' }, { t: '1e400' }],
    );
    assert.deepEqual(results, [{ window_start: 0, window_end: 10, n: 1, s: 5, hi: 5 }]);
    assert.deepEqual(
      dead.map((d) => d.error.code),
      ['NUMBER_OUT_OF_RANGE'],
    );
  });

  it('the record that would overflow a sum is a dead letter; the sum stays finite', () => {
    const { results, dead } = run({ n: 'count(*)', s: 'sum(v)', a: 'avg(v)', hi: 'max(v)' }, [
      { v: 1e308 },
      { v: 1e308 },
      { v: -1e308 },
      { v: 1e308 },
    ]);
    assert.deepEqual(results, [{ window_start: 0, window_end: 10, n: 3, s: 1e308, a: 1e308 / 3, hi: 1e308 }]);
    assert.equal(dead.length, 1);
    assert.equal(dead[0].error.code, 'NUMBER_OUT_OF_RANGE');
    assert.match(dead[0].error.message, /field 's'/);
    assert.match(dead[0].error.message, /sum\(v\)/);
    assert.match(dead[0].error.message, /range of a double/);
  });

  it('sum(DISTINCT x) refuses the value that would overflow it', () => {
    const { results, dead } = run({ s: 'sum(DISTINCT v)' }, [{ v: 1e308 }, { v: 1e308 }, { v: 9e307 }]);
    assert.deepEqual(results, [{ window_start: 0, window_end: 10, s: 1e308 }]);
    assert.equal(dead.length, 1);
    assert.equal(dead[0].record.v, 9e307);
  });

  it('with hopping windows a record is refused by all its windows when one would overflow', () => {
    // windows of 20 ms every 10 ms: t=5 is in [-10, 10) and [0, 20); t=15 in [0, 20) and [10, 30)
    const { results, dead } = run({ n: 'count(*)', s: 'sum(v)' }, [{ v: 1e308 }, { v: 1e308 }], [5, 15], {
      type: 'hopping',
      size: '20ms',
      slide: '10ms',
    });
    assert.equal(dead.length, 1);
    assert.deepEqual(
      results.map((r) => [r.window_start, r.n, r.s]),
      [
        [-10, 1, 1e308],
        [0, 1, 1e308],
      ],
    );
  });

  it('a record that would merge two sessions into an overflowing sum is refused; they stay apart', () => {
    const { results, dead } = run(
      { n: 'count(*)', s: 'sum(v)' },
      [{ v: 1e308 }, { v: 1e308 }, { v: 0 }],
      [0, 20, 10],
      { type: 'session', gap: '15ms' },
    );
    assert.equal(dead.length, 1);
    assert.equal(dead[0].record.v, 0);
    assert.equal(dead[0].error.code, 'NUMBER_OUT_OF_RANGE');
    assert.deepEqual(
      results.map((r) => [r.window_start, r.window_end, r.n, r.s]),
      [
        [0, 15, 1, 1e308],
        [20, 35, 1, 1e308],
      ],
    );
  });
});

describe('aggregate arguments: values only a TypeScript source can give', () => {
  it('a bigint is not a number for sum, but any value for count', () => {
    const { results, dead } = run({ n: 'count(v)', s: 'sum(v)' }, [{ v: 2n }, { v: 3 }]);
    assert.deepEqual(results, [{ window_start: 0, window_end: 10, n: 1, s: 3 }]);
    assert.equal(dead.length, 1);
    assert.match(dead[0].error.message, /bigint 2/);
  });
});
