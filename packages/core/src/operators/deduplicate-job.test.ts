/**
 * `deduplicate` in whole jobs: for keep first and keep last, in event and processing time, batch
 * sizes 1, 7 and 1024 give the same changelog, late output and dead letters; the changelog folds
 * into the table a plain loop computes; a run restored from a checkpoint taken mid-stream writes
 * what an uninterrupted one writes; and the plan check refuses keep last into an append-only sink.
 */

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { sinkOf, sourceOf } from '../api/components.ts';
import { pipeline } from '../api/pipeline.ts';
import { SluiceError } from '../errors.ts';
import { resolvePlan } from '../plan/resolve.ts';
import type { Row } from '../record.ts';
import {
  assertAccounting,
  assertSameMultiset,
  Harness,
  planFrom,
  runCrashedAndRestored,
  testRegistry,
  waitFor,
  watermarksBefore,
} from '../runtime/engine-test-support.ts';
import { Job } from '../runtime/job.ts';
import { memoryChannel } from '../testing/index.ts';
import { memorySink, memorySource } from '../testing/memory.ts';
import { seededRandom } from '../testing/random.ts';
import { ManualClock } from '../time.ts';

const registry = testRegistry();
const h = new Harness();
afterEach(() => h.stopAll());

const BOUND = 5_000;
let channels = 0;

interface Mode {
  keep: 'first' | 'last';
  time: 'event' | 'processing';
}

const MODES: Mode[] = [
  { keep: 'first', time: 'processing' },
  { keep: 'first', time: 'event' },
  { keep: 'last', time: 'processing' },
  { keep: 'last', time: 'event' },
];

const yaml = (name: string, batch: number, mode: Mode, sinkChangelog = true) => `
name: ${name}
settings: { checkpoint: { interval: 0, dir: ./ckpt }, batch_size: ${batch} }
sources:
  in: { type: memory, channel: ${name}, event_time: { field: ts, max_out_of_orderness: ${BOUND}ms } }
dead_letter: { type: file, path: ./out/dead.jsonl }
late_output: { type: file, path: ./out/late.jsonl }
steps:
  - id: dedup
    type: deduplicate
    key: [order]
    keep: ${mode.keep}
    time: ${mode.time}
sinks:
  changes: { type: file, path: ./out/changes.jsonl${sinkChangelog ? ', changelog: debezium' : ''} }
`;

/**
 * Orders over a few minutes of event time: mostly in order, a fifth up to 4 s out of order, one
 * in twenty three minutes behind (late), one in a hundred without a time (a dead letter at the
 * source), 80 order ids, so every id repeats.
 */
function input(seed: number, count = 1500): Row[] {
  const random = seededRandom(seed);
  let t = 1_700_000_000_000;
  return Array.from({ length: count }, (_, i) => {
    t += Math.floor(random() * 700);
    const roll = random();
    const ts =
      roll < 0.05
        ? t - 180_000 + Math.floor(random() * 20_000)
        : roll < 0.25
          ? t - Math.floor(random() * 4_000)
          : roll < 0.26
            ? 'never'
            : t;
    return { i, order: `o${Math.floor(random() * 80)}`, ts };
  });
}

async function lines(dir: string, file: string): Promise<Row[]> {
  const text = await readFile(join(dir, 'out', file), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Row);
}

/** What a dead letter says, without the processing time it failed at or its offset. */
function letter(r: Row): Row {
  const { failedAt: _, offset: __, ...rest } = r;
  return rest;
}

async function run(records: readonly Row[], batch: number, mode: Mode) {
  const dir = await h.dir();
  const name = `dedup-${channels++}`;
  const channel = memoryChannel(name, ['p0']);
  channel.push('p0', ...records);
  channel.end();
  const job = await Job.create(planFrom(yaml(name, batch, mode), dir, registry), {
    registry,
    clock: new ManualClock(0),
    tickInterval: 5,
  });
  const result = await h.run(job);
  assert.equal(result.status, 'completed');
  assertAccounting(result.metrics, 'dedup');
  return {
    changes: await lines(dir, 'changes.jsonl'),
    late: await lines(dir, 'late.jsonl'),
    dead: (await lines(dir, 'dead.jsonl')).map(letter),
  };
}

