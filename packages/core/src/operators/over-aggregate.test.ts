/**
 * `over_aggregate` against DuckDB's window functions over the same JSON lines (DuckDB shares no
 * code with the engine): ROWS, RANGE and unbounded frames, several keys, ties in time (RANGE
 * peers), NULLs and late rows, for batch sizes 1, 7 and 1024. Then the operator alone: restores
 * from a checkpoint at several cuts (whole and split by key group), dead letters, and the state
 * it keeps — a ROWS frame n rows, a RANGE frame nothing once the watermark has passed it.
 */

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type { Row } from '../record.ts';
import {
  assertAccounting,
  planFrom,
  tempDir,
  testRegistry,
  watermarksBefore,
} from '../runtime/engine-test-support.ts';
import { Job } from '../runtime/job.ts';
import { memorySinkStore } from '../testing/index.ts';
import { seededRandom } from '../testing/random.ts';
import { agg, batchOf, CollectingOutput, countStar, open } from '../window/test-support.ts';
import { assertRestores, type KeyedScenario } from './keyed-restore-test-support.ts';
import { createOverAggregate } from './over-aggregate.ts';
import type { OverFrame } from './over-frame.ts';

const registry = testRegistry();
const BOUND = 50;
const COUNT = 1500;
const BATCH_SIZES = [1, 7, 1024] as const;

/**
 * Rows of five keys, 10 ms apart give or take 40 (within the bound of 50), every seventh on the
 * time of the row before it (peers), a price that is NULL one time in twenty, and every 97th row
 * 400 ms behind (late).
 */
function input(count: number): Row[] {
  const random = seededRandom(11);
  const rows: Row[] = [];
  for (let i = 0; i < count; i++) {
    let ts = 1_000_000 + i * 10 + Math.floor(random() * 81) - 40;
    if (i % 7 === 3) ts = rows[i - 1].ts as number;
    if (i % 97 === 50) ts -= 400;
    const roll = random();
    rows.push({
      i,
      k: `k${Math.floor(random() * 5)}`,
      ts,
      price: roll < 0.05 ? null : Math.floor(random() * 100),
    });
  }
  return rows;
}

const rows = input(COUNT);
const late = new Set(
  (() => {
    const wm = watermarksBefore(rows, BOUND);
    return rows.filter((r, i) => (r.ts as number) <= wm[i]).map((r) => r.i as number);
  })(),
);

let dir: string;
let cleanup: () => Promise<void>;
let duck: DuckDBInstance;
let sql: DuckDBConnection;

