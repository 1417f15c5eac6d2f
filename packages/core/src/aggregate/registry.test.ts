import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deserialize, serialize } from 'node:v8';
import { SluiceError } from '../errors.ts';
import type { AggregateFunction, AggregateOptions } from './aggregate-function.ts';
import { aggregateDocs, aggregateFunction } from './registry.ts';

function fold(fn: AggregateFunction, values: readonly unknown[]): unknown {
  let acc = fn.create();
  for (const v of values) acc = fn.add(acc, v);
  return acc;
}

function run(name: string, values: readonly unknown[], options: AggregateOptions = {}): unknown {
  const fn = aggregateFunction(name, options);
  return fn.result(fold(fn, values));
}

const mixed = [3, null, 1, undefined, 4, 1, 5, 'x', 9, 2, 6];

describe('aggregate functions', () => {
  it('count(*) counts records, NULL included', () => {
    assert.equal(run('count', mixed, { star: true }), 11);
    assert.equal(run('count', [], { star: true }), 0);
  });

  it('count(x) counts non-null values', () => {
    assert.equal(run('count', mixed), 9);
    assert.equal(run('COUNT', [null, undefined]), 0);
  });

  it('count(DISTINCT x) keeps types apart and compares objects by value', () => {
    assert.equal(
      run('count', [1, '1', 1, null, true, 'a', 'a', { a: 1 }, { a: 1 }, [1]], { distinct: true }),
      6,
    );
    assert.equal(run('count', [], { distinct: true }), 0);
  });

  it('sum and avg add finite numbers, skip NULL, and skip what the step would have refused', () => {
    assert.equal(run('sum', [3, null, 1, undefined, 4]), 8);
    assert.equal(run('sum', ['2.5', 2n, true, {}, '', 'abc', Number.NaN, Number.POSITIVE_INFINITY, 1]), 1);
    assert.equal(run('sum', [null, 'x']), null);
    assert.equal(run('avg', [1, 2, null, 6]), 3);
    assert.equal(run('avg', [null]), null);
    for (const name of ['sum', 'avg', 'percentile_cont', 'percentile_disc', 'percentile'])
      assert.equal(aggregateFunction(name, name.startsWith('p') ? { params: [0.5] } : {}).input, 'number');
  });

  it('sum and avg refuse, without changing anything, a value that would overflow them', () => {
    for (const name of ['sum', 'avg']) {
      const fn = aggregateFunction(name);
      const acc = fold(fn, [1e308]);
      const before = structuredClone(acc);
      fn.check!(acc, -1e308);
      assert.throws(
        () => fn.check!(acc, 1e308),
        (err: unknown) => err instanceof SluiceError && err.code === 'NUMBER_OUT_OF_RANGE',
      );
      assert.deepEqual(acc, before);
      fn.check!(fn.create(), 1.7e308);
      assert.throws(() => fn.checkMerge!(fold(fn, [1e308]), fold(fn, [1e308])), SluiceError);
      fn.checkMerge!(fold(fn, [1e308]), fold(fn, [-1e308]));
    }
    const distinct = aggregateFunction('sum', { distinct: true });
    const acc = fold(distinct, [1e308]);
    distinct.check!(acc, 1e308);
    assert.throws(() => distinct.check!(acc, 9e307), SluiceError);
    assert.throws(() => distinct.checkMerge!(fold(distinct, [1e308]), fold(distinct, [9e307])), SluiceError);
    distinct.checkMerge!(fold(distinct, [1e308]), fold(distinct, [1e308, -9e307]));
    assert.equal(distinct.result(acc), 1e308);
  });

  it('sum and avg DISTINCT see each value once', () => {
    assert.equal(run('sum', [1, 1, 2, 2, 3, null], { distinct: true }), 6);
    assert.equal(run('avg', [1, 1, 1, 4], { distinct: true }), 2.5);
  });

  it('min and max order numbers or strings, one kind per group', () => {
    assert.equal(run('min', [3, null, 1, undefined, 4]), 1);
    assert.equal(run('max', [3, 9, 2]), 9);
    assert.equal(run('min', ['pear', 'apple', 'fig']), 'apple');
    assert.equal(run('max', ['pear', 'apple', 'fig']), 'pear');
    assert.equal(run('min', [null, Number.NaN, true]), null);
    assert.equal(run('max', [1, 2], { distinct: true }), 2);
    for (const name of ['min', 'max']) {
      const fn = aggregateFunction(name);
      assert.equal(fn.input, 'ordered');
      fn.check!(fold(fn, [5]), 7);
      fn.check!(fn.create(), 'a');
      assert.throws(
        () => fn.check!(fold(fn, [5]), 'a'),
        (err: unknown) =>
          err instanceof SluiceError && err.code === 'EXPR_EVAL' && /holds numbers/.test(err.message),
      );
      assert.throws(() => fn.checkMerge!(fold(fn, ['a']), fold(fn, [5])), SluiceError);
      assert.equal(fn.result(fn.add(fold(fn, [5]), 'a')), 5, `${name}: add skips another kind`);
    }
  });

  it('first and last take the first and last non-null value', () => {
    assert.equal(run('first', [null, 'a', 'b', null]), 'a');
    assert.equal(run('last', [null, 'a', 'b', null]), 'b');
    assert.equal(run('first', []), null);
    assert.equal(run('last', [undefined]), null);
  });

  it('percentile is percentile_cont; percentile_disc picks a value', () => {
    const values = [4, 1, null, 3, 2];
    assert.equal(run('percentile', values, { params: [0.95] }), 3.8499999999999996);
    assert.equal(run('percentile_cont', values, { params: [0.95] }), 3.8499999999999996);
    assert.equal(run('percentile_disc', values, { params: [0.95] }), 4);
    assert.equal(run('percentile_disc', values, { params: [0] }), 1);
    assert.equal(run('percentile_cont', values, { params: [1] }), 4);
    assert.equal(run('percentile', [1, 1, 2, 3], { params: [0.5], distinct: true }), 2);
    assert.equal(run('percentile', [null], { params: [0.5] }), null);
  });

  it('approx_count_distinct counts small sets exactly', () => {
    assert.equal(run('approx_count_distinct', [1, 2, 2, '2', null, 3]), 4);
    assert.equal(run('approx_count_distinct', []), 0);
  });

  it('merge of two halves equals folding everything, for every function', () => {
    const values = Array.from({ length: 200 }, (_, i) => (i % 7 === 0 ? null : (i * 37) % 101));
    const calls: [string, AggregateOptions][] = [
      ['count', { star: true }],
      ['count', {}],
      ['count', { distinct: true }],
      ['sum', {}],
      ['sum', { distinct: true }],
      ['avg', {}],
      ['min', {}],
      ['max', {}],
      ['first', {}],
      ['last', {}],
      ['approx_count_distinct', {}],
      ['percentile', { params: [0.9] }],
      ['percentile_disc', { params: [0.9] }],
      ['percentile', { params: [0.5], distinct: true }],
    ];
    for (const [name, options] of calls) {
      const fn = aggregateFunction(name, options);
      const whole = fn.result(fold(fn, values));
      const merged = fn.result(fn.merge(fold(fn, values.slice(0, 77)), fold(fn, values.slice(77))));
      assert.deepEqual(merged, whole, `${name} ${JSON.stringify(options)}`);
    }
  });

  it('accumulators survive v8 serialization', () => {
    const values = Array.from({ length: 2000 }, (_, i) => i % 900);
    for (const [name, options] of [
      ['count', { distinct: true }],
      ['sum', { distinct: true }],
      ['avg', {}],
      ['approx_count_distinct', {}],
      ['percentile', { params: [0.99] }],
    ] as [string, AggregateOptions][]) {
      const fn = aggregateFunction(name, options);
      const acc = fold(fn, values);
      const copy = deserialize(serialize(acc));
      assert.deepEqual(fn.result(fn.add(copy, 5000)), fn.result(fn.add(acc, 5000)), name);
    }
  });

  it('rejects unknown names and invalid call forms with CONFIG_INVALID', () => {
    const bad: [string, AggregateOptions][] = [
      ['median', {}],
      ['sum', { star: true }],
      ['count', { star: true, distinct: true }],
      ['first', { distinct: true }],
      ['percentile', {}],
      ['percentile', { params: [1.5] }],
      ['percentile_cont', { params: [-0.1] }],
      ['percentile_disc', { params: [Number.NaN] }],
      ['percentile', { params: ['0.5'] }],
      ['sum', { params: [1] }],
    ];
    for (const [name, options] of bad) {
      assert.throws(
        () => aggregateFunction(name, options),
        (err: unknown) => err instanceof SluiceError && err.code === 'CONFIG_INVALID',
        `${name} ${JSON.stringify(options)}`,
      );
    }
  });

  it('documents every function once', () => {
    const names = aggregateDocs.map((d) => d.name);
    assert.deepEqual(names, [
      'count',
      'sum',
      'avg',
      'min',
      'max',
      'first',
      'last',
      'approx_count_distinct',
      'percentile',
      'percentile_cont',
      'percentile_disc',
    ]);
    for (const d of aggregateDocs) {
      assert.ok(d.signature.startsWith(d.name));
      assert.ok(d.summary.length > 10);
      aggregateFunction(d.name, d.name.startsWith('percentile') ? { params: [0.5] } : {});
    }
  });
});
