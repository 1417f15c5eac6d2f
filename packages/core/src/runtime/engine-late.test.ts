/**
 * Engine semantics: records too late for their window go where `on_late` says — the late output,
 * the dead letters (code LATE_RECORD, with the step, payload, event time and source
 * coordinates), or nowhere (counted in `metrics.late` only); within `allowed_lateness` a late
 * record updates its window's fired result (a retract changelog: the sink needs `changelog`).
 */

import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { INSERT, type Row, UPDATE_AFTER, UPDATE_BEFORE } from '../record.ts';
import { ManualClock, memoryChannel, memorySinkStore } from '../testing/index.ts';
import { assertAccounting, Harness, planFrom, testRegistry, waitFor } from './engine-test-support.ts';
import { Job } from './job.ts';

const registry = testRegistry();
const h = new Harness();
afterEach(() => h.stopAll());

let runs = 0;

interface LateCase {
  onLate?: 'late_output' | 'dead_letter' | 'drop';
  allowedLateness?: string;
  lateOutput: boolean;
  deadLetter: boolean;
}

/**
 * One partition, no out-of-orderness, tumbling 100 ms windows. Each entry of `steps` is pushed
 * and read before the next, so the watermark after each is exactly the greatest time so far − 1.
 */
async function runLate(c: LateCase, steps: Row[][]) {
  const dir = await h.dir();
  const name = `late-${++runs}`;
  const channel = memoryChannel(name, ['p0']);
  const onLate = c.onLate ? `\n    on_late: ${c.onLate}` : '';
  const lateness = c.allowedLateness ? `\n    allowed_lateness: ${c.allowedLateness}` : '';
  const plan = planFrom(
    `
name: ${name}
settings: { checkpoint: { interval: 0, dir: ./ckpt } }
sources:
  in: { type: memory, channel: ${name}, event_time: { field: ts } }
steps:
  - id: agg
    type: aggregate
    key: [k]
    window: { type: tumbling, size: 100ms }
    fields: { n: count(*), total: sum(v) }${onLate}${lateness}
sinks:
  out: { type: memory, store: ${name}-out${c.allowedLateness ? ', changelog: true' : ''} }
${c.lateOutput ? `late_output: { type: memory, store: ${name}-late }` : ''}
${c.deadLetter ? `dead_letter: { type: memory, store: ${name}-dead }` : ''}
`,
    dir,
    registry,
  );
  const clock = new ManualClock(1_000_000);
  const job = await Job.create(plan, { registry, clock, tickInterval: 5 });
  const running = h.run(job);
  let pushed = 0;
  for (const records of steps) {
    channel.push('p0', ...records);
    pushed += records.length;
    await waitFor(`${pushed} records read`, () => job.metrics().recordsIn === pushed);
  }
  channel.end();
  const result = await running;
  assert.equal(result.status, 'completed');
  assertAccounting(result.metrics, 'agg');
  return {
    result,
    out: memorySinkStore(`${name}-out`).committed,
    written: memorySinkStore(`${name}-out`).written,
    late: memorySinkStore(`${name}-late`).committed,
    dead: memorySinkStore(`${name}-dead`).committed,
    now: clock.now(),
  };
}

const lateRecord = { k: 'a', ts: 50, v: 8 };
/** [0, 100) fires when a@250 is read; a@50 then comes too late for it. */
const input: Row[][] = [
  [
    { k: 'a', ts: 10, v: 1 },
    { k: 'a', ts: 20, v: 2 },
  ],
  [{ k: 'a', ts: 250, v: 4 }],
  [lateRecord],
];
const onTimeResults = [
  { k: 'a', window_start: 0, window_end: 100, n: 2, total: 3 },
  { k: 'a', window_start: 200, window_end: 300, n: 1, total: 4 },
];

