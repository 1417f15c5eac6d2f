/**
 * The final line's filtered count: a total for a pipeline without forks, per step for one whose
 * branches each filter the same records.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { builtins, type JobMetrics, parsePipelineYaml, Registry } from '@sluice/core';
import { filteredSummary } from './summary.ts';

const registry = new Registry([builtins]);

const plan = (steps: string, sinks: string) =>
  parsePipelineYaml(
    `name: p\nsources:\n  in: { type: stdin }\nsteps:\n${steps}\nsinks:\n${sinks}\n`,
    '/tmp/p.yaml',
    { registry },
  );

const steps = (filtered: { [id: string]: number }): JobMetrics['steps'] =>
  Object.fromEntries(
    Object.entries(filtered).map(([id, n]) => [
      id,
      { in: 10, out: 10 - n, filtered: n, dead: 0, late: 0, results: 0, side: 0, unread: 0 },
    ]),
  );

test('one path: the total', () => {
  const p = plan(
    "  - { id: a, type: filter, where: 'x > 1' }\n  - { id: b, type: filter, where: 'x > 2' }",
    '  out: { type: stdout, input: b }',
  );
  const m = { filtered: 7, steps: steps({ a: 4, b: 3 }) };
  assert.equal(filteredSummary(p, m), 7);
});

test('a fork: per step, so that records filtered on two branches are not summed', () => {
  const p = plan(
    "  - { id: a, type: filter, input: in, where: 'x > 1' }\n  - { id: b, type: filter, input: in, where: 'x < 1' }",
    '  one: { type: stdout, input: a }\n  two: { type: stdout, input: b }',
  );
  const m = { filtered: 16, steps: steps({ a: 6, b: 10 }) };
  assert.deepEqual(filteredSummary(p, m), { a: 6, b: 10 });
});
