/**
 * Engine semantics: every window type fires exactly once per (key, window) with the values a
 * naive reference computes, through a whole job (memory source → aggregate → memory sink), with
 * two partitions, several keys and out-of-order input within `max_out_of_orderness`; and end of
 * input flushes everything, completes the job and closes the sinks.
 */

import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import type { Row } from '../record.ts';
import { ManualClock, memoryChannel, memorySinkStore } from '../testing/index.ts';
import { seededRandom as rng } from '../testing/random.ts';
import {
  assertAccounting,
  assertSameMultiset,
  Harness,
  planFrom,
  testRegistry,
  waitFor,
} from './engine-test-support.ts';
import { Job } from './job.ts';

/** A type alias, not an interface, so that it is a Row. */
type Input = { k: string; ts: number; v: number };

/**
 * Records for one partition: record i has time i·step + jitter with jitter in [0, 40), so a
 * record is at most 40 ms behind the greatest time before it (the sources allow 50 ms).
 */
function partitionInput(seed: number, count: number, step: number, keys: readonly string[]): Input[] {
  const next = rng(seed);
  const out: Input[] = [];
  for (let i = 0; i < count; i++) {
    out.push({
      k: keys[Math.floor(next() * keys.length)],
      ts: i * step + Math.floor(next() * 40),
      v: Math.floor(next() * 100) - 20,
    });
  }
  return out;
}

type WindowCase =
  | { type: 'tumbling'; size: number; offset: number }
  | { type: 'hopping'; size: number; slide: number }
  | { type: 'cumulative'; size: number; step: number }
  | { type: 'session'; gap: number };

const floorTo = (t: number, size: number, offset = 0) => t - ((((t - offset) % size) + size) % size);

/** The windows containing `t` (not for sessions), by brute force. */
function windowsOf(w: WindowCase, t: number): [number, number][] {
  switch (w.type) {
    case 'tumbling': {
      const start = floorTo(t, w.size, w.offset);
      return [[start, start + w.size]];
    }
    case 'hopping': {
      const out: [number, number][] = [];
      for (let s = floorTo(t, w.slide); s > t - w.size; s -= w.slide) out.push([s, s + w.size]);
      return out;
    }
    case 'cumulative': {
      const start = floorTo(t, w.size);
      const out: [number, number][] = [];
      for (let end = start + w.step; end <= start + w.size; end += w.step)
        if (end > t) out.push([start, end]);
      return out;
    }
    case 'session':
      throw new Error('sessions have no fixed windows');
  }
}

/** count, sum, min and max per key and window, computed without the engine. */
function reference(w: WindowCase, input: readonly Input[]): Row[] {
  const groups = new Map<string, { k: string; start: number; end: number; values: number[] }>();
  const add = (k: string, start: number, end: number, v: number) => {
    const id = `${k}|${start}|${end}`;
    let g = groups.get(id);
    if (!g) {
      g = { k, start, end, values: [] };
      groups.set(id, g);
    }
    g.values.push(v);
  };
  if (w.type === 'session') {
    const byKey = new Map<string, Input[]>();
    for (const r of input) byKey.set(r.k, [...(byKey.get(r.k) ?? []), r]);
    for (const [k, records] of byKey) {
      records.sort((a, b) => a.ts - b.ts);
      let members: Input[] = [];
      const close = () => {
        const start = members[0].ts;
        const end = members[members.length - 1].ts + w.gap;
        for (const m of members) add(k, start, end, m.v);
        members = [];
      };
      for (const r of records) {
        if (members.length > 0 && r.ts >= members[members.length - 1].ts + w.gap) close();
        members.push(r);
      }
      close();
    }
  } else {
    for (const r of input) for (const [start, end] of windowsOf(w, r.ts)) add(r.k, start, end, r.v);
  }
  return [...groups.values()].map((g) => ({
    k: g.k,
    window_start: g.start,
    window_end: g.end,
    n: g.values.length,
    total: g.values.reduce((a, b) => a + b, 0),
    lo: Math.min(...g.values),
    hi: Math.max(...g.values),
  }));
}

function windowYaml(w: WindowCase): string {
  switch (w.type) {
    case 'tumbling':
      return `{ type: tumbling, size: ${w.size}ms, offset: ${w.offset}ms }`;
    case 'hopping':
      return `{ type: hopping, size: ${w.size}ms, slide: ${w.slide}ms }`;
    case 'cumulative':
      return `{ type: cumulative, size: ${w.size}ms, step: ${w.step}ms }`;
    case 'session':
      return `{ type: session, gap: ${w.gap}ms }`;
  }
}

const registry = testRegistry();
const h = new Harness();
afterEach(() => h.stopAll());

let runs = 0;

/**
 * Runs `input` (per partition, pushed in chunks) through one aggregate step with window `w`,
 * waiting after each round of chunks until the job has read it, so windows fire while the job
 * runs; returns the committed results and the job's result.
 */