describe('late records', () => {
  test('on_late: late_output sends the record, unchanged, to the late output', async () => {
    const r = await runLate({ onLate: 'late_output', lateOutput: true, deadLetter: true }, input);
    assert.deepEqual(r.out, onTimeResults);
    assert.deepEqual(r.late, [lateRecord]);
    assert.deepEqual(r.dead, []);
    assert.equal(r.result.metrics.late, 1);
    assert.equal(r.result.metrics.steps.agg.late, 1);
    assert.equal(r.result.metrics.deadLetters, 0);
    // What the outputs wrote is in the metrics too.
    assert.deepEqual(r.result.metrics.outputs, {
      $dead_letter: { written: 0, rejected: 0 },
      $late_output: { written: 1, rejected: 0 },
    });
  });

  test('on_late: dead_letter makes a LATE_RECORD dead letter with step, payload, time and origin', async () => {
    const r = await runLate({ onLate: 'dead_letter', lateOutput: true, deadLetter: true }, input);
    assert.deepEqual(r.out, onTimeResults);
    assert.deepEqual(r.late, []);
    assert.equal(r.dead.length, 1);
    const { message, ...letter } = r.dead[0];
    assert.deepEqual(letter, {
      step: 'agg',
      code: 'LATE_RECORD',
      payload: lateRecord,
      source: 'in',
      partition: 'p0',
      offset: '2:0',
      eventTime: 50,
      failedAt: r.now,
    });
    assert.match(String(message), /record time 50 is too late: the watermark 249/);
    assert.deepEqual(r.result.metrics.outputs, {
      $dead_letter: { written: 1, rejected: 0 },
      $late_output: { written: 0, rejected: 0 },
    });
    // A late record is counted as late, not as a dead letter, even when it lands there.
    assert.equal(r.result.metrics.late, 1);
    assert.equal(r.result.metrics.deadLetters, 0);
  });

  test('the default (late_output) falls back to dead letters when the pipeline has no late output', async () => {
    const r = await runLate({ lateOutput: false, deadLetter: true }, input);
    assert.deepEqual(r.out, onTimeResults);
    assert.deepEqual(
      r.dead.map((d) => [d.code, d.step, d.payload]),
      [['LATE_RECORD', 'agg', lateRecord]],
    );
    assert.equal(r.result.metrics.late, 1);
  });

  test('on_late: drop counts the record in metrics.late and sends it nowhere', async () => {
    const r = await runLate({ onLate: 'drop', lateOutput: true, deadLetter: true }, input);
    assert.deepEqual(r.out, onTimeResults);
    assert.deepEqual(r.late, []);
    assert.deepEqual(r.dead, []);
    assert.equal(r.result.metrics.late, 1);
    assert.equal(r.result.metrics.deadLetters, 0);
    assert.equal(r.result.metrics.recordsIn, 4);
    assert.equal(r.result.metrics.steps.agg.out, 3);
  });

  test('allowed_lateness: a late record within it updates the fired result; after it, it is late', async () => {
    const r = await runLate(
      { onLate: 'late_output', allowedLateness: '200ms', lateOutput: true, deadLetter: true },
      [
        ...input,
        // wm 419: [0, 100) is dropped (99 + 200 ≤ 419) and [200, 300) fires.
        [{ k: 'a', ts: 420, v: 16 }],
        // Too late now, even with the allowed lateness.
        [{ k: 'a', ts: 60, v: 32 }],
        // [400, 500) is still open (fires at end of input) and [200, 300) takes late records.
        [{ k: 'a', ts: 299, v: 64 }],
      ],
    );
    // A retract changelog: each late change retracts the result the window emitted before.
    const changes = [
      [INSERT, { k: 'a', window_start: 0, window_end: 100, n: 2, total: 3 }],
      [UPDATE_BEFORE, { k: 'a', window_start: 0, window_end: 100, n: 2, total: 3 }],
      [UPDATE_AFTER, { k: 'a', window_start: 0, window_end: 100, n: 3, total: 11 }],
      [INSERT, { k: 'a', window_start: 200, window_end: 300, n: 1, total: 4 }],
      [UPDATE_BEFORE, { k: 'a', window_start: 200, window_end: 300, n: 1, total: 4 }],
      [UPDATE_AFTER, { k: 'a', window_start: 200, window_end: 300, n: 2, total: 68 }],
      [INSERT, { k: 'a', window_start: 400, window_end: 500, n: 1, total: 16 }],
    ] as const;
    assert.deepEqual(
      r.out,
      changes.map(([, row]) => row),
    );
    assert.deepEqual(
      r.written.map((w) => [w.kind, w.record]),
      changes,
    );
    assert.deepEqual(r.late, [{ k: 'a', ts: 60, v: 32 }]);
    assert.deepEqual(r.dead, []);
    assert.equal(r.result.metrics.late, 1);
    assert.equal(r.result.metrics.steps.agg.out, 6);
    assert.equal(r.result.metrics.steps.agg.results, 7);
  });
});
