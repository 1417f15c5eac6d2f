/**
 * The pattern step through the real engine (Job, memory source, late output, dead letters):
 * batch sizes 1, 7 and 1024 give the same outputs, late records and (per step) dead letters in
 * the same order, and a run crashed and restored from a checkpoint taken mid-pattern gives what
 * an uninterrupted run gives — for a pattern with quantifiers and relaxed contiguity, and one
 * with absent stages (notNext, notFollowedBy at the end), any contiguity and an alternation.
 */

import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import type { Row } from '../record.ts';
import {
  assertAccounting,
  assertSameMultiset,
  Harness,
  planFrom,
  runCrashedAndRestored,
  testRegistry,
} from '../runtime/engine-test-support.ts';
import { Job } from '../runtime/job.ts';
import { ManualClock, memoryChannel, memorySinkStore } from '../testing/index.ts';

const registry = testRegistry();
const h = new Harness();
afterEach(() => h.stopAll());

/** Records over a few minutes, three keys, some out of order, some late, some without a time. */
function input(seed: number, n = 700): Row[] {
  let x = seed;
  const next = () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
  const out: Row[] = [];
  let t = 1_700_000_000_000;
  for (let i = 0; i < n; i++) {
    t += Math.floor(next() * 1_000);
    const r: Row = { id: i, k: ['a', 'b', 'c'][Math.floor(next() * 3)], v: Math.floor(next() * 12) };
    const roll = next();
    if (roll < 0.05) r.ts = t - 60_000;
    else if (roll < 0.25) r.ts = t - Math.floor(next() * 4_000);
    else if (roll < 0.26) r.ts = 'never';
    else r.ts = t;
    out.push(r);
  }
  return out;
}

// Stage A fails on v = 3 (division by zero): such records are dead letters of the step.
const STEPS = {
  relaxed: `type: pattern
    key: [k]
    stages:
      - { name: A, where: "12 / (v - 3) > 2" }
      - { name: B, where: "v >= 8", quantifier: "+", contiguity: relaxed }
      - { name: C, where: "v < A.v", contiguity: relaxed }
    within: 20s
    timeouts: emit
    measures: { a: first(A.id), b_first: first(B.id), b_last: last(B.id), bs: count(B), c: C.id }`,
  extended: `type: pattern
    key: [k]
    stages:
      - { name: A, where: "12 / (v - 3) > 2" }
      - { name: N, where: "v = 0", absent: true }
      - { name: B, where: "v >= 8", contiguity: any }
      - { name: E, where: "v = 1", contiguity: relaxed, alternative: true }
      - { name: C, where: "v < A.v", contiguity: relaxed }
      - { name: M, where: "v = 11", contiguity: relaxed, absent: true }
    within: 20s
    timeouts: emit
    measures: { a: first(A.id), b: B.id, e: E.id, c: C.id }`,
};
type StepKind = keyof typeof STEPS;

let runs = 0;

function pipeline(name: string, batchSize: number, kind: StepKind): string {
  return `
name: ${name}
settings: { checkpoint: { interval: 0, dir: ./ckpt }, batch_size: ${batchSize} }
sources:
  in: { type: memory, channel: ${name}, event_time: { field: ts, max_out_of_orderness: 5s } }
steps:
  - id: funnel
    ${STEPS[kind]}
sinks:
  out: { type: memory, store: ${name}-out }
late_output: { type: memory, store: ${name}-late }
dead_letter: { type: memory, store: ${name}-dead }
`;
}

function outputsOf(name: string) {
  return {
    out: memorySinkStore(`${name}-out`).committed,
    late: memorySinkStore(`${name}-late`).committed,
    dead: memorySinkStore(`${name}-dead`).committed.map(({ failedAt: _, ...rest }) => rest),
  };
}

async function run(records: Row[], batchSize: number, kind: StepKind) {
  const name = `pattern-engine-${++runs}`;
  const channel = memoryChannel(name, ['p0']);
  const plan = planFrom(pipeline(name, batchSize, kind), await h.dir(), registry);
  const job = await Job.create(plan, { registry, clock: new ManualClock(0), tickInterval: 5 });
  const running = h.run(job);
  channel.push('p0', ...records);
  channel.end();
  const result = await running;
  assert.equal(result.status, 'completed');
  assertAccounting(result.metrics);
  return outputsOf(name);
}

