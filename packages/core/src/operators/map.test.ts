/**
 * The `map` step run in a job: computed fields, `drop`, `select`, and what its dead letters say.
 */

import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import type { Row } from '../record.ts';
import { assertAccounting, Harness, planFrom, testRegistry } from '../runtime/engine-test-support.ts';
import { Job } from '../runtime/job.ts';
import { memoryChannel, memorySinkStore } from '../testing/index.ts';

const registry = testRegistry();
const h = new Harness();
afterEach(() => h.stopAll());

let runs = 0;

/** Runs `records` through one map step configured by `options` (YAML lines under the step). */
async function runMap(options: string, records: Row[]) {
  const dir = await h.dir();
  const name = `map-${++runs}`;
  const channel = memoryChannel(name, ['p0']);
  const plan = planFrom(
    `
name: ${name}
settings: { checkpoint: { interval: 0, dir: ./ckpt } }
sources:
  in: { type: memory, channel: ${name}, event_time: { field: ts } }
steps:
  - id: shaped
    type: map
${options
  .trim()
  .split('\n')
  .map((line) => `    ${line}`)
  .join('\n')}
sinks:
  out: { type: memory, store: ${name}-out }
dead_letter: { type: memory, store: ${name}-dead }
`,
    dir,
    registry,
  );
  const job = await Job.create(plan, { registry });
  const running = h.run(job);
  channel.push('p0', ...records);
  channel.end();
  const result = await running;
  assert.equal(result.status, 'completed');
  assertAccounting(result.metrics);
  return {
    out: memorySinkStore(`${name}-out`).committed,
    dead: memorySinkStore(`${name}-dead`).committed as unknown as {
      step: string;
      code: string;
      message: string;
    }[],
  };
}

describe('map', () => {
  test('a dead letter names the field whose expression failed', async () => {
    const { out, dead } = await runMap("fields:\n  amount: CAST(t AS DOUBLE)\n  n: '1'", [
      { ts: 1, t: '2.5' },
      { ts: 2, t: '' },
    ]);
    assert.deepEqual(out, [{ ts: 1, t: '2.5', amount: 2.5, n: 1 }]);
    assert.equal(dead.length, 1);
    assert.equal(dead[0].step, 'shaped');
    assert.equal(dead[0].code, 'EXPR_EVAL');
    assert.match(
      dead[0].message,
      /^fields\.amount: cannot cast string '' to DOUBLE; empty text is not a number — write CAST\(nullif\(x, ''\) AS DOUBLE\) to make it NULL$/,
    );
  });
});
