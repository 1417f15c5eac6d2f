/**
 * `top_n` end to end: golden changelogs for the small cases, and on random input (ties, NULLs,
 * several keys) the changelog folded into a table equals a plain sort of the same input — for
 * batch sizes 1, 7 and 1024, with and without ranks, and across a restore from a checkpoint.
 */

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { SluiceError } from '../errors.ts';
import type { Operator } from '../operator.ts';
import { DELETE, INSERT, type Row, UPDATE_AFTER, UPDATE_BEFORE } from '../record.ts';
import { Harness, planFrom, runCrashedAndRestored, testRegistry } from '../runtime/engine-test-support.ts';
import { Job } from '../runtime/job.ts';
import { memoryChannel } from '../testing/index.ts';
import { seededRandom } from '../testing/random.ts';
import { ManualClock } from '../time.ts';
import { CollectingOutput, roundTrip } from '../window/test-support.ts';
import { assertRestores, type KeyedScenario, resume, runStraight } from './keyed-restore-test-support.ts';
import { createTopN } from './top-n.ts';

const registry = testRegistry();
const h = new Harness();
afterEach(() => h.stopAll());

let channels = 0;

const yaml = (name: string, options: { batch: number; rank?: boolean; n?: number }) => `
name: ${name}
settings: { checkpoint: { interval: 0, dir: ./ckpt }, batch_size: ${options.batch} }
sources:
  in: { type: memory, channel: ${name} }
dead_letter: { type: file, path: ./out/dead.jsonl }
steps:
  - id: top
    type: top_n
    key: [category]
    order_by: [price DESC, name]
    n: ${options.n ?? 3}${options.rank ? '\n    rank_field: rank' : ''}
sinks:
  changes: { type: file, path: ./out/changes.jsonl, changelog: debezium }
`;

async function lines(dir: string, file: string): Promise<Row[]> {
  const text = await readFile(join(dir, 'out', file), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Row);
}

async function run(records: readonly Row[], options: { batch: number; rank?: boolean; n?: number }) {
  const dir = await h.dir();
  const name = `top-${channels++}`;
  const channel = memoryChannel(name, ['p0']);
  channel.push('p0', ...records);
  channel.end();
  const job = await Job.create(planFrom(yaml(name, options), dir, registry), { registry });
  const result = await h.run(job);
  assert.equal(result.status, 'completed');
  return { dir, result, changes: await lines(dir, 'changes.jsonl'), dead: await lines(dir, 'dead.jsonl') };
}

/** Folds Debezium envelopes as a retract changelog into the multiset of rows, as JSON texts. */
function fold(changes: readonly Row[]): string[] {
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
  return [...rows].flatMap(([text, n]) => Array<string>(n).fill(text)).sort();
}

/** The top rows by a plain stable sort of each category's records. */
function expected(records: readonly Row[], n: number, rank: boolean): string[] {
  const byCategory = new Map<unknown, Row[]>();
  for (const r of records) {
    if (typeof r.price === 'string') continue; // the dead letters
    const list = byCategory.get(r.category) ?? [];
    list.push(r);
    byCategory.set(r.category, list);
  }
  const out: string[] = [];
  for (const list of byCategory.values()) {
    const sorted = [...list].sort((a, b) => {
      const [pa, pb] = [a.price as number | null, b.price as number | null];
      if (pa !== pb) {
        if (pa === null) return 1;
        if (pb === null) return -1;
        return pb - pa;
      }
      return String(a.name) < String(b.name) ? -1 : String(a.name) > String(b.name) ? 1 : 0;
    });
    sorted.slice(0, n).forEach((r, i) => {
      out.push(JSON.stringify(rank ? { ...r, rank: i + 1 } : r));
    });
  }
  return out.sort();
}

function input(count: number): Row[] {
  const random = seededRandom(17);
  return Array.from({ length: count }, (_, i) => {
    const roll = random();
    return {
      i,
      category: `c${Math.floor(random() * 4)}`,
      // Ties (few prices), NULLs, and a few text prices that cannot be ranked against numbers.
      price: roll < 0.05 ? null : roll < 0.07 ? 'n/a' : Math.floor(random() * 20),
      name: `n${Math.floor(random() * 5)}`,
    };
  });
}