/** Folds Debezium envelopes as a retract changelog into the multiset of rows. */
function fold(changes: readonly Row[]): Row[] {
  const rows = new Map<string, number>();
  for (const { before, after } of changes as { before: Row | null; after: Row | null }[]) {
    if (before !== null) {
      const text = JSON.stringify(before);
      const n = rows.get(text) ?? 0;
      assert.ok(n > 0, `a retraction of a row in the table: ${text}`);
      if (n === 1) rows.delete(text);
      else rows.set(text, n - 1);
    }
    if (after !== null) rows.set(JSON.stringify(after), (rows.get(JSON.stringify(after)) ?? 0) + 1);
  }
  return [...rows].flatMap(([text, n]) => Array<Row>(n).fill(JSON.parse(text) as Row));
}

/** What each mode should give, by a plain loop over the input: the rows, and the late records. */
function expected(records: readonly Row[], mode: Mode): { rows: Row[]; late: Row[] } {
  const valid = records.filter((r) => typeof r.ts === 'number');
  const byKey = new Map<unknown, Row>();
  if (mode.time === 'processing') {
    for (const r of valid) if (mode.keep === 'last' || !byKey.has(r.order)) byKey.set(r.order, r);
    return { rows: [...byKey.values()], late: [] };
  }
  if (mode.keep === 'last') {
    for (const r of valid) {
      const kept = byKey.get(r.order);
      if (kept === undefined || (r.ts as number) >= (kept.ts as number)) byKey.set(r.order, r);
    }
    return { rows: [...byKey.values()], late: [] };
  }
  // Keep first by event time: a candidate per key, emitted once the watermark reaches it.
  const wms = watermarksBefore(records, BOUND);
  const emitted = new Set<unknown>();
  const rows: Row[] = [];
  const late: Row[] = [];
  const fire = (wm: number) => {
    for (const [order, r] of [...byKey]) {
      if ((r.ts as number) > wm) continue;
      byKey.delete(order);
      emitted.add(order);
      rows.push(r);
    }
  };
  records.forEach((r, i) => {
    if (typeof r.ts !== 'number') return;
    fire(wms[i]);
    if (r.ts <= wms[i]) late.push(r);
    else if (!emitted.has(r.order)) {
      const c = byKey.get(r.order);
      if (c === undefined || r.ts < (c.ts as number)) byKey.set(r.order, r);
    }
  });
  fire(Number.POSITIVE_INFINITY);
  return { rows, late };
}

