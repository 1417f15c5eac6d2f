/**
 * Engine semantics: for one partition, results, late output and dead letters are a function of
 * the input alone. Every window type, allowed lateness and `dedupe` give the same outputs, in the
 * same order, with batch sizes 1, 7 and 1024; a run crashed and restarted from a checkpoint makes
 * the same late decisions as an uninterrupted one; and the late decisions match an independent
 * computation of the watermark each record met.
 */

import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { INSERT, type Row, type RowKind, UPDATE_BEFORE } from '../record.ts';
import { ManualClock, memoryChannel, memorySinkStore } from '../testing/index.ts';
import {
  assertAccounting,
  assertSameMultiset,
  Harness,
  planFrom,
  runCrashedAndRestored,
  testRegistry,
  watermarksBefore,
} from './engine-test-support.ts';
import { Job } from './job.ts';

const registry = testRegistry();
const h = new Harness();
afterEach(() => h.stopAll());

const BOUND = 5_000;

/**
 * Orders over about ten minutes of event time, one partition: mostly in order, some up to 4 s out
 * of order, one in twenty about three minutes behind, a few without a time (dead letters at the
 * source) and a few with `v = 13` (dropped by the filter in front of the stateful step — their
 * times still move the watermark).
 */
function input(seed: number, n = 700): Row[] {
  let x = seed;
  const next = () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
  const out: Row[] = [];
  let t = 1_700_000_000_000;
  for (let i = 0; i < n; i++) {
    t += Math.floor(next() * 1_700);
    const r: Row = { id: i, k: ['a', 'b', 'c'][Math.floor(next() * 3)], v: Math.floor(next() * 20) };
    const roll = next();
    if (roll < 0.05) r.ts = t - 180_000 + Math.floor(next() * 20_000);
    else if (roll < 0.25) r.ts = t - Math.floor(next() * 4_000);
    else if (roll < 0.26) r.ts = 'never';
    else r.ts = t;
    // Duplicated ids for dedupe: records 10 apart share an id now and then.
    r.order = next() < 0.2 ? `o${i - 10}` : `o${i}`;
    out.push(r);
  }
  return out;
}

interface Case {
  name: string;
  step: string;
}

const windowCases: Case[] = [
  {
    name: 'tumbling',
    step: 'type: aggregate\n    key: [k]\n    window: { type: tumbling, size: 10s }',
  },
  {
    name: 'tumbling, allowed lateness',
    step: 'type: aggregate\n    key: [k]\n    window: { type: tumbling, size: 10s }\n    allowed_lateness: 158s',
  },
  {
    name: 'hopping',
    step: 'type: aggregate\n    key: [k]\n    window: { type: hopping, size: 20s, slide: 5s }',
  },
  {
    name: 'session',
    step: 'type: aggregate\n    key: [k]\n    window: { type: session, gap: 3s }',
  },
  {
    name: 'session, allowed lateness',
    step: 'type: aggregate\n    key: [k]\n    window: { type: session, gap: 3s }\n    allowed_lateness: 158s',
  },
  {
    name: 'cumulative',
    step: 'type: aggregate\n    key: [k]\n    window: { type: cumulative, size: 30s, step: 10s }',
  },
].map((c) => ({
  ...c,
  step: `${c.step}\n    fields: { n: count(*), total: sum(v), ids: count(DISTINCT id) }`,
}));

const dedupeCase: Case = { name: 'dedupe', step: 'type: dedupe\n    key: [order]\n    within: 1m' };

let runs = 0;

interface Outputs {
  out: Row[];
  /** The row kind of each record written to `out` (with allowed lateness, a retract changelog). */
  kinds: RowKind[];
  late: Row[];
  dead: Row[];
}

/** What a dead letter says, without the processing time it failed at. */
function letter(r: Row): Row {
  const { failedAt: _, ...rest } = r;
  return rest;
}