describe('top_n', () => {
  test('golden: inserts as rows enter, deletes as they are pushed out, ties keep the earlier', async () => {
    const records = [
      { category: 'a', price: 5, name: 'x' },
      { category: 'a', price: 7, name: 'y' },
      { category: 'b', price: 1, name: 'z' },
      { category: 'a', price: 5, name: 'x' }, // equal to the first: ranks after it, out of a top 2
      { category: 'a', price: 9, name: 'w' }, // pushes the first out
    ];
    const { changes, result } = await run(records, { batch: 2, n: 2 });
    assert.deepEqual(
      changes.map((c) => [
        c.op,
        (c.before as Row | null)?.price ?? null,
        (c.after as Row | null)?.price ?? null,
      ]),
      [
        ['c', null, 5],
        ['c', null, 7],
        ['c', null, 1],
        ['d', 5, null],
        ['c', null, 9],
      ],
    );
    assert.equal(result.metrics.filtered, 1);
  });

  test('golden with ranks: rows whose rank moves are updated', async () => {
    const records = [
      { category: 'a', price: 5, name: 'x' },
      { category: 'a', price: 7, name: 'y' },
      { category: 'a', price: 6, name: 'v' },
    ];
    const { changes } = await run(records, { batch: 10, n: 2, rank: true });
    const brief = (r: unknown) => (r === null ? null : `${(r as Row).price}#${(r as Row).rank}`);
    assert.deepEqual(
      changes.map((c) => [c.op, brief(c.before), brief(c.after)]),
      [
        ['c', null, '5#1'],
        ['u', '5#1', '5#2'],
        ['c', null, '7#1'],
        ['d', '5#2', null],
        ['c', null, '6#2'],
      ],
    );
  });

  for (const rank of [false, true]) {
    test(`random input${rank ? ' with ranks' : ''}: the same changelog for batch sizes 1, 7 and 1024, folding into a plain sort`, async () => {
      const records = input(2000);
      const runs = [];
      for (const batch of [1, 7, 1024]) runs.push(await run(records, { batch, rank }));
      assert.deepEqual(runs[1].changes, runs[0].changes);
      assert.deepEqual(runs[2].changes, runs[0].changes);
      assert.deepEqual(
        runs.map((r) => r.dead.length),
        runs.map(() => records.filter((r) => r.price === 'n/a').length),
        'text prices are dead letters in every run',
      );
      assert.deepEqual(fold(runs[0].changes), expected(records, 3, rank));
      const m = runs[0].result.metrics;
      assert.equal(m.recordsIn, m.filtered + m.deadLetters + runs[0].result.metrics.steps.top.out);
    });
  }

  test('restored from a checkpoint mid-stream, the changelog folds into the same table', async () => {
    const dir = await h.dir();
    const name = 'top-restore';
    const channel = memoryChannel(name, ['p0']);
    const records = input(900);
    const plan = planFrom(yaml(name, { batch: 50, rank: true }), dir, registry);
    const result = await runCrashedAndRestored(h, registry, plan, channel, records, {
      checkpointAt: 400,
      crashAt: 600,
    });
    assert.equal(result.status, 'completed');
    const changes = await lines(dir, 'changes.jsonl');
    const uninterrupted = await run(records, { batch: 50, rank: true });
    assert.deepEqual(changes, uninterrupted.changes, 'the same changelog as a run without a crash');
    assert.deepEqual(fold(changes), expected(records, 3, true));
  });

  test('an append-only sink after top_n is refused; a bad order_by or n is a config error', async () => {
    const dir = await h.dir();
    const plain = yaml('top-refused', { batch: 10 }).replace(', changelog: debezium', '');
    await assert.rejects(Job.create(planFrom(plain, dir, registry), { registry }), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'PLAN_CHANGELOG_MISMATCH');
      assert.match(err.message, /top_n/);
      return true;
    });
    const badExpr = yaml('top-bad', { batch: 10 }).replace('price DESC', 'price +');
    await assert.rejects(Job.create(planFrom(badExpr, dir, registry), { registry }), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.deepEqual([err.code, err.step, err.path], ['EXPR_SYNTAX', 'top', 'order_by[0]']);
      return true;
    });
  });
});

