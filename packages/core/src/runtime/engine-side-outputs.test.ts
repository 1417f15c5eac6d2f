/**
 * Side outputs through the engine: a step's named output ports, read by steps and sinks as
 * `<step>.<port>`. A test step `split` sends records below a bound to its main output and the
 * rest to its side output `rest`; the `pattern` step sends timed-out partial matches to
 * `timeouts`. Checked: readers of a side output (a step and a sink), an unread side output
 * (dropped and counted), unknown ports refused at their line, the side output's own schema and
 * changelog mode, watermarks and late records downstream of a side output for batch sizes 1, 7
 * and 1024, and a crash and restore of a pipeline reading one.
 */

import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import Type from 'typebox';
import { sinkOf, sourceOf } from '../api/components.ts';
import { begin } from '../api/pattern.ts';
import { pipeline } from '../api/pipeline.ts';
import { SluiceError } from '../errors.ts';
import { resolvePlan } from '../plan/resolve.ts';
import type { Row } from '../record.ts';
import { defineStep, type Plugin } from '../spec.ts';
import { ManualClock, memoryChannel, memorySinkStore } from '../testing/index.ts';
import { memorySink, memorySource } from '../testing/memory.ts';
import {
  assertAccounting,
  assertSameMultiset,
  Harness,
  planFrom,
  runCrashedAndRestored,
  testRegistry,
} from './engine-test-support.ts';
import { Job } from './job.ts';

/** Records whose `v` is below `below` go to the main output, the others to the side output `rest`. */
const splitStep = defineStep({
  type: 'split',
  summary: 'Test step: records below a bound to the main output, the rest to `rest`.',
  config: Type.Object({ below: Type.Number() }, { additionalProperties: false }),
  changelog: () => ({ consumes: ['append', 'retract'], produces: 'input' }),
  schema: (_config, inputs) => inputs[0],
  sideOutputs: [
    {
      name: 'rest',
      description: 'the records at or above the bound',
      produces: 'input',
      schema: (inputs) => inputs[0],
    },
    { name: 'changes', description: 'never emitted; declared as a retract changelog', produces: 'retract' },
  ],
  create(config) {
    return {
      processBatch(batch, out) {
        const below: number[] = [];
        const rest: number[] = [];
        batch.records.forEach((r, i) => {
          (Number(r.v) < config.below ? below : rest).push(i);
        });
        const pick = (idx: number[]) => ({
          records: idx.map((i) => batch.records[i]),
          times: idx.map((i) => batch.times[i]),
          ...(batch.watermarks ? { watermarks: idx.map((i) => batch.watermarks![i]) } : {}),
        });
        if (below.length > 0) out.emit(pick(below));
        if (rest.length > 0) out.emitTo!('rest', pick(rest));
      },
    };
  },
});
const plugin: Plugin = { name: 'side-output-test', components: [splitStep] };
const registry = testRegistry(plugin);
const h = new Harness();
afterEach(() => h.stopAll());

let runs = 0;

/** Records over a few minutes, some out of order, some late (a minute behind), `v` in 0..11. */
function input(seed: number, n = 600): Row[] {
  let x = seed;
  const next = () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
  const out: Row[] = [];
  let t = 1_700_000_000_000;
  for (let i = 0; i < n; i++) {
    t += Math.floor(next() * 1_000);
    const roll = next();
    const ts = roll < 0.05 ? t - 60_000 : roll < 0.25 ? t - Math.floor(next() * 4_000) : t;
    out.push({ id: i, k: ['a', 'b', 'c'][Math.floor(next() * 3)], v: Math.floor(next() * 12), ts });
  }
  return out;
}

function splitPipeline(name: string, batchSize: number, readers = true): string {
  return `
name: ${name}
settings: { checkpoint: { interval: 0, dir: ./ckpt }, batch_size: ${batchSize} }
sources:
  in: { type: memory, channel: ${name}, event_time: { field: ts, max_out_of_orderness: 5s } }
steps:
  - id: split
    type: split
    below: 4
${
  readers
    ? `  - id: counts
    input: split.rest
    type: aggregate
    key: [k]
    window: { type: tumbling, size: 10s }
    fields: { n: count(*), high: max(v) }
sinks:
  low: { type: memory, store: ${name}-low, input: split }
  rest: { type: memory, store: ${name}-rest, input: split.rest }
  windows: { type: memory, store: ${name}-counts, input: counts }`
    : `sinks:
  low: { type: memory, store: ${name}-low, input: split }`
}
late_output: { type: memory, store: ${name}-late }
`;
}

