/**
 * `window_top_n` against a plain loop over the same rows: each window's first n rows per key,
 * emitted once, when the watermark passes the window's end, in (end, key) order; rows of a window
 * already emitted are late. For batch sizes 1, 7 and 1024, and across restores at several cuts
 * (whole and split by key group); and the state holds open windows only.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Row } from '../record.ts';
import { watermarksBefore } from '../runtime/engine-test-support.ts';
import { seededRandom } from '../testing/random.ts';
import { batchOf, CollectingOutput, open } from '../window/test-support.ts';
import { assertRestores, type KeyedScenario } from './keyed-restore-test-support.ts';
import type { OrderTerm } from './rank-order.ts';
import { createWindowTopN } from './window-top-n.ts';

const BOUND = 30;
const SIZE = 100;

/** Rows 7 ms apart give or take 25, in 100 ms windows, three keys, prices with ties; every 53rd 300 ms behind. */
function input(count: number): Row[] {
  const random = seededRandom(5);
  return Array.from({ length: count }, (_, i) => {
    let ts = 10_000 + i * 7 + Math.floor(random() * 51) - 25;
    if (i % 53 === 30) ts -= 300;
    const start = ts - (ts % SIZE);
    return {
      i,
      k: `k${Math.floor(random() * 3)}`,
      price: Math.floor(random() * 10),
      ts,
      window_start: start,
      window_end: start + SIZE,
    };
  });
}

const rows = input(1200);
const watermarks = watermarksBefore(rows, BOUND);
const price: OrderTerm = { text: 'price DESC', value: (r) => r.price, descending: true };
const keyOf = (r: Row) => `${r.window_start}/${r.window_end}/${r.k}`;

function scenario(n: number, rank: boolean): KeyedScenario {
  return {
    make: () =>
      createWindowTopN({
        stepId: 's',
        keyFn: (r) => r.k as string,
        orderBy: [price],
        n,
        ...(rank ? { rankField: 'rn' } : {}),
      }),
    records: rows,
    times: rows.map((r) => r.ts as number),
    watermarks,
    keyOf,
  };
}

/** The plain loop: late rows, then each window and key's first n by price (stable), in (end - 1, key) order. */
function expected(n: number, rank: boolean): { emitted: string[]; late: number[] } {
  const late: number[] = [];
  const groups = new Map<string, Row[]>();
  rows.forEach((r, i) => {
    if ((r.window_end as number) - 1 <= watermarks[i]) {
      late.push(r.i as number);
      return;
    }
    const list = groups.get(keyOf(r)) ?? [];
    list.push(r);
    groups.set(keyOf(r), list);
  });
  const keys = [...groups.keys()].sort((a, b) => {
    const ea = groups.get(a)![0].window_end as number;
    const eb = groups.get(b)![0].window_end as number;
    return ea - eb || (a < b ? -1 : a > b ? 1 : 0);
  });
  const emitted: string[] = [];
  for (const key of keys) {
    const sorted = [...groups.get(key)!].sort((a, b) => (b.price as number) - (a.price as number));
    sorted.slice(0, n).forEach((r, j) => {
      emitted.push(JSON.stringify([rank ? { ...r, rn: j + 1 } : r, (r.window_end as number) - 1]));
    });
  }
  return { emitted, late };
}

describe('window_top_n', () => {
  for (const [n, rank] of [
    [3, true],
    [1, false],
  ] as const) {
    test(`n = ${n}${rank ? ' with ranks' : ''}: a plain loop's rows, once per window, at any batch size and across restores`, () => {
      const straight = assertRestores(scenario(n, rank), [1, 500, 1100]);
      const want = expected(n, rank);
      assert.ok(want.late.length >= 5, `${want.late.length} late rows`);
      assert.deepEqual(
        straight.emitted.map((e) => JSON.stringify([e.record, e.time])),
        want.emitted,
      );
      assert.deepEqual(
        straight.late.map((l) => l.record.i),
        want.late,
      );
    });
  }

  test('state: only windows still open; a record without window bounds is a dead letter', () => {
    const op = createWindowTopN({ stepId: 's', orderBy: [price], n: 2 });
    open(op);
    const out = new CollectingOutput();
    op.processBatch(
      batchOf(
        [
          { price: 1, window_start: 0, window_end: 100 },
          { price: 2, window_start: 100, window_end: 200 },
          { price: 3 },
        ],
        [10, 110, 120],
      ),
      out,
    );
    op.onWatermark?.(99, out);
    assert.deepEqual(
      out.emitted.map((e) => e.record.price),
      [1],
    );
    const snapshot = op.snapshot?.() as { keyed: Map<string, Map<string, unknown>> };
    assert.deepEqual([...(snapshot.keyed.get('windows')?.keys() ?? [])], ['100/200/']);
    assert.equal(out.dead.length, 1);
    assert.match(out.dead[0].error.message, /window_start and window_end/);
  });

  test('ties: the earlier arrival ranks first, or with ties: later the later one (window deduplication keeping the last row)', () => {
    const ts: OrderTerm = { text: 'ts DESC', value: (r) => r.ts, descending: true };
    for (const [ties, want] of [
      ['earlier', 'a'],
      ['later', 'c'],
    ] as const) {
      const op = createWindowTopN({ stepId: 's', orderBy: [ts], n: 1, ties });
      open(op);
      const out = new CollectingOutput();
      const bounds = { window_start: 0, window_end: 100 };
      op.processBatch(
        batchOf(
          [
            { id: 'a', ts: 50, ...bounds },
            { id: 'b', ts: 10, ...bounds },
            { id: 'c', ts: 50, ...bounds },
          ],
          [50, 10, 50],
        ),
        out,
      );
      op.onWatermark?.(Number.POSITIVE_INFINITY, out);
      assert.deepEqual(
        out.emitted.map((e) => e.record.id),
        [want],
        ties,
      );
    }
  });
});