describe('top_n with a state time-to-live', () => {
  const BLOCK = 7 * 1024;
  const clockAt = (s: number) => 1_000_000 + Math.floor(s / BLOCK) * 1000;

  function topN(ttl: number | undefined, n = 2): Operator {
    return createTopN({
      stepId: 'top',
      keyFn: (r) => String(r.category),
      orderBy: [{ text: 'price DESC', value: (r) => r.price, descending: true }],
      n,
      ...(ttl !== undefined ? { ttl } : {}),
    });
  }

  function openAt(op: Operator, clock: ManualClock, restored?: unknown): void {
    op.open?.({ stepId: 'top', restored, clock, watermark: () => Number.NEGATIVE_INFINITY });
  }

  /** The lists an operator opened without the runtime's keyed state keeps in its snapshot. */
  const listsOf = (op: Operator) =>
    new Map((op.snapshot!() as { keyed: Map<string, Map<string, unknown>> }).keyed.get('lists'));

  /** Runs `records` (from position `from`) in batches of `size`, the clock moving per block, a tick before each batch. */
  function runTimed(
    op: Operator,
    records: Row[],
    size: number,
    clock: ManualClock,
    from = 0,
  ): CollectingOutput {
    const out = new CollectingOutput();
    for (let s = 0; s < records.length; s += size) {
      const part = records.slice(s, s + size);
      clock.set(clockAt(from + s));
      op.onProcessingTime?.(clock.now(), out);
      op.processBatch({ records: part, times: part.map((_, k) => from + s + k) }, out);
    }
    return out;
  }

  /** Categories c10–c19 appear only in even blocks of the clock, so the ttl forgets them. */
  function quietInput(seed: number, count = 30_000): Row[] {
    const random = seededRandom(seed);
    return Array.from({ length: count }, (_, i) => {
      const block = Math.floor(i / BLOCK);
      const c =
        random() < 0.5 || block % 2 === 1 ? Math.floor(random() * 10) : 10 + Math.floor(random() * 10);
      return { i, category: `c${c}`, price: Math.floor(random() * 1000) };
    });
  }

  /** The table a folded changelog gives, computed apart: the top 2 of each (category, segment between ttl gaps). */
  function expectedWithTtl(records: readonly Row[], ttl: number, n = 2): string[] {
    const segments: Row[][] = [];
    const current = new Map<unknown, { rows: Row[]; written: number }>();
    records.forEach((r, i) => {
      const now = clockAt(i - (i % BLOCK));
      let s = current.get(r.category);
      if (s === undefined || s.written + ttl <= now) {
        s = { rows: [], written: now };
        segments.push(s.rows);
        current.set(r.category, s);
      }
      // Only a record entering the top list writes the key's state.
      const enters = s.rows.filter((x) => (x.price as number) >= (r.price as number)).length < n;
      s.rows.push(r);
      if (enters) s.written = now;
    });
    return segments
      .flatMap((rows) =>
        [...rows]
          .sort((a, b) => (b.price as number) - (a.price as number) || (a.i as number) - (b.i as number))
          .slice(0, n),
      )
      .map((r) => JSON.stringify(r))
      .sort();
  }

  /** Folds a retract changelog of CollectingOutput into the multiset of rows, as sorted JSON texts. */
  function foldOut(out: CollectingOutput): string[] {
    return fold(
      out.emitted.map((e) => ({
        before: e.kind === UPDATE_BEFORE || e.kind === DELETE ? e.record : null,
        after: e.kind === INSERT || e.kind === UPDATE_AFTER ? e.record : null,
      })),
    );
  }

  test('a key whose list no record entered for the ttl is forgotten; its next record starts a new list', () => {
    const clock = new ManualClock(0);
    const op = topN(10_000);
    openAt(op, clock);
    const out = new CollectingOutput();
    op.processBatch(
      {
        records: [
          { category: 'a', price: 5 },
          { category: 'a', price: 7 },
        ],
        times: [1, 2],
      },
      out,
    );
    clock.set(9000);
    // Does not make the top 2: the list is not written.
    op.processBatch({ records: [{ category: 'a', price: 1 }], times: [3] }, out);
    clock.set(10_000);
    op.onProcessingTime?.(clock.now(), out);
    assert.equal(listsOf(op).size, 0);
    op.processBatch({ records: [{ category: 'a', price: 2 }], times: [4] }, out);
    assert.deepEqual(out.changes(), [
      ['+I', { category: 'a', price: 5 }],
      ['+I', { category: 'a', price: 7 }],
      ['+I', { category: 'a', price: 2 }],
    ]);
    assert.equal(out.filteredCount, 1);
  });

  test('batch sizes 1, 7 and 1024 give the same changelog; it folds into an independent computation', () => {
    const records = quietInput(3);
    const runs = [1, 7, 1024].map((size) => {
      const clock = new ManualClock(0);
      const op = topN(1500);
      openAt(op, clock);
      return runTimed(op, records, size, clock);
    });
    const logs = runs.map((out) => out.emitted.map((e) => [e.kind, e.time, e.record]));
    assert.deepEqual(logs[1], logs[0]);
    assert.deepEqual(logs[2], logs[0]);
    assert.deepEqual(foldOut(runs[0]), expectedWithTtl(records, 1500));
  });

  test('restored mid-stream, the ttl bookkeeping goes on as if it had not stopped; v1 state is read', () => {
    const records = quietInput(4);
    const whole = topN(1500);
    openAt(whole, new ManualClock(0));
    const uninterrupted = runTimed(whole, records, 7, new ManualClock(0)).emitted;

    const cut = 2 * BLOCK + 7 * 33;
    const clock = new ManualClock(0);
    const first = topN(1500);
    openAt(first, clock);
    const before = runTimed(first, records.slice(0, cut), 7, clock).emitted;
    const saved = roundTrip(first.snapshot!()) as { format: string; shape: string };
    assert.equal(saved.format, 'sluice.top_n.v3');
    const second = topN(1500);
    openAt(second, clock, saved);
    const after = runTimed(second, records.slice(cut), 7, clock, cut).emitted;
    assert.deepEqual([...before, ...after], uninterrupted);

    // What version 1 wrote: the lists in the operator's snapshot, without `written`. Its keys live ttl from the restore.
    const v1 = { format: 'sluice.top_n.v1', shape: saved.shape, keyedInput: false, lists: listsOf(first) };
    const old = topN(10_000);
    const later = new ManualClock(5_000_000);
    openAt(old, later, v1);
    assert.equal(listsOf(old).size, 20);
    later.set(5_009_999);
    old.onProcessingTime?.(later.now(), new CollectingOutput());
    assert.equal(listsOf(old).size, 20);
    later.set(5_010_000);
    old.onProcessingTime?.(later.now(), new CollectingOutput());
    assert.equal(listsOf(old).size, 0);
  });

  test('live keys stay flat over an unbounded stream of distinct keys', () => {
    const clock = new ManualClock(0);
    const op = topN(10_000);
    openAt(op, clock);
    const sizes: number[] = [];
    for (let second = 0; second < 300; second++) {
      clock.set(second * 1000);
      const out = new CollectingOutput();
      op.onProcessingTime?.(clock.now(), out);
      const records = Array.from({ length: 100 }, (_, j) => ({ category: `k${second * 100 + j}`, price: j }));
      op.processBatch({ records, times: records.map(() => second) }, out);
      sizes.push(listsOf(op).size);
    }
    assert.ok(Math.max(...sizes) <= 1000, `at most 1000 live keys, saw ${Math.max(...sizes)}`);
    assert.deepEqual(new Set(sizes.slice(20)), new Set([1000]));
  });
});