function storesOf(name: string) {
  const of = (s: string) => memorySinkStore(`${name}-${s}`).committed;
  return { low: of('low'), rest: of('rest'), counts: of('counts'), late: of('late') };
}

async function runSplit(records: Row[], batchSize: number, readers = true) {
  const name = `side-outputs-${++runs}`;
  const channel = memoryChannel(name, ['p0']);
  const plan = planFrom(splitPipeline(name, batchSize, readers), await h.dir(), registry);
  const job = await Job.create(plan, { registry, clock: new ManualClock(0), tickInterval: 5 });
  const running = h.run(job);
  channel.push('p0', ...records);
  channel.end();
  const result = await running;
  assert.equal(result.status, 'completed');
  assertAccounting(result.metrics);
  return { ...storesOf(name), metrics: result.metrics };
}

describe('side outputs through the engine', () => {
  test('a side output read by a sink and by a windowed step; the same for batch sizes 1, 7 and 1024', async () => {
    const records = input(11);
    const one = await runSplit(records, 1);
    assert.deepEqual(
      one.low.map((r) => r.id),
      records.filter((r) => Number(r.v) < 4).map((r) => r.id),
    );
    assert.deepEqual(
      one.rest.map((r) => r.id),
      records.filter((r) => Number(r.v) >= 4).map((r) => r.id),
    );
    // The window after the side output meets the split's watermark: late records of the rest
    // (a minute behind) are late there, and only those of the rest.
    const late = one.late.map((r) => r.payload ?? r);
    assert.ok(late.length > 5, 'late records downstream of the side output');
    assert.ok(late.every((r) => Number((r as Row).v) >= 4));
    const counted = one.counts.reduce((sum, r) => sum + Number(r.n), 0);
    assert.equal(counted + late.length, one.rest.length, 'each record of the rest is counted or late');
    const split = one.metrics.steps.split;
    assert.equal(split.out, records.length, 'records sent to the side output are the step’s output');
    assert.equal(split.side, one.rest.length);
    assert.equal(split.unread, 0);
    assert.equal(one.metrics.steps.counts.late, late.length);
    for (const size of [7, 1024]) {
      const other = await runSplit(records, size);
      for (const s of ['low', 'rest', 'counts', 'late'] as const)
        assert.deepEqual(other[s], one[s], `${s} with batch size ${size}`);
    }
  });

  test('a step reading a step’s main and side output (a diamond) meets each record at its own watermark', async () => {
    // union(split, split.rest) → window: the same windows and late records as the window right
    // after the source, for every batch size: the union merges the two portions by watermark.
    const text = (name: string, batchSize: number, diamond: boolean) => `
name: ${name}
settings: { checkpoint: { interval: 0, dir: ./ckpt }, batch_size: ${batchSize} }
sources:
  in: { type: memory, channel: ${name}, event_time: { field: ts, max_out_of_orderness: 5s } }
steps:
${
  diamond
    ? `  - id: split
    type: split
    below: 4
  - id: both
    type: union
    input: [split, split.rest]
`
    : ''
}  - id: counts
    type: aggregate
    key: [k]
    window: { type: tumbling, size: 10s }
    fields: { n: count(*), ids: sum(id) }
sinks:
  out: { type: memory, store: ${name}-counts }
late_output: { type: memory, store: ${name}-late }
`;
    const records = input(23);
    const go = async (batchSize: number, diamond: boolean) => {
      const name = `side-outputs-${++runs}`;
      const channel = memoryChannel(name, ['p0']);
      const plan = planFrom(text(name, batchSize, diamond), await h.dir(), registry);
      const job = await Job.create(plan, { registry, clock: new ManualClock(0), tickInterval: 5 });
      const running = h.run(job);
      channel.push('p0', ...records);
      channel.end();
      const result = await running;
      assertAccounting(result.metrics);
      return storesOf(name);
    };
    const direct = await go(1, false);
    assert.ok(direct.late.length > 5);
    for (const size of [1, 7, 1024]) {
      const got = await go(size, true);
      assertSameMultiset(got.counts, direct.counts, `windows with batch size ${size}`);
      assertSameMultiset(got.late, direct.late, `late records with batch size ${size}`);
    }
  });

  test('a join reads a side output by its port name', async () => {
    const name = `side-outputs-${++runs}`;
    const channel = memoryChannel(name, ['p0']);
    const yaml = `
name: ${name}
settings: { checkpoint: { interval: 0, dir: ./ckpt }, batch_size: 7 }
sources:
  in: { type: memory, channel: ${name}, event_time: { field: ts, max_out_of_orderness: 0s } }
steps:
  - { id: split, type: split, below: 4 }
  - id: pairs
    type: join
    input: [split, split.rest]
    on: split.k = rest.k
    window: { type: tumbling, size: 10s }
    fields: { k: split.k, low: split.v, high: rest.v }
sinks:
  out: { type: memory, store: ${name}-pairs, input: pairs }
`;
    const plan = planFrom(yaml, await h.dir(), registry);
    const job = await Job.create(plan, { registry, clock: new ManualClock(0), tickInterval: 5 });
    const running = h.run(job);
    // In time order, so that none is late: the pairs are those of each window and key.
    const records: Row[] = input(11, 300).map((r, i) => ({ ...r, ts: 1_700_000_000_000 + i * 250 }));
    channel.push('p0', ...records);
    channel.end();
    assert.equal((await running).status, 'completed');
    const expected: Row[] = [];
    for (const a of records)
      for (const b of records)
        if (
          a.k === b.k &&
          Number(a.v) < 4 &&
          Number(b.v) >= 4 &&
          Math.floor(Number(a.ts) / 10_000) === Math.floor(Number(b.ts) / 10_000)
        )
          expected.push({ k: a.k, low: a.v, high: b.v });
    const got = memorySinkStore(`${name}-pairs`).committed.map((r) => ({ k: r.k, low: r.low, high: r.high }));
    assertSameMultiset(got, expected, 'pairs');
    assert.ok(expected.length > 50);
  });

  test('a join of two inputs read by one name is refused, saying how to rename one', () => {
    const yaml = `
name: clash
sources:
  in: { type: memory, channel: clash }
steps:
  - { id: split, type: split, below: 4 }
  - { id: rest, type: filter, input: in, where: 'v > 0' }
  - { id: j, type: join, input: [rest, split.rest], on: rest.k = rest.k, window: { type: tumbling, size: 10s } }
sinks:
  out: { type: memory, store: clash, input: j }
`;
    assert.throws(
      () => resolvePlan(planFrom(yaml, '/tmp', registry), registry),
      /both inputs of the join are read as 'rest'.*put a map step before one of them/,
    );
  });

  test('a side output nobody reads is dropped and counted', async () => {
    const records = input(5, 200);
    const r = await runSplit(records, 7, false);
    const rest = records.filter((x) => Number(x.v) >= 4).length;
    assert.equal(r.low.length, records.length - rest);
    assert.deepEqual(
      { side: r.metrics.steps.split.side, unread: r.metrics.steps.split.unread, total: r.metrics.unread },
      { side: rest, unread: rest, total: rest },
    );
  });

  test('a pipeline reading a side output resumes from a checkpoint with the same results', async () => {
    const records = input(3);
    const whole = await runSplit(records, 7);
    const name = `side-outputs-${++runs}`;
    const channel = memoryChannel(name, ['p0']);
    const plan = planFrom(splitPipeline(name, 7), await h.dir(), registry);
    const result = await runCrashedAndRestored(h, registry, plan, channel, records, {
      checkpointAt: 300,
      crashAt: 420,
    });
    assert.equal(result.status, 'completed');
    assertAccounting(result.metrics);
    const got = storesOf(name);
    for (const s of ['low', 'rest', 'counts', 'late'] as const) assertSameMultiset(got[s], whole[s], s);
    assert.equal(
      result.metrics.steps.split.side,
      whole.metrics.steps.split.side,
      'counters survive the restore',
    );
  });
});