before(async () => {
  ({ dir, cleanup } = await tempDir());
  await writeFile(join(dir, 'rows.jsonl'), `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
  duck = await DuckDBInstance.create(':memory:');
  sql = await duck.connect();
  await sql.run(
    `CREATE TABLE rows AS SELECT * FROM read_json('${join(dir, 'rows.jsonl')}', format = 'newline_delimited', columns = {i: 'BIGINT', k: 'VARCHAR', ts: 'BIGINT', price: 'BIGINT'})`,
  );
  await sql.run(`CREATE TABLE late AS SELECT unnest([${[...late].join(', ')}]::BIGINT[]) AS i`);
});

after(async () => {
  sql?.closeSync();
  duck?.closeSync();
  await cleanup?.();
});

/** A number as text, rounded to 9 significant digits (an average may differ in its last bit). */
const num = (v: unknown) =>
  typeof v === 'number' || typeof v === 'bigint' ? Number(Number(v).toPrecision(9)) : v;

/**
 * The output rows as `i:total,bids,top,avg[,first]` texts, in output order. `first` only where
 * the frame orders rows by (time, arrival): in a RANGE frame DuckDB orders peers in no fixed way.
 */
function texts(list: readonly Row[], first: boolean): string[] {
  return list.map(
    (r) => `${r.i}:${[r.total, r.bids, r.top, r.average, ...(first ? [r.first] : [])].map(num).join(',')}`,
  );
}

let runs = 0;

async function sluice(frame: string, batch: number): Promise<{ out: Row[]; late: number[] }> {
  const name = `over-${++runs}`;
  const yaml = `
name: ${name}
settings: { checkpoint: { interval: 0s, dir: ./checkpoints-${runs} }, batch_size: ${batch} }
sources:
  rows: { type: file, path: ./rows.jsonl, format: json, event_time: { field: ts, max_out_of_orderness: ${BOUND}ms } }
steps:
  - id: over
    type: over_aggregate
    input: rows
    key: [k]
    ${frame}
    fields: { total: sum(price), bids: count(*), top: max(price), first: first(price), average: avg(price) }
sinks:
  out: { type: memory, store: ${name}-out, input: over }
dead_letter: { type: memory, store: ${name}-dead }
late_output: { type: memory, store: ${name}-late }
`;
  const job = await Job.create(planFrom(yaml, dir, registry), { registry, fromScratch: true });
  const result = await job.run();
  assert.equal(result.status, 'completed');
  assertAccounting(result.metrics);
  assert.deepEqual(memorySinkStore(`${name}-dead`).written, [], 'no dead letters');
  return {
    out: memorySinkStore(`${name}-out`).written.map((w) => w.record),
    late: memorySinkStore(`${name}-late`).written.map((w) => w.record.i as number),
  };
}

async function oracle(frame: string, first: boolean): Promise<string[]> {
  const reader = await sql.runAndReadAll(
    `SELECT i, sum(price) OVER w AS total, count(*) OVER w AS bids, max(price) OVER w AS top,
            first_value(price IGNORE NULLS) OVER w AS first, avg(price) OVER w AS average
     FROM rows WHERE i NOT IN (SELECT i FROM late)
     WINDOW w AS (PARTITION BY k ORDER BY ${frame})
     ORDER BY ts, i`,
  );
  return texts(reader.getRowObjects() as Row[], first);
}

const FRAMES = [
  { name: 'ROWS 3 preceding', yaml: 'rows: 3', sql: 'ts, i ROWS BETWEEN 3 PRECEDING AND CURRENT ROW' },
  { name: 'ROWS 0 preceding', yaml: 'rows: 0', sql: 'ts, i ROWS BETWEEN CURRENT ROW AND CURRENT ROW' },
  {
    name: 'ROWS unbounded',
    yaml: 'rows: unbounded',
    sql: 'ts, i ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW',
  },
  { name: 'RANGE 100 ms', yaml: 'range: 100ms', sql: 'ts RANGE BETWEEN 100 PRECEDING AND CURRENT ROW' },
  {
    name: 'RANGE 0 ms (peers only)',
    yaml: 'range: 0ms',
    sql: 'ts RANGE BETWEEN CURRENT ROW AND CURRENT ROW',
  },
  {
    name: 'RANGE unbounded (the default)',
    yaml: '',
    sql: 'ts RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW',
  },
];

describe('over_aggregate against DuckDB over the same JSON lines', () => {
  test('the input has peers, NULLs and late rows', () => {
    assert.ok(late.size >= 10, `${late.size} late rows`);
    assert.ok(rows.some((r) => r.price === null));
  });

  for (const frame of FRAMES) {
    test(`${frame.name}: every row once, in time order, with DuckDB's results; late rows counted`, async () => {
      const first = frame.yaml.startsWith('rows');
      const want = await oracle(frame.sql, first);
      assert.equal(want.length, COUNT - late.size);
      for (const batch of BATCH_SIZES) {
        const got = await sluice(frame.yaml, batch);
        assert.deepEqual(
          got.late.sort((a, b) => a - b),
          [...late].sort((a, b) => a - b),
          `batch ${batch}: late`,
        );
        // Emitted in (time, arrival) order, as DuckDB's ORDER BY ts, i lists them.
        const text = texts(got.out, first);
        const at = text.findIndex((t, j) => t !== want[j]);
        assert.equal(at, -1, `batch size ${batch}: row ${at}: ${text[at]}, DuckDB ${want[at]}`);
        assert.equal(text.length, want.length);
      }
    });
  }
});

function scenario(frame: OverFrame): KeyedScenario {
  const keys = rows.map((r) => r.k as string);
  return {
    make: () =>
      createOverAggregate({
        stepId: 's',
        fields: [agg('total', 'sum', 'price'), countStar('bids'), agg('top', 'max', 'price')],
        frame,
        time: 'event',
      }),
    records: rows,
    times: rows.map((r) => r.ts as number),
    watermarks: watermarksBefore(rows, BOUND),
    keys,
    keyOf: (_r, i) => keys[i],
  };
}