function pipeline(name: string, batchSize: number, step: string, checkpointDir = './ckpt'): string {
  return `
name: ${name}
settings: { checkpoint: { interval: 0, dir: ${checkpointDir} }, batch_size: ${batchSize} }
sources:
  in: { type: memory, channel: ${name}, event_time: { field: ts, max_out_of_orderness: ${BOUND}ms } }
steps:
  - { id: not13, type: filter, where: v <> 13 }
  - id: stateful
    ${step}
sinks:
  out: { type: memory, store: ${name}-out, changelog: true }
late_output: { type: memory, store: ${name}-late }
dead_letter: { type: memory, store: ${name}-dead }
`;
}

function outputsOf(name: string): Outputs {
  return {
    out: memorySinkStore(`${name}-out`).committed,
    kinds: memorySinkStore(`${name}-out`).written.map((w) => w.kind ?? INSERT),
    late: memorySinkStore(`${name}-late`).committed,
    dead: memorySinkStore(`${name}-dead`).committed.map(letter),
  };
}

/** Runs `step` over `records` (one entry of one partition) with `batchSize`, to the end. */
async function run(step: string, records: Row[], batchSize: number): Promise<Outputs> {
  const name = `batches-${++runs}`;
  const channel = memoryChannel(name, ['p0']);
  const plan = planFrom(pipeline(name, batchSize, step), await h.dir(), registry);
  const job = await Job.create(plan, { registry, clock: new ManualClock(0), tickInterval: 5 });
  const running = h.run(job);
  channel.push('p0', ...records);
  channel.end();
  const result = await running;
  assert.equal(result.status, 'completed');
  assertAccounting(result.metrics);
  assert.equal(result.metrics.recordsIn, records.length);
  return outputsOf(name);
}

describe('results do not depend on the batch size', () => {
  const records = input(42);
  for (const c of [...windowCases, dedupeCase]) {
    test(`${c.name}: batch sizes 1, 7 and 1024 give the same outputs in the same order`, async () => {
      const one = await run(c.step, records, 1);
      assert.ok(one.out.length > 20, 'results');
      assert.ok(one.late.length > 10, `late records (${one.late.length})`);
      assert.ok(one.dead.length > 3, 'dead letters');
      const updates = one.kinds.filter((k) => k === UPDATE_BEFORE).length;
      if (c.name.includes('allowed lateness'))
        assert.ok(updates > 5, `late firings update results (${updates})`);
      else assert.equal(updates, 0, 'no updates without allowed lateness');
      for (const size of [7, 1024]) {
        const other = await run(c.step, records, size);
        assert.deepEqual(other.out, one.out, `results with batch size ${size}`);
        assert.deepEqual(other.kinds, one.kinds, `row kinds with batch size ${size}`);
        assert.deepEqual(other.late, one.late, `late output with batch size ${size}`);
        assert.deepEqual(other.dead, one.dead, `dead letters with batch size ${size}`);
      }
    });
  }

  test('tumbling windows: the late records and the results match an independent computation', async () => {
    const size = 10_000;
    const wms = watermarksBefore(records, BOUND);
    const late: Row[] = [];
    const sums = new Map<string, Row>();
    records.forEach((r, i) => {
      if (typeof r.ts !== 'number' || r.v === 13) return;
      const start = r.ts - (r.ts % size);
      if (start + size - 1 <= wms[i]) {
        late.push(r);
        return;
      }
      const id = `${r.k}/${start}`;
      const s = sums.get(id) ?? { k: r.k, window_start: start, window_end: start + size, n: 0, total: 0 };
      s.n = (s.n as number) + 1;
      s.total = (s.total as number) + (r.v as number);
      sums.set(id, s);
    });
    const got = await run(
      'type: aggregate\n    key: [k]\n    window: { type: tumbling, size: 10s }\n    fields: { n: count(*), total: sum(v) }',
      records,
      1024,
    );
    assert.ok(late.length >= 24, `the input has many late records (${late.length})`);
    assert.deepEqual(got.late, late);
    assertSameMultiset(got.out, [...sums.values()]);
  });

  test('dedupe: late duplicates are late, and kept records match an independent computation', async () => {
    const within = 60_000;
    const wms = watermarksBefore(records, BOUND);
    const kept: Row[] = [];
    const late: Row[] = [];
    const first = new Map<unknown, number>();
    records.forEach((r, i) => {
      if (typeof r.ts !== 'number' || r.v === 13) return;
      if (r.ts <= wms[i]) {
        late.push(r);
        return;
      }
      const f = first.get(r.order);
      if (f === undefined || r.ts >= f + within || f + within <= wms[i]) {
        first.set(r.order, r.ts);
        kept.push(r);
      }
    });
    const got = await run(dedupeCase.step, records, 1024);
    assert.deepEqual(got.late, late);
    assert.deepEqual(got.out, kept);
  });

  test('dedupe: a late duplicate does not pass (e1@0, x@100000, e1@30000 within 1m)', async () => {
    const got = await run(
      'type: dedupe\n    key: [order]\n    within: 1m',
      [
        { order: 'e1', ts: 0, v: 1 },
        { order: 'x', ts: 100_000, v: 1 },
        { order: 'e1', ts: 30_000, v: 1 },
      ],
      1024,
    );
    assert.deepEqual(
      got.out.map((r) => `${r.order}@${r.ts}`),
      ['e1@0', 'x@100000'],
    );
    assert.deepEqual(
      got.late.map((r) => `${r.order}@${r.ts}`),
      ['e1@30000'],
    );
  });
});