describe('side outputs in the plan', () => {
  const yaml = (input: string, extra = '') => `
name: ports
sources:
  in: { type: memory, channel: ports }
steps:
  - id: split
    type: split
    below: 4
  - id: detect
    input: in
    type: pattern
    key: [k]
    stages: [{ name: A, where: "v = 1" }]
    ${extra}
sinks:
  out: { type: memory, store: ports, input: ${input} }
`;
  const refused = (text: string, pattern: RegExp, line: number) => {
    assert.throws(
      () => resolvePlan(planFrom(text, '/tmp', registry), registry),
      (err: unknown) => {
        assert.ok(err instanceof SluiceError, String(err));
        assert.match(err.message, pattern);
        assert.equal(err.code, 'PLAN_MISSING_INPUT');
        assert.equal(err.line, line, `line of ${err.message}`);
        return true;
      },
    );
  };

  test('an unknown port is refused at its line, naming the step’s ports and a suggestion', () => {
    refused(
      yaml('split.rset'),
      /step 'split' \(split\) has the side outputs 'split.rest', 'split.changes' — did you mean 'split.rest'\?/,
      16,
    );
    refused(yaml('in.rest'), /'in' is a source: a source has no side outputs/, 16);
    refused(
      yaml('detect.timeouts'),
      /step 'detect' \(pattern\) has no side outputs with this config \(it can have 'timeouts': with `timeouts: side_output`/,
      16,
    );
    refused(yaml('nope.rest'), /no source or step has id 'nope'/, 16);
    resolvePlan(planFrom(yaml('detect.timeouts', 'timeouts: side_output'), '/tmp', registry), registry);
  });

  test('a side output has its own changelog mode', () => {
    assert.throws(
      () => resolvePlan(planFrom(yaml('split.changes'), '/tmp', registry), registry),
      (err: unknown) =>
        err instanceof SluiceError &&
        err.code === 'PLAN_CHANGELOG_MISMATCH' &&
        /sink 'out' \(memory\) takes only appends, but its input 'split.changes' \(made updating by step 'split'\) is a retract changelog/.test(
          err.message,
        ),
    );
    // The main output and `rest` give what they take: appends here.
    resolvePlan(planFrom(yaml('split.rest'), '/tmp', registry), registry);
  });

  test('a side output has its own schema, which the steps reading it are checked against', () => {
    const text = (where: string) => `
name: schemas
sources:
  in: { type: memory, channel: schemas }
steps:
  - id: shape
    type: map
    select: [k, v]
  - id: split
    type: split
    below: 4
  - id: high
    input: split.rest
    type: filter
    where: ${where}
sinks:
  out: { type: memory, store: schemas, input: high }
`;
    const plan = resolvePlan(planFrom(text('v > 8'), '/tmp', registry), registry);
    assert.deepEqual(plan.schemas?.['split.rest'], plan.schemas?.shape);
    assert.deepEqual(
      plan.schemas?.['split.changes'],
      { fields: [], open: true },
      'a port without a schema rule: unknown',
    );
    assert.throws(
      () => resolvePlan(planFrom(text('w > 8'), '/tmp', registry), registry),
      (err: unknown) =>
        err instanceof SluiceError && err.code === 'PLAN_TYPE_ERROR' && /'w'/.test(err.message),
    );
  });

  test('the TypeScript API reads a side output with .side(port)', () => {
    const memory = sourceOf(memorySource);
    const collect = sinkOf(memorySink);
    const p = pipeline('ts-ports');
    const split = p.from('in', memory<{ v: number }>({ channel: 'ts-ports' })).filter('f', 'v > 0');
    const timeouts = split
      .keyBy('by', (r) => String(r.v))
      .pattern('detect', begin('A').where('v = 1').next('B').where('v = 2').within('1m'), {
        timeouts: 'side_output',
      })
      .side('timeouts');
    timeouts.filter('late_ones', 'match_end > 0').to('out', collect({ store: 'ts-ports' }));
    const { plan } = p.build();
    assert.deepEqual(plan.steps.find((s) => s.id === 'late_ones')?.inputs, ['detect.timeouts']);
  });
});
