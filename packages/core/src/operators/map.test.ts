/**
 * The `map` step run in a job: computed fields, `drop`, `select`, and what its dead letters say.
 */

import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { SluiceError } from '../errors.ts';
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

  test('select keeps only the named input fields, in their order, then the computed ones', async () => {
    const { out } = await runMap('select: [region, order_id]\nfields: { usd: amount * 2 }', [
      { ts: 1, order_id: 'a', region: 'eu', amount: 5, note: 'x' },
      { ts: 2, order_id: 'b', region: 'us', amount: 1, note: 'y', added_later: true },
    ]);
    assert.deepEqual(out, [
      { region: 'eu', order_id: 'a', usd: 10 },
      { region: 'us', order_id: 'b', usd: 2 },
    ]);
    assert.deepEqual(Object.keys(out[0]), ['region', 'order_id', 'usd'], 'selected first, in order');
  });

  test('select: [] keeps the computed fields only', async () => {
    const { out } = await runMap(
      "select: []\nfields:\n  id: order_id\n  label: concat(region, '-', order_id)",
      [{ ts: 1, order_id: 'a', region: 'eu' }],
    );
    assert.deepEqual(out, [{ id: 'a', label: 'eu-a' }]);
  });

  test('a selected field the record lacks sends it to dead letters; a NULL one is kept', async () => {
    const { out, dead } = await runMap('select: [id, region]', [
      { ts: 1, id: 1, region: 'eu' },
      { ts: 2, id: 2 },
      { ts: 3, id: 3, region: null },
    ]);
    assert.deepEqual(out, [
      { id: 1, region: 'eu' },
      { id: 3, region: null },
    ]);
    assert.equal(dead.length, 1);
    assert.equal(dead[0].code, 'EXPR_MISSING_FIELD');
    assert.match(dead[0].message, /^select\[1\]: field 'region' is missing from the record; /);
    assert.match(dead[0].message, /coalesce\(region, NULL\)/);
  });

  describe('refuses combinations that make no sense', () => {
    const problems: [string, string, number, RegExp][] = [
      [
        'select: [a]\ndrop: [b]',
        'drop',
        7,
        /select keeps only the fields it names; drop is not needed with it/,
      ],
      [
        'select: [a, total]\nfields: { total: a * 2 }',
        'select[1]',
        6,
        /'total' is both selected and computed/,
      ],
      ['select: []', 'select', 6, /select: \[\] keeps no input field and fields computes none/],
      ['select: [a, b, a]', 'select[2]', 6, /select lists 'a' twice/],
    ];
    for (const [options, path, line, message] of problems) {
      test(options.replaceAll('\n', ', '), async () => {
        const dir = await h.dir();
        const plan = planFrom(
          `name: refused\nsources: { in: { type: memory, channel: none } }\nsteps:\n  - id: shaped\n    type: map\n${options
            .split('\n')
            .map((line) => `    ${line}`)
            .join('\n')}\nsinks: { out: { type: memory, store: none } }\n`,
          dir,
          registry,
        );
        await assert.rejects(Job.validate(plan, { registry }), (err: unknown) => {
          assert.ok(err instanceof SluiceError);
          assert.equal(err.code, 'CONFIG_INVALID');
          assert.equal(err.step, 'shaped');
          assert.equal(err.path, path);
          assert.match(err.message, message);
          assert.equal(err.line, line, 'located in the file');
          return true;
        });
      });
    }
  });
});
