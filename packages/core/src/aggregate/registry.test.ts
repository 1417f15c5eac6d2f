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

  it('sum, avg ignore NULL and non-numeric values and take numeric strings and bigints', () => {
    assert.equal(run('sum', mixed), 31);
    assert.equal(run('sum', ['2.5', 2n, true, {}, '', 'abc', Number.NaN]), 4.5);
    assert.equal(run('sum', [null, 'x']), null);
    assert.equal(run('avg', [1, 2, null, 6]), 3);
    assert.equal(run('avg', [null]), null);
  });

  it('sum and avg DISTINCT see each value once', () => {
    assert.equal(run('sum', [1, 1, 2, 2, 3, null], { distinct: true }), 6);
    assert.equal(run('avg', [1, 1, 1, 4], { distinct: true }), 2.5);
  });

  it('min and max order numbers and strings, numbers first', () => {
    assert.equal(run('min', mixed), 1);
    assert.equal(run('max', [3, 9, 2]), 9);
    assert.equal(run('min', ['pear', 'apple', 'fig']), 'apple');
    assert.equal(run('max', ['pear', 'apple', 'fig']), 'pear');
    assert.equal(run('max', [5, 'a', 7]), 'a');
    assert.equal(run('min', [5, 'a', 7]), 5);
    assert.equal(run('min', [null, Number.NaN, true]), null);
    assert.equal(run('max', [1, 2], { distinct: true }), 2);
  });

  it('first and last take the first and last non-null value', () => {
    assert.equal(run('first', [null, 'a', 'b', null]), 'a');
    assert.equal(run('last', [null, 'a', 'b', null]), 'b');
    assert.equal(run('first', []), null);
    assert.equal(run('last', [undefined]), null);
  });

  it('percentile reads a quantile', () => {
    const values = Array.from({ length: 101 }, (_, i) => i);
    const p50 = run('percentile', values, { params: [0.5] }) as number;
    assert.ok(Math.abs(p50 - 50) <= 0.5, `p50 ${p50}`);
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
      ['percentile', { params: [1] }],
      ['percentile', { params: [0] }],
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
    ]);
    for (const d of aggregateDocs) {
      assert.ok(d.signature.startsWith(d.name));
      assert.ok(d.summary.length > 10);
      aggregateFunction(d.name, d.name === 'percentile' ? { params: [0.5] } : {});
    }
  });
});
