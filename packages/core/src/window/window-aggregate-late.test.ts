/**
 * Late firings of windows with allowed lateness: the plan check refuses them into an append-only
 * sink, golden changelogs for hopping windows, the same changelog for any batching, and a restore
 * between a firing and the late firing that updates it.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { count, sum } from '../api/aggregates.ts';
import { sinkOf, sourceOf } from '../api/components.ts';
import { pipeline, tumbling } from '../api/pipeline.ts';
import { builtins } from '../builtins.ts';
import { SluiceError } from '../errors.ts';
import type { Operator } from '../operator.ts';
import { aggregateStep } from '../operators/aggregate-step.ts';
import { resolvePlan } from '../plan/resolve.ts';
import { type Row, UPDATE_BEFORE } from '../record.ts';
import { Registry } from '../registry.ts';
import { testing } from '../testing/index.ts';
import { memorySink, memorySource } from '../testing/memory.ts';
import { seededRandom } from '../testing/random.ts';
import { agg, batchOf, CollectingOutput, countStar, foldChangelog, open, roundTrip } from './test-support.ts';
import { createWindowAggregate } from './window-aggregate.ts';
import type { WindowSpec } from './window-spec.ts';

function operator(window: WindowSpec, allowedLateness: number): Operator {
  return createWindowAggregate({
    stepId: 'w',
    window,
    time: 'event',
    keyFields: ['k'],
    fields: [countStar('n'), agg('total', 'sum', 'v')],
    allowedLateness,
  });
}

const short = (r: Row) => [r.k, r.window_start, r.window_end, r.n, r.total];
const changes = (out: CollectingOutput) => out.changes().map(([kind, r]) => [kind, ...short(r)]);

describe('aggregate with allowed lateness in a plan', () => {
  const registry = new Registry([builtins, testing]);
  const memory = sourceOf(memorySource);
  const collect = sinkOf(memorySink);
  const build = (lateness: string, changelog: boolean, time: 'event' | 'processing' = 'event') =>
    pipeline('late')
      .from('orders', memory<{ region: string; amount: number }>({ channel: 'c' }))
      .keyBy('by-region', (o) => o.region)
      .window(tumbling('1m', { time }))
      .allowedLateness(lateness)
      .aggregate('totals', { n: count(), total: sum('amount') })
      .to('out', collect({ store: 's', changelog }))
      .build().plan;

  it('is refused into an append-only sink, saying why and how to fix it', () => {
    assert.throws(
      () => resolvePlan(build('10s', false), registry),
      (err: unknown) =>
        err instanceof SluiceError &&
        err.code === 'PLAN_CHANGELOG_MISMATCH' &&
        err.step === 'out' &&
        /because step 'totals' \(aggregate\) emits one: with `allowed_lateness: 10s`, a late record updates the result of a window that already fired/.test(
          err.message,
        ) &&
        /set `changelog: true`/.test(err.message),
    );
  });

  it('resolves into a sink that takes changelogs, and stays append-only without lateness or in processing time', () => {
    resolvePlan(build('10s', true), registry);
    resolvePlan(build('0s', false), registry);
    resolvePlan(build('10s', false, 'processing'), registry);
  });

  it('declares its changelog from the config', () => {
    const declared = (config: { [k: string]: unknown }) =>
      aggregateStep.changelog?.({
        window: { type: 'tumbling', size: '1m' },
        time: 'event',
        fields: { n: 'count(*)' },
        allowed_lateness: '0s',
        on_late: 'late_output',
        ...config,
      } as never)?.produces;
    assert.equal(declared({}), 'append');
    assert.equal(declared({ allowed_lateness: '1ms' }), 'retract');
    assert.equal(declared({ allowed_lateness: '1m', time: 'processing' }), 'append');
    assert.equal(declared({ window: undefined }), 'retract');
  });
});

describe('window aggregate with allowed lateness: golden changelogs', () => {
  it('hopping windows: a late record updates each fired window it falls in, in end order', () => {
    const op = operator({ type: 'hopping', size: 10, slide: 5 }, 20);
    const out = new CollectingOutput();
    open(op);
    op.processBatch(
      batchOf(
        [
          { k: 'a', v: 1 },
          { k: 'a', v: 2 },
        ],
        [3, 7],
      ),
      out,
    );
    op.onWatermark!(14, out);
    assert.deepEqual(changes(out), [
      ['+I', 'a', -5, 5, 1, 1],
      ['+I', 'a', 0, 10, 2, 3],
      ['+I', 'a', 5, 15, 1, 2],
    ]);
    // 6 falls in [0, 10) and [5, 15), both fired; [−5, 5) is not among its windows.
    op.processBatch(batchOf([{ k: 'a', v: 10 }], [6]), out);
    assert.deepEqual(changes(out), [
      ['-U', 'a', 0, 10, 2, 3],
      ['+U', 'a', 0, 10, 3, 13],
      ['-U', 'a', 5, 15, 1, 2],
      ['+U', 'a', 5, 15, 2, 12],
    ]);
    // 12 falls in [5, 15), fired, and [10, 20), open: only the fired one changes now.
    op.processBatch(batchOf([{ k: 'a', v: 100 }], [12]), out);
    assert.deepEqual(changes(out), [
      ['-U', 'a', 5, 15, 2, 12],
      ['+U', 'a', 5, 15, 3, 112],
    ]);
    op.onWatermark!(Number.POSITIVE_INFINITY, out);
    assert.deepEqual(changes(out), [['+I', 'a', 10, 20, 1, 100]]);
  });

  it('never splits an update pair between batches, even past the result batch size', () => {
    const op = operator({ type: 'tumbling', size: 10 }, 100);
    const out = new CollectingOutput();
    open(op);
    const keys = Array.from({ length: 1500 }, (_, i) => ({ k: `k${i}`, v: 1 }));
    op.processBatch(
      batchOf(
        keys,
        keys.map(() => 1),
      ),
      out,
    );
    op.onWatermark!(9, out);
    // One batch of late records for every key: 3000 changes, in batches of at most 1024.
    op.processBatch(
      batchOf(
        keys,
        keys.map(() => 2),
      ),
      out,
    );
    assert.ok(out.batches.length > 4);
    for (const b of out.batches) assert.ok(b.records.length <= 1024);
    assert.equal(foldChangelog(out.emitted).size, 1500);
  });
});

describe('window aggregate with allowed lateness: batching and restore', () => {
  /** Records in order, with about one in six a few windows behind, and a watermark after each. */
  function input(seed: number, n: number): { k: string; v: number; t: number }[] {
    const rnd = seededRandom(seed);
    const rows = [];
    let clock = 0;
    for (let i = 0; i < n; i++) {
      clock += Math.floor(rnd() * 5);
      const behind = rnd() < 0.15 ? Math.floor(rnd() * 40) : 0;
      rows.push({ k: `k${Math.floor(rnd() * 3)}`, v: Math.floor(rnd() * 50), t: clock - behind });
    }
    return rows;
  }

  /** Feeds `rows` in batches of `size`, each record carrying the watermark before it (max − 1). */
  function feed(
    op: Operator,
    rows: readonly { k: string; v: number; t: number }[],
    size: number,
    out: CollectingOutput,
  ) {
    let max = Number.NEGATIVE_INFINITY;
    const watermarks = rows.map((r) => {
      const before = max - 1;
      max = Math.max(max, r.t);
      return before;
    });
    for (let i = 0; i < rows.length; i += size) {
      const part = rows.slice(i, i + size);
      const batch = batchOf(
        part.map(({ k, v }) => ({ k, v })),
        part.map((r) => r.t),
      );
      batch.watermarks = watermarks.slice(i, i + size);
      op.processBatch(batch, out);
    }
  }

  const specs: WindowSpec[] = [
    { type: 'tumbling', size: 10 },
    { type: 'hopping', size: 20, slide: 5 },
    { type: 'session', gap: 4 },
  ];
  for (const spec of specs) {
    it(`${spec.type}: batch sizes 1, 7 and 1024 give the same changelog`, () => {
      const rows = input(3, 2000);
      const runs = [1, 7, 1024].map((size) => {
        const op = operator(spec, 15);
        const out = new CollectingOutput();
        open(op);
        feed(op, rows, size, out);
        op.onWatermark!(Number.POSITIVE_INFINITY, out);
        return out;
      });
      const kinds = runs[0].emitted.map((e) => e.kind);
      assert.ok(kinds.includes(UPDATE_BEFORE), 'late firings update results');
      for (const other of runs.slice(1)) {
        assert.deepEqual(other.emitted, runs[0].emitted);
        assert.deepEqual(other.lateRecords, runs[0].lateRecords);
      }
      foldChangelog(runs[0].emitted);
    });
  }

  it('a restore between a firing and a late firing retracts the result emitted before the restore', () => {
    const first = operator({ type: 'tumbling', size: 10 }, 50);
    const out = new CollectingOutput();
    open(first);
    first.processBatch(batchOf([{ k: 'a', v: 1 }], [2]), out);
    first.onWatermark!(20, out);
    assert.deepEqual(changes(out), [['+I', 'a', 0, 10, 1, 1]]);
    const saved = roundTrip(first.snapshot!()) as { format: string };
    assert.equal(saved.format, 'sluice.window_aggregate.v3');
    const second = operator({ type: 'tumbling', size: 10 }, 50);
    open(second, saved);
    second.processBatch(batchOf([{ k: 'a', v: 5 }], [3]), out);
    assert.deepEqual(changes(out), [
      ['-U', 'a', 0, 10, 1, 1],
      ['+U', 'a', 0, 10, 2, 6],
    ]);
  });

  it('state of a step with lateness restores into one without: its output stays append-only', () => {
    const first = operator({ type: 'session', gap: 10 }, 50);
    const out = new CollectingOutput();
    open(first);
    first.processBatch(batchOf([{ k: 'a', v: 1 }], [0]), out);
    first.onWatermark!(20, out);
    assert.deepEqual(changes(out), [['+I', 'a', 0, 10, 1, 1]]);
    const second = operator({ type: 'session', gap: 10 }, 0);
    open(second, roundTrip(first.snapshot!()));
    second.processBatch(batchOf([{ k: 'a', v: 2 }], [5]), out);
    second.onWatermark!(Number.POSITIVE_INFINITY, out);
    assert.ok(out.batches.every((b) => b.kinds === undefined || b === out.batches[0]));
    assert.deepEqual(changes(out), [['+I', 'a', 0, 15, 2, 3]]);
  });

  it('reads v1 state without allowed lateness and refuses it with lateness', () => {
    // What v1 snapshotted after { k: 'a', v: 1 } at 2.
    const v1 = {
      format: 'sluice.window_aggregate.v1',
      shape:
        '{"window":{"type":"tumbling","size":10,"offset":0},"time":"event","keyFields":["k"],"fields":[["n","count"],["total","sum"]]}',
      progress: Number.NEGATIVE_INFINITY,
      keyedInput: false,
      store: {
        windows: [
          {
            start: 0,
            end: 10,
            fired: false,
            groups: new Map([['a', { keyValues: ['a'], accumulators: [1, 1] }]]),
          },
        ],
      },
    };
    const restored = operator({ type: 'tumbling', size: 10 }, 0);
    open(restored, v1);
    const out = new CollectingOutput();
    restored.onWatermark!(Number.POSITIVE_INFINITY, out);
    assert.deepEqual(changes(out), [['+I', 'a', 0, 10, 1, 1]]);
    assert.throws(
      () => open(operator({ type: 'tumbling', size: 10 }, 5), v1),
      (err: unknown) =>
        err instanceof SluiceError &&
        err.code === 'CHECKPOINT_INCOMPATIBLE' &&
        /--from-scratch/.test(err.message),
    );
  });
});