describe('top_n on the runtime’s keyed state', () => {
  const BLOCK = 7 * 1024;
  const make = (ttl?: number) => () =>
    createTopN({
      stepId: 't',
      keyFn: (r) => String(r.k),
      orderBy: [{ text: 'v DESC', value: (r) => r.v, descending: true }],
      n: 2,
      rankField: 'rank',
      ...(ttl !== undefined ? { ttl } : {}),
    });

  /** Keys k10–k29 appear only in even blocks of the clock, so a ttl forgets them. */
  function scenario(ttl?: number): KeyedScenario {
    const random = seededRandom(11);
    const records = Array.from({ length: 3 * BLOCK }, (_, i) => {
      const quiet = Math.floor(i / BLOCK) % 2 === 1;
      const k = random() < 0.5 || quiet ? Math.floor(random() * 10) : 10 + Math.floor(random() * 20);
      return { i, k: `k${k}`, v: Math.floor(random() * 1000) };
    });
    return {
      make: make(ttl),
      records,
      times: records.map((_, i) => i),
      block: BLOCK,
      clockAt: (i) => 1_000_000 + Math.floor(i / BLOCK) * 1000,
      keyOf: (r) => String(r.k),
    };
  }

  test('checkpointed mid-stream and restored, whole or split by key group, it goes on as if it had not stopped', () => {
    for (const ttl of [undefined, 1500]) {
      const straight = assertRestores(scenario(ttl), [BLOCK + 7 * 99]);
      assert.ok(straight.filtered > 0 && straight.emitted.length > 100);
    }
  });

  test('a snapshot of version 2, which held the lists and their times, is restored into the keyed state', () => {
    // What the v2 operator snapshotted after the first six records (a1 b2 a3 c3 at 1000, a2 b1 at 1500).
    const v2 = {
      format: 'sluice.top_n.v2',
      shape: '{"key":true,"orderBy":[["v DESC",true]],"n":2,"rankField":"rank"}',
      keyedInput: false,
      lists: new Map([
        [
          'a',
          [
            { row: { k: 'a', v: 3 }, sort: [3] },
            { row: { k: 'a', v: 2 }, sort: [2] },
          ],
        ],
        [
          'b',
          [
            { row: { k: 'b', v: 2 }, sort: [2] },
            { row: { k: 'b', v: 1 }, sort: [1] },
          ],
        ],
        ['c', [{ row: { k: 'c', v: 3 }, sort: [3] }]],
      ]),
      written: new Map([
        ['c', 1000],
        ['a', 1500],
        ['b', 1500],
      ]),
    };
    const rows: [string, number][] = [
      ['a', 1],
      ['b', 2],
      ['a', 3],
      ['c', 3],
      ['a', 2],
      ['b', 1],
      ['c', 5],
      ['a', 1],
      ['b', 9],
    ];
    const clocks = [1000, 1000, 1000, 1000, 1500, 1500, 2200, 2200, 2200];
    const s: KeyedScenario = {
      make: make(1000),
      records: rows.map(([k, v]) => ({ k, v })),
      times: rows.map(() => 0),
      block: 1,
      clockAt: (i) => clocks[i],
      keyOf: (r) => String(r.k),
    };
    const straight = runStraight(s, 1);
    const after = resume(s, { operator: v2, keyed: undefined, now: 1500 }, 6, 1);
    assert.deepEqual(after.emitted, straight.emitted.slice(-after.emitted.length));
    // c was last written at 1000: forgotten at 2000, c5 starts a new list; a1 does not make a's top 2.
    assert.deepEqual(
      after.emitted.map((e) => [e.kind, e.record]),
      [
        [INSERT, { k: 'c', v: 5, rank: 1 }],
        [DELETE, { k: 'b', v: 1, rank: 2 }],
        [UPDATE_BEFORE, { k: 'b', v: 2, rank: 1 }],
        [UPDATE_AFTER, { k: 'b', v: 2, rank: 2 }],
        [INSERT, { k: 'b', v: 9, rank: 1 }],
      ],
    );
    assert.equal(after.filtered, 1);
  });
});