describe('from a file', () => {
  test('the late output and the results are byte for byte the same with batch sizes 1 and 1024', async () => {
    const records = input(99);
    const outputs: string[][] = [];
    for (const size of [1, 1024]) {
      const dir = await h.dir();
      await writeFile(join(dir, 'orders.jsonl'), `${records.map((r) => JSON.stringify(r)).join('\n')}\n`);
      const plan = planFrom(
        `
name: from-file
settings: { checkpoint: { interval: 0, dir: ./ckpt }, batch_size: ${size} }
sources:
  orders: { type: file, path: ./orders.jsonl, format: json, event_time: { field: ts, max_out_of_orderness: 5s } }
steps:
  - { id: per-key, type: aggregate, key: [k], window: { type: tumbling, size: 1m }, fields: { n: count(*), total: sum(v) } }
sinks:
  out: { type: file, path: ./out/results.jsonl }
late_output: { type: file, path: ./out/late.jsonl }
dead_letter: { type: file, path: ./out/dead.jsonl }
`,
        dir,
        registry,
      );
      const result = await h.run(await Job.create(plan, { registry }));
      assert.equal(result.status, 'completed');
      assertAccounting(result.metrics, 'per-key');
      outputs.push(
        await Promise.all(['results', 'late'].map((f) => readFile(join(dir, `out/${f}.jsonl`), 'utf8'))),
      );
    }
    const wms = watermarksBefore(records, BOUND);
    const late = records.filter(
      (r, i) => typeof r.ts === 'number' && r.ts - (r.ts % 60_000) + 60_000 - 1 <= wms[i],
    );
    assert.ok(late.length >= 24, `records three minutes behind are late (${late.length})`);
    assert.equal(outputs[0][1], `${late.map((r) => JSON.stringify(r)).join('\n')}\n`);
    assert.deepEqual(outputs[1], outputs[0]);
  });
});

describe('late decisions survive a restart', () => {
  for (const c of [windowCases[1], windowCases[4], dedupeCase]) {
    test(`${c.name}: a run crashed and restored from a checkpoint decides as an uninterrupted one`, async () => {
      const records = input(7);
      const whole = await run(c.step, records, 7);

      const name = `batches-${++runs}`;
      const channel = memoryChannel(name, ['p0']);
      const plan = planFrom(pipeline(name, 7, c.step), await h.dir(), registry);
      const result = await runCrashedAndRestored(h, registry, plan, channel, records, {
        checkpointAt: 350,
        crashAt: 450,
      });
      assert.equal(result.status, 'completed');
      assert.equal(result.metrics.recordsIn, records.length);
      assertAccounting(result.metrics);
      const got = outputsOf(name);
      assertSameMultiset(got.out, whole.out, 'results');
      assertSameMultiset(got.late, whole.late, 'late output');
      // The crash split the input into other memory-channel entries: offsets differ, nothing else.
      const noOffset = ({ offset: _, ...rest }: Row) => rest;
      assertSameMultiset(got.dead.map(noOffset), whole.dead.map(noOffset), 'dead letters');
    });
  }
});
