import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runHostileInput } from './hostile-input.fault.ts';

test('hostile input with a kill -9: no good record lost or doubled, every bad one a dead letter', async () => {
  const { figures, input, deadIds, wrongResults } = await runHostileInput(2_000);
  assert.equal(figures.acknowledged, input.good.length);
  assert.equal(figures.lost, 0, figures.note);
  assert.equal(figures.duplicates, 0, figures.note);
  assert.equal(figures.distinct, input.good.length);
  assert.equal(wrongResults, 0, 'each result holds its record’s first(v) and regex result');
  assert.deepEqual([...deadIds].sort(), [...input.bad.keys()].sort(), 'each bad line is one dead letter');
});
