import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseExpression } from '../expr/index.ts';
import { compileAggregateFields } from '../operators/aggregate-step.ts';
import { ManualClock } from '../testing/index.ts';
import { percentile, percentileCont, percentileDisc } from './aggregates.ts';

test('percentile helpers write the calls of PostgreSQL’s two definitions', () => {
  const fields = {
    p: percentile('amount', 0.95).expression,
    cont: percentileCont('amount', 0.95).expression,
    disc: percentileDisc('amount', 0.95).expression,
  };
  assert.deepEqual(fields, {
    p: 'percentile("amount", 0.95)',
    cont: 'percentile_cont("amount", 0.95)',
    disc: 'percentile_disc("amount", 0.95)',
  });
  const compiled = compileAggregateFields(fields, {
    step: 's',
    clock: new ManualClock(0),
    keyFields: [],
    expression: (path) => parseExpression(fields[path.slice('fields.'.length) as keyof typeof fields]),
  });
  const results = compiled.map((f) => {
    if (!('fn' in f) || !f.arg) return assert.fail('a single aggregate call');
    let acc = f.fn.create();
    for (const amount of [1, 2, 3, 4]) acc = f.fn.add(acc, f.arg({ amount }));
    return f.fn.result(acc);
  });
  assert.deepEqual(results, [3.8499999999999996, 3.8499999999999996, 4]);
});