/** The `relaxed` funnel with its timeouts on the side output, read by a sink and by a step. */
function sidePipeline(name: string, batchSize: number): string {
  return `
name: ${name}
settings: { checkpoint: { interval: 0, dir: ./ckpt }, batch_size: ${batchSize} }
sources:
  in: { type: memory, channel: ${name}, event_time: { field: ts, max_out_of_orderness: 5s } }
steps:
  - id: funnel
    ${STEPS.relaxed.replace('timeouts: emit', 'timeouts: side_output')}
  - id: stalled
    input: funnel.timeouts
    type: map
    fields: { stalled: "true" }
sinks:
  out: { type: memory, store: ${name}-out, input: funnel }
  timeouts: { type: memory, store: ${name}-timeouts, input: funnel.timeouts }
  marked: { type: memory, store: ${name}-stalled, input: stalled }
late_output: { type: memory, store: ${name}-late }
dead_letter: { type: memory, store: ${name}-dead }
`;
}

describe('pattern timeouts to the side output through the engine', () => {
  test('batch sizes 1, 7 and 1024 give what timeouts: emit gives, split by match', async () => {
    const records = input(42);
    const emitted = await run(records, 7, 'relaxed');
    const strip = ({ match: _, ...rest }: Row) => rest;
    const complete = emitted.out.filter((r) => r.match === 'complete').map(strip);
    const timedOut = emitted.out.filter((r) => r.match === 'timeout').map(strip);
    assert.ok(complete.length > 10 && timedOut.length > 0, `${complete.length} / ${timedOut.length}`);
    for (const size of [1, 7, 1024]) {
      const name = `pattern-engine-${++runs}`;
      const channel = memoryChannel(name, ['p0']);
      const plan = planFrom(sidePipeline(name, size), await h.dir(), registry);
      const job = await Job.create(plan, { registry, clock: new ManualClock(0), tickInterval: 5 });
      const running = h.run(job);
      channel.push('p0', ...records);
      channel.end();
      const result = await running;
      assert.equal(result.status, 'completed');
      assertAccounting(result.metrics);
      const got = outputsOf(name);
      assert.deepEqual(got.out, complete, `complete matches with batch size ${size}`);
      assert.deepEqual(
        memorySinkStore(`${name}-timeouts`).committed,
        timedOut,
        `timeouts, batch size ${size}`,
      );
      assert.deepEqual(
        memorySinkStore(`${name}-stalled`).committed,
        timedOut.map((r) => ({ ...r, stalled: true })),
        `the step reading the timeouts, batch size ${size}`,
      );
      assert.deepEqual(got.late, emitted.late, `late output with batch size ${size}`);
      const c = result.metrics.steps.funnel;
      assert.deepEqual(
        [c.results, c.side, c.unread],
        [complete.length + timedOut.length, timedOut.length, 0],
      );
    }
  });
});

for (const kind of Object.keys(STEPS) as StepKind[]) {
  describe(`pattern through the engine (${kind})`, () => {
    test('batch sizes 1, 7 and 1024 give the same outputs in the same order', async () => {
      const records = input(42);
      const one = await run(records, 1, kind);
      assert.ok(one.out.filter((r) => r.match === 'complete').length > 10, 'matches');
      assert.ok(
        one.out.some((r) => r.match === 'timeout'),
        'timeouts',
      );
      assert.ok(one.late.length > 10, 'late records');
      assert.ok(
        one.dead.some((d) => d.code === 'EXPR_DIVISION_BY_ZERO'),
        'dead letters of the step',
      );
      for (const size of [7, 1024]) {
        const other = await run(records, size, kind);
        assert.deepEqual(other.out, one.out, `results with batch size ${size}`);
        assert.deepEqual(other.late, one.late, `late output with batch size ${size}`);
        // Each step's dead letters in the same order: the source's and the step's interleave by
        // batch, since the step decides a record only once the watermark passes it.
        for (const step of ['in', 'funnel']) {
          assert.deepEqual(
            other.dead.filter((d) => d.step === step),
            one.dead.filter((d) => d.step === step),
            `dead letters of ${step} with batch size ${size}`,
          );
        }
      }
    });

    test('a run crashed and restored from a checkpoint taken mid-pattern gives the same results', async () => {
      const records = input(7);
      const whole = await run(records, 7, kind);
      const name = `pattern-engine-${++runs}`;
      const channel = memoryChannel(name, ['p0']);
      const plan = planFrom(pipeline(name, 7, kind), await h.dir(), registry);
      const result = await runCrashedAndRestored(h, registry, plan, channel, records, {
        checkpointAt: 350,
        crashAt: 450,
      });
      assert.equal(result.status, 'completed');
      assertAccounting(result.metrics);
      const got = outputsOf(name);
      assertSameMultiset(got.out, whole.out, 'results');
      assertSameMultiset(got.late, whole.late, 'late output');
      const noOffset = ({ offset: _, ...rest }: Row) => rest;
      assertSameMultiset(got.dead.map(noOffset), whole.dead.map(noOffset), 'dead letters');
    });
  });
}