async function runWindows(w: WindowCase, input: { p0: Input[]; p1: Input[] }, bound = 50) {
  const dir = await h.dir();
  const name = `windows-${++runs}`;
  const channel = memoryChannel(name, ['p0', 'p1']);
  const plan = planFrom(
    `
name: ${name}
settings: { checkpoint: { interval: 0, dir: ./ckpt } }
sources:
  in: { type: memory, channel: ${name}, event_time: { field: ts, max_out_of_orderness: ${bound}ms } }
steps:
  - id: agg
    type: aggregate
    key: [k]
    window: ${windowYaml(w)}
    fields: { n: count(*), total: sum(v), lo: min(v), hi: max(v) }
sinks:
  out: { type: memory, store: ${name} }
`,
    dir,
    registry,
  );
  const store = memorySinkStore(name);
  const job = await Job.create(plan, { registry, clock: new ManualClock(0), tickInterval: 5 });
  const running = h.run(job);
  const chunk = 7;
  const total = input.p0.length + input.p1.length;
  let pushed = 0;
  for (let i = 0; i < Math.max(input.p0.length, input.p1.length); i += chunk) {
    for (const p of ['p0', 'p1'] as const) {
      const part = input[p].slice(i, i + chunk);
      if (part.length > 0) channel.push(p, ...part);
      pushed += part.length;
    }
    await waitFor(`${pushed} records read`, () => job.metrics().recordsIn === pushed);
  }
  assert.equal(pushed, total);
  const firedBeforeEnd = job.metrics().steps.agg.results;
  channel.end();
  const result = await running;
  return { result, committed: store.committed, store, firedBeforeEnd, dir };
}

/** Asserts that no (key, window) appears twice. */
function assertFiredOnce(results: readonly Row[]): void {
  const ids = results.map((r) => `${String(r.k)}|${String(r.window_start)}|${String(r.window_end)}`);
  assert.equal(new Set(ids).size, ids.length, 'a (key, window) fired more than once');
}

const keys = ['a', 'b', 'c', 'd', 'e'];
const randomInput = () => ({
  p0: partitionInput(1, 160, 10, keys),
  p1: partitionInput(2, 140, 12, keys),
});

const cases: [string, WindowCase][] = [
  ['tumbling (with offset)', { type: 'tumbling', size: 50, offset: 20 }],
  ['hopping (size not a multiple of slide)', { type: 'hopping', size: 100, slide: 30 }],
  ['cumulative', { type: 'cumulative', size: 120, step: 40 }],
  ['session', { type: 'session', gap: 45 }],
];

describe('windows through a whole job', () => {
  for (const [label, w] of cases) {
    test(`${label}: every window fires exactly once with the reference values`, async () => {
      const input = randomInput();
      const { result, committed, firedBeforeEnd } = await runWindows(w, input);
      assert.equal(result.status, 'completed');
      const expected = reference(w, [...input.p0, ...input.p1]);
      assert.ok(expected.length > 20, 'the input spans many windows');
      assertFiredOnce(committed);
      assertSameMultiset(committed, expected);
      // Most windows fired while the job ran, not only at the end of input.
      assert.ok(firedBeforeEnd > expected.length / 2, `${firedBeforeEnd} of ${expected.length} fired early`);
      assert.equal(result.metrics.late, 0);
      assert.equal(result.metrics.steps.agg.results, expected.length);
      assert.equal(result.metrics.recordsOut, expected.length);
      assertAccounting(result.metrics, 'agg');
      assert.equal(result.metrics.steps.agg.out, input.p0.length + input.p1.length);
    });
  }

  test('session: a record arriving late (within the bound) bridges two sessions into one', async () => {
    const w: WindowCase = { type: 'session', gap: 100 };
    const input = {
      // a: sessions [0, 110) and [140, 250) until a@90 on p1 joins them: [0, 250).
      // b: b@110 extends [20, 120) to [20, 210).
      p0: [
        { k: 'a', ts: 0, v: 1 },
        { k: 'a', ts: 10, v: 2 },
        { k: 'b', ts: 20, v: 5 },
        { k: 'a', ts: 150, v: 4 },
        { k: 'b', ts: 400, v: 6 },
        { k: 'a', ts: 1000, v: 7 },
      ],
      p1: [
        { k: 'b', ts: 110, v: 8 },
        { k: 'a', ts: 140, v: 16 },
        { k: 'a', ts: 90, v: 32 },
        { k: 'c', ts: 600, v: 9 },
        { k: 'a', ts: 1050, v: 10 },
      ],
    };
    const { committed } = await runWindows(w, input, 200);
    assertFiredOnce(committed);
    assertSameMultiset(committed, reference(w, [...input.p0, ...input.p1]));
    const a = committed.filter((r) => r.k === 'a');
    assert.deepEqual(
      a.map((r) => [r.window_start, r.window_end, r.n, r.total]).sort((x, y) => Number(x[0]) - Number(y[0])),
      [
        [0, 250, 5, 1 + 2 + 4 + 16 + 32],
        [1000, 1150, 2, 17],
      ],
    );
    const b = committed.filter((r) => r.k === 'b');
    assert.deepEqual(
      b.map((r) => [r.window_start, r.window_end, r.n]).sort((x, y) => Number(x[0]) - Number(y[0])),
      [
        [20, 210, 2],
        [400, 500, 1],
      ],
    );
  });

  test('end of input fires every open window once, completes the job and closes the sinks', async () => {
    const w: WindowCase = { type: 'tumbling', size: 100, offset: 0 };
    const input = randomInput();
    // A bound longer than the whole input: no window can fire before the end of input.
    const { result, committed, store, firedBeforeEnd, dir } = await runWindows(w, input, 60_000);
    assert.equal(firedBeforeEnd, 0);
    assert.equal(result.status, 'completed');
    assert.equal(result.metrics.watermark, Number.POSITIVE_INFINITY);
    assert.equal(store.closed, true);
    assert.deepEqual(store.pending, []);
    assertFiredOnce(committed);
    assertSameMultiset(committed, reference(w, [...input.p0, ...input.p1]));
    // The final checkpoint marks the run completed: it exists, and the next run starts over.
    const files = await readdir(join(dir, 'ckpt', `windows-${runs}`));
    assert.equal(files.filter((f) => f.endsWith('.ckpt')).length, 1);
    assert.equal(result.metrics.lastCheckpointId, 1);
  });
});