describe('deduplicate in a job', () => {
  for (const mode of MODES) {
    test(`keep ${mode.keep} by ${mode.time} time: batch sizes 1, 7 and 1024 agree and fold into a plain loop's table`, async () => {
      const records = input(31);
      const one = await run(records, 1, mode);
      for (const size of [7, 1024]) {
        const other = await run(records, size, mode);
        assert.deepEqual(other.changes, one.changes, `changes with batch size ${size}`);
        assert.deepEqual(other.late, one.late, `late output with batch size ${size}`);
        assert.deepEqual(other.dead, one.dead, `dead letters with batch size ${size}`);
      }
      const want = expected(records, mode);
      assert.ok(one.dead.length > 3, 'dead letters');
      assert.deepEqual(one.late, want.late, 'late records');
      if (mode.keep === 'first') {
        assert.ok(
          one.changes.every((c) => c.op === 'c'),
          'keep first emits inserts only',
        );
        if (mode.time === 'processing')
          assert.deepEqual(
            one.changes.map((c) => c.after),
            want.rows,
            'in arrival order',
          );
        else {
          const times = one.changes.map((c) => (c.after as Row).ts as number);
          assert.deepEqual(
            times,
            [...times].sort((a, b) => a - b),
            'in event-time order',
          );
          assert.ok(want.late.length > 10, `late records (${want.late.length})`);
        }
      } else {
        assert.ok(one.changes.filter((c) => c.op === 'u').length > 100, 'updates');
      }
      assertSameMultiset(fold(one.changes), want.rows);
    });
  }

  for (const mode of [MODES[1], MODES[3]]) {
    test(`keep ${mode.keep} by event time: restored from a checkpoint mid-stream, it writes what an uninterrupted run writes`, async () => {
      const records = input(8, 900);
      const dir = await h.dir();
      const name = `dedup-${channels++}`;
      const channel = memoryChannel(name, ['p0']);
      const result = await runCrashedAndRestored(
        h,
        registry,
        planFrom(yaml(name, 7, mode), dir, registry),
        channel,
        records,
        {
          checkpointAt: 400,
          crashAt: 600,
        },
      );
      assert.equal(result.status, 'completed');
      const whole = await run(records, 7, mode);
      assert.deepEqual(await lines(dir, 'changes.jsonl'), whole.changes);
      assert.deepEqual(await lines(dir, 'late.jsonl'), whole.late);
      assertSameMultiset(fold(whole.changes), expected(records, mode).rows);
    });
  }

  test('with a ttl, the job clock forgets a key: its next record is emitted again', async () => {
    const dir = await h.dir();
    const name = `dedup-${channels++}`;
    const channel = memoryChannel(name, ['p0']);
    const text = yaml(name, 10, MODES[0]).replace('time: processing', 'time: processing\n    ttl: 1s');
    const clock = new ManualClock(0);
    const job = await Job.create(planFrom(text, dir, registry), { registry, clock, tickInterval: 5 });
    const running = h.run(job);
    const step = (n: number) => waitFor(`${n} records read`, () => job.metrics().recordsIn === n);
    channel.push('p0', { i: 0, order: 'a', ts: 1 });
    await step(1);
    clock.set(999);
    channel.push('p0', { i: 1, order: 'a', ts: 2 });
    await step(2);
    clock.set(1000);
    channel.push('p0', { i: 2, order: 'a', ts: 3 }, { i: 3, order: 'a', ts: 4 });
    channel.end();
    const result = await running;
    assert.equal(result.status, 'completed');
    assert.deepEqual(
      (await lines(dir, 'changes.jsonl')).map((c) => [c.op, (c.after as Row).i]),
      [
        ['c', 0],
        ['c', 2],
      ],
    );
    assert.equal(result.metrics.filtered, 2);
  });

  test('keep last into an append-only sink is refused; keep first is not', async () => {
    const dir = await h.dir();
    await assert.rejects(
      Job.create(planFrom(yaml('dedup-refused', 10, MODES[3], false), dir, registry), { registry }),
      (err: unknown) => {
        assert.ok(err instanceof SluiceError);
        assert.equal(err.code, 'PLAN_CHANGELOG_MISMATCH');
        assert.match(err.message, /deduplicate.*keep: last/s);
        return true;
      },
    );
    memoryChannel('dedup-append', ['p0']);
    await Job.create(planFrom(yaml('dedup-append', 10, MODES[1], false), dir, registry), { registry });
  });

  test('the TypeScript API: keyBy().deduplicate() builds the step, refused by an append-only sink when keeping last', () => {
    const memory = sourceOf(memorySource);
    const collect = sinkOf(memorySink);
    const build = (changelog: boolean) =>
      pipeline('latest')
        .from('orders', memory<{ order: string; amount: number }>({ channel: 'c' }))
        .keyBy('by-order', (o) => o.order)
        .deduplicate('latest', { keep: 'last', time: 'processing', ttl: '1h' })
        .to('out', collect({ store: 's', changelog }))
        .build().plan;
    const plan = build(true);
    assert.deepEqual(plan.steps[1], {
      id: 'latest',
      type: 'deduplicate',
      inputs: ['by-order'],
      config: { keep: 'last', time: 'processing', ttl: '1h' },
    });
    resolvePlan(plan, registry);
    assert.throws(
      () => resolvePlan(build(false), registry),
      (err: unknown) => err instanceof SluiceError && err.code === 'PLAN_CHANGELOG_MISMATCH',
    );
  });
});
