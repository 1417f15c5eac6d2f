import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { aggregateFunction } from '../aggregate/registry.ts';
import { SluiceError } from '../errors.ts';
import { agg, batchOf, CollectingOutput, countStar, open, roundTrip } from './test-support.ts';
import { createWindowAggregate, type WindowAggregateConfig } from './window-aggregate.ts';

function tumbling(overrides: Partial<WindowAggregateConfig> = {}) {
  return createWindowAggregate({
    stepId: 'w',
    window: { type: 'tumbling', size: 10 },
    time: 'event',
    keyFields: ['k'],
    fields: [countStar('n'), agg('total', 'sum', 'v')],
    allowedLateness: 0,
    ...overrides,
  });
}

describe('window aggregate: tumbling, event time', () => {
  it('fires each (key, window) once when the watermark reaches end − 1, in end order', () => {
    const op = tumbling();
    const out = new CollectingOutput();
    open(op);
    op.processBatch(
      batchOf(
        [
          { k: 'a', v: 1 },
          { k: 'b', v: 2 },
          { k: 'a', v: 3 },
          { k: 'a', v: 4 },
        ],
        [1, 5, 12, 3],
      ),
      out,
    );
    op.onWatermark!(8, out);
    assert.deepEqual(out.take(), []);
    op.processBatch(batchOf([{ k: 'b', v: 5 }], [9]), out);
    op.onWatermark!(9, out);
    assert.deepEqual(
      out.emitted.map((e) => e.time),
      [9, 9],
    );
    assert.deepEqual(out.take(), [
      { k: 'a', window_start: 0, window_end: 10, n: 2, total: 5 },
      { k: 'b', window_start: 0, window_end: 10, n: 2, total: 7 },
    ]);
    op.onWatermark!(9, out);
    op.onWatermark!(5, out);
    assert.deepEqual(out.take(), []);
    op.onWatermark!(30, out);
    assert.deepEqual(out.take(), [{ k: 'a', window_start: 10, window_end: 20, n: 1, total: 3 }]);
    op.onWatermark!(Number.POSITIVE_INFINITY, out);
    assert.deepEqual(out.take(), []);
    assert.equal(out.lateRecords.length, 0);
  });

  it('fires several windows of one watermark in end order and all open windows at Infinity, once', () => {
    const op = tumbling({ keyFields: [] });
    const out = new CollectingOutput();
    open(op);
    op.processBatch(batchOf([{ v: 1 }, { v: 2 }, { v: 3 }, { v: 4 }], [35, 5, 15, 99]), out);
    op.onWatermark!(40, out);
    assert.deepEqual(
      out.take().map((r) => [r.window_start, r.n]),
      [
        [0, 1],
        [10, 1],
        [30, 1],
      ],
    );
    op.onWatermark!(Number.POSITIVE_INFINITY, out);
    op.onWatermark!(Number.POSITIVE_INFINITY, out);
    assert.deepEqual(out.take(), [{ window_start: 90, window_end: 100, n: 1, total: 4 }]);
  });

  it('sends records whose window has fired to late, and accepts out-of-order records of open windows', () => {
    const op = tumbling();
    const out = new CollectingOutput();
    open(op);
    op.processBatch(batchOf([{ k: 'a', v: 1 }], [15]), out);
    op.onWatermark!(12, out);
    op.processBatch(
      batchOf(
        [
          { k: 'a', v: 2 },
          { k: 'a', v: 3 },
          { k: 'a', v: 4 },
        ],
        [9, 11, 10],
      ),
      out,
    );
    assert.deepEqual(
      out.lateRecords.map((l) => [l.record.v, l.time]),
      [[2, 9]],
    );
    assert.match(out.lateRecords[0].reason, /too late/);
    op.onWatermark!(19, out);
    assert.deepEqual(out.take(), [{ k: 'a', window_start: 10, window_end: 20, n: 3, total: 8 }]);
  });

  it('with allowed lateness, keeps fired state and emits each late change as an update of the fired result', () => {
    const op = tumbling({ allowedLateness: 10 });
    const out = new CollectingOutput();
    open(op);
    op.processBatch(
      batchOf(
        [
          { k: 'a', v: 1 },
          { k: 'b', v: 1 },
        ],
        [2, 3],
      ),
      out,
    );
    op.onWatermark!(9, out);
    assert.deepEqual(out.changes(), [
      ['+I', { k: 'a', window_start: 0, window_end: 10, n: 1, total: 1 }],
      ['+I', { k: 'b', window_start: 0, window_end: 10, n: 1, total: 1 }],
    ]);
    op.processBatch(
      batchOf(
        [
          { k: 'a', v: 5 },
          { k: 'a', v: 6 },
          { k: 'c', v: 7 },
        ],
        [4, 1, 0],
      ),
      out,
    );
    assert.deepEqual(
      out.emitted.map((e) => e.time),
      [9, 9, 9, 9, 9],
    );
    // As with one record per batch: each late record's change, in arrival order; a key first
    // seen late is an insert.
    assert.deepEqual(out.changes(), [
      ['-U', { k: 'a', window_start: 0, window_end: 10, n: 1, total: 1 }],
      ['+U', { k: 'a', window_start: 0, window_end: 10, n: 2, total: 6 }],
      ['-U', { k: 'a', window_start: 0, window_end: 10, n: 2, total: 6 }],
      ['+U', { k: 'a', window_start: 0, window_end: 10, n: 3, total: 12 }],
      ['+I', { k: 'c', window_start: 0, window_end: 10, n: 1, total: 7 }],
    ]);
    op.onWatermark!(18, out);
    op.processBatch(batchOf([{ k: 'b', v: 2 }], [9]), out);
    assert.deepEqual(out.changes(), [
      ['-U', { k: 'b', window_start: 0, window_end: 10, n: 1, total: 1 }],
      ['+U', { k: 'b', window_start: 0, window_end: 10, n: 2, total: 3 }],
    ]);
    op.onWatermark!(19, out);
    op.processBatch(batchOf([{ k: 'b', v: 3 }], [9]), out);
    assert.deepEqual(out.take(), []);
    assert.equal(out.lateRecords.length, 1);
  });

  it('with allowed lateness, a late record that leaves the result unchanged emits nothing', () => {
    const op = tumbling({ allowedLateness: 10, fields: [agg('top', 'max', 'v')] });
    const out = new CollectingOutput();
    open(op);
    op.processBatch(batchOf([{ k: 'a', v: 5 }], [2]), out);
    op.onWatermark!(9, out);
    assert.deepEqual(out.changes(), [['+I', { k: 'a', window_start: 0, window_end: 10, top: 5 }]]);
    op.processBatch(
      batchOf(
        [
          { k: 'a', v: 3 },
          { k: 'a', v: 5 },
        ],
        [4, 1],
      ),
      out,
    );
    assert.deepEqual(out.changes(), []);
    op.processBatch(batchOf([{ k: 'a', v: 8 }], [4]), out);
    assert.deepEqual(out.changes(), [
      ['-U', { k: 'a', window_start: 0, window_end: 10, top: 5 }],
      ['+U', { k: 'a', window_start: 0, window_end: 10, top: 8 }],
    ]);
  });

  it('without allowed lateness, batches carry no kinds (append-only)', () => {
    const op = tumbling();
    const out = new CollectingOutput();
    open(op);
    op.processBatch(batchOf([{ k: 'a', v: 5 }], [2]), out);
    op.onWatermark!(Number.POSITIVE_INFINITY, out);
    assert.equal(out.batches.length, 1);
    assert.equal(out.batches[0].kinds, undefined);
  });

  it('fires a window first created by a late record within lateness at the end of its batch', () => {
    const op = tumbling({ allowedLateness: 100 });
    const out = new CollectingOutput();
    open(op);
    op.onWatermark!(50, out);
    op.processBatch(batchOf([{ k: 'a', v: 1 }], [5]), out);
    assert.deepEqual(out.take(), [{ k: 'a', window_start: 0, window_end: 10, n: 1, total: 1 }]);
    op.onWatermark!(Number.POSITIVE_INFINITY, out);
    assert.deepEqual(out.take(), []);
  });

  it('groups by batch keys: `key` holds the key without key fields, and results keep their keys', () => {
    const op = tumbling({ keyFields: undefined });
    const out = new CollectingOutput();
    open(op);
    op.processBatch(batchOf([{ v: 1 }, { v: 2 }, { v: 3 }], [1, 2, 3], ['x', 'y', 'x']), out);
    op.onWatermark!(Number.POSITIVE_INFINITY, out);
    assert.deepEqual(
      out.emitted.map((e) => e.key),
      ['x', 'y'],
    );
    assert.deepEqual(out.take(), [
      { key: 'x', window_start: 0, window_end: 10, n: 2, total: 4 },
      { key: 'y', window_start: 0, window_end: 10, n: 1, total: 2 },
    ]);
  });

  it('groups by key fields over batch keys: `key` regroups an input keyed by key_by', () => {
    const op = tumbling({ keyFields: ['region'] });
    const out = new CollectingOutput();
    open(op);
    op.processBatch(
      batchOf(
        [
          { region: 'EU', v: 1 },
          { region: 'eu', v: 2 },
        ],
        [1, 2],
        ['eu', 'eu'],
      ),
      out,
    );
    op.onWatermark!(Number.POSITIVE_INFINITY, out);
    assert.deepEqual(out.take(), [
      { region: 'EU', window_start: 0, window_end: 10, n: 1, total: 1 },
      { region: 'eu', window_start: 0, window_end: 10, n: 1, total: 2 },
    ]);
  });

  it('keeps 1, "1", true and null apart as single-field keys; groups by several fields; a record without a key field is a dead letter', () => {
    const op = tumbling();
    const out = new CollectingOutput();
    open(op);
    const records = [
      { k: 1 },
      { k: '1' },
      { k: true },
      { k: null },
      {},
      { k: 1 },
      { k: { a: 1 } },
      { k: { a: 1 } },
    ];
    op.processBatch(
      batchOf(
        records,
        records.map(() => 1),
      ),
      out,
    );
    op.onWatermark!(Number.POSITIVE_INFINITY, out);
    assert.deepEqual(
      out.take().map((r) => [r.k, r.n]),
      [
        [1, 2],
        ['1', 1],
        [true, 1],
        [null, 1],
        [{ a: 1 }, 2],
      ],
    );
    assert.deepEqual(
      out.dead.splice(0).map((d) => [d.record, d.error.code]),
      [[{}, 'EXPR_MISSING_FIELD']],
    );
    const multi = tumbling({ keyFields: ['a', 'b'] });
    open(multi);
    const rows = [{ a: 1, b: 'x' }, { a: '1', b: 'x' }, { a: 1, b: 'x' }, { a: 1, b: null }, { a: 1 }];
    multi.processBatch(
      batchOf(
        rows,
        rows.map(() => 1),
      ),
      out,
    );
    multi.onWatermark!(Number.POSITIVE_INFINITY, out);
    assert.deepEqual(
      out.take().map((r) => [r.a, r.b, r.n]),
      [
        [1, 'x', 2],
        ['1', 'x', 1],
        [1, null, 1],
      ],
    );
    assert.deepEqual(
      out.dead.map((d) => [d.record, d.error.code]),
      [[{ a: 1 }, 'EXPR_MISSING_FIELD']],
    );
  });

  it('groups by keyFn into a `key` field', () => {
    const op = tumbling({ keyFields: undefined, keyFn: (r) => String(r.user).toLowerCase() });
    const out = new CollectingOutput();
    open(op);
    op.processBatch(
      batchOf(
        [
          { user: 'Ann', v: 1 },
          { user: 'ann', v: 1 },
        ],
        [1, 2],
      ),
      out,
    );
    op.onWatermark!(Number.POSITIVE_INFINITY, out);
    assert.deepEqual(out.take(), [{ key: 'ann', window_start: 0, window_end: 10, n: 2, total: 2 }]);
  });

  it('computes every aggregate per window, NULL-aware', () => {
    const op = tumbling({
      keyFields: [],
      fields: [
        countStar('n'),
        agg('nv', 'count', 'v'),
        { name: 'dv', fn: aggregateFunction('count', { distinct: true }), arg: (r) => r.v },
        agg('total', 'sum', 'v'),
        agg('mean', 'avg', 'v'),
        agg('lo', 'min', 'v'),
        agg('hi', 'max', 'v'),
        agg('first', 'first', 'v'),
        agg('last', 'last', 'v'),
        agg('approx', 'approx_count_distinct', 'v'),
        agg('p50', 'percentile', 'v', [0.5]),
      ],
    });
    const out = new CollectingOutput();
    open(op);
    const vs = [null, 4, 2, 4, undefined, 8, 2];
    op.processBatch(
      batchOf(
        vs.map((v) => ({ v })),
        vs.map((_, i) => i),
      ),
      out,
    );
    op.onWatermark!(Number.POSITIVE_INFINITY, out);
    const [r] = out.take();
    assert.deepEqual(
      { ...r, p50: Math.round(r.p50 as number) },
      {
        window_start: 0,
        window_end: 10,
        n: 7,
        nv: 5,
        dv: 3,
        total: 20,
        mean: 4,
        lo: 2,
        hi: 8,
        first: 4,
        last: 2,
        approx: 3,
        p50: 4,
      },
    );
  });

  it('dead-letters records without a finite time or whose argument throws, and accounts for every record', () => {
    const op = tumbling({
      fields: [
        countStar('n'),
        {
          name: 'x',
          fn: aggregateFunction('sum'),
          arg: (r) => {
            if (r.v === 'boom') throw new Error('boom');
            return r.v;
          },
        },
      ],
    });
    const out = new CollectingOutput();
    open(op);
    op.onWatermark!(20, out);
    const records = [
      { k: 'a', v: 1 },
      { k: 'a', v: 'boom' },
      { k: 'a', v: 2 },
      { k: 'a', v: 3 },
    ];
    op.processBatch(batchOf(records, [25, 26, Number.NaN, 5]), out);
    assert.deepEqual(
      out.dead.map((d) => d.error.code),
      ['USER_FUNCTION_FAILED', 'EVENT_TIME_INVALID'],
    );
    assert.equal(out.lateRecords.length, 1);
    op.onWatermark!(Number.POSITIVE_INFINITY, out);
    assert.deepEqual(out.take(), [{ k: 'a', window_start: 20, window_end: 30, n: 1, x: 1 }]);
  });

  it('rejects invalid configs with CONFIG_INVALID naming the step', () => {
    const bad: Partial<WindowAggregateConfig>[] = [
      { window: { type: 'hopping', size: 10, slide: 20 } },
      { allowedLateness: -1 },
      { allowedLateness: Number.POSITIVE_INFINITY },
      { fields: [countStar('n'), countStar('n')] },
      { fields: [countStar('window_end')] },
      { keyFields: ['n'] },
      { keyFields: undefined, keyFn: () => '', fields: [countStar('key')] },
      { time: 'ingest' as 'event' },
    ];
    for (const overrides of bad) {
      assert.throws(
        () => tumbling(overrides),
        (err: unknown) => err instanceof SluiceError && err.code === 'CONFIG_INVALID' && err.step === 'w',
        JSON.stringify(overrides),
      );
    }
  });

  it('refuses state made by a differently configured step', () => {
    const op = tumbling();
    open(op);
    const state = roundTrip(op.snapshot!());
    assert.throws(
      () => open(tumbling({ window: { type: 'tumbling', size: 20 } }), state),
      (err: unknown) => err instanceof SluiceError && err.code === 'CHECKPOINT_INCOMPATIBLE',
    );
    assert.throws(
      () => open(tumbling(), { nonsense: true }),
      (err: unknown) => err instanceof SluiceError && err.code === 'CHECKPOINT_INCOMPATIBLE',
    );
    open(tumbling(), state);
  });
});