describe('over_aggregate operator', () => {
  for (const frame of [
    { unit: 'rows', preceding: 4 },
    { unit: 'range', preceding: 120 },
    { unit: 'range', preceding: Number.POSITIVE_INFINITY },
  ] as const) {
    test(`${frame.unit} ${frame.preceding}: a restore at any cut gives the uninterrupted output`, () => {
      const straight = assertRestores(scenario(frame), [1, 400, 1111]);
      assert.equal(straight.emitted.length, COUNT - late.size);
      assert.equal(straight.late.length, late.size);
    });
  }

  test('a value of the wrong type is a dead letter, and the others go on', () => {
    const op = createOverAggregate({
      stepId: 's',
      fields: [agg('total', 'sum', 'price')],
      frame: { unit: 'rows', preceding: 1 },
      time: 'event',
    });
    open(op);
    const out = new CollectingOutput();
    op.processBatch(
      batchOf([{ price: 1 }, { price: 'two' }, { price: 3 }], [10, 20, 30], ['a', 'a', 'a']),
      out,
    );
    op.onWatermark?.(Number.POSITIVE_INFINITY, out);
    assert.deepEqual(
      out.emitted.map((e) => e.record.total),
      [1, 4],
    );
    assert.deepEqual(
      out.dead.map((d) => d.record),
      [{ price: 'two' }],
    );
  });

  test('state: a ROWS frame keeps n rows per key, a RANGE frame none once the watermark passed it', () => {
    for (const [frame, kept] of [
      [{ unit: 'rows', preceding: 2 } as const, 3],
      [{ unit: 'range', preceding: 100 } as const, 0],
    ] as const) {
      const op = createOverAggregate({ stepId: 's', fields: [countStar('n')], frame, time: 'event' });
      open(op);
      const out = new CollectingOutput();
      const records = Array.from({ length: 50 }, (_, i) => ({ i }));
      op.processBatch(
        batchOf(
          records,
          records.map((_, i) => 1000 + i),
          records.map((_, i) => `k${i % 5}`),
        ),
        out,
      );
      op.onWatermark?.(1049 + 100, out);
      assert.equal(out.emitted.length, 50);
      const snapshot = op.snapshot?.() as {
        keyed: Map<string, Map<string, { times: number[]; head: number }>>;
      };
      const frames = snapshot.keyed.get('frames') ?? new Map();
      const held = [...frames.values()].map((s) => s.times.length - s.head);
      if (kept === 0) assert.deepEqual(held, [], `${frame.unit}: every key forgotten`);
      else assert.deepEqual(held, [3, 3, 3, 3, 3], `${frame.unit}: n + 1 rows per key`);
    }
  });

  test('RANGE peers share one result; ROWS peers do not', () => {
    for (const [unit, want] of [
      ['range', [3, 3, 3, 4]],
      ['rows', [1, 2, 3, 4]],
    ] as const) {
      const op = createOverAggregate({
        stepId: 's',
        fields: [countStar('n')],
        frame: { unit, preceding: Number.POSITIVE_INFINITY },
        time: 'event',
      });
      open(op);
      const out = new CollectingOutput();
      op.processBatch(batchOf([{}, {}, {}, {}], [5, 5, 5, 6], ['a', 'a', 'a', 'a']), out);
      op.onWatermark?.(10, out);
      assert.deepEqual(
        out.emitted.map((e) => e.record.n),
        want,
        unit,
      );
    }
  });
});

describe('over_aggregate in processing time, and its ttl', () => {
  test('processing time: rows are taken at once, a batch is one instant, RANGE reaches back on the clock', () => {
    const op = createOverAggregate({
      stepId: 's',
      fields: [countStar('n')],
      frame: { unit: 'range', preceding: 100 },
      time: 'processing',
    });
    const clock = open(op);
    const out = new CollectingOutput();
    clock.set(1000);
    op.processBatch(batchOf([{ i: 0 }, { i: 1 }], [5, 1], ['a', 'a']), out);
    clock.set(1050);
    op.processBatch(batchOf([{ i: 2 }], [2], ['a']), out);
    clock.set(1150);
    op.onProcessingTime?.(1150, out);
    op.processBatch(batchOf([{ i: 3 }], [3], ['a']), out);
    assert.deepEqual(
      out.emitted.map((e) => [e.record.i, e.record.n, e.time]),
      [
        [0, 2, 5],
        [1, 2, 1],
        [2, 3, 2],
        [3, 2, 3],
      ],
    );
  });

  test('ttl: a key not written for that long starts a new frame', () => {
    const op = createOverAggregate({
      stepId: 's',
      fields: [countStar('n')],
      frame: { unit: 'range', preceding: Number.POSITIVE_INFINITY },
      time: 'event',
      ttl: 1000,
    });
    const clock = open(op);
    const out = new CollectingOutput();
    op.processBatch(batchOf([{}, {}], [10, 20], ['a', 'b']), out);
    op.onWatermark?.(30, out);
    clock.set(600);
    op.processBatch(batchOf([{}], [40], ['b']), out);
    op.onWatermark?.(50, out);
    clock.set(1200);
    op.onProcessingTime?.(1200, out);
    op.processBatch(batchOf([{}, {}], [60, 70], ['a', 'b']), out);
    op.onWatermark?.(80, out);
    // a: forgotten at 1000 (written at 0); b: written at 600, still there.
    assert.deepEqual(
      out.emitted.map((e) => [e.key, e.record.n]),
      [
        ['a', 1],
        ['b', 1],
        ['b', 2],
        ['a', 1],
        ['b', 3],
      ],
    );
  });
});
