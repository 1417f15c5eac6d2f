/**
 * Engine semantics: every record read is accounted for under bad input — malformed lines,
 * invalid event times, schema violations, expression failures, filtered and late records — in
 * the job counters and per step, and every dead letter says where it came from and why.
 */

import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { ManualClock } from '../testing/index.ts';
import { assertAccounting, Harness, planFrom, testRegistry } from './engine-test-support.ts';
import { Job } from './job.ts';

const registry = testRegistry();
const h = new Harness();
afterEach(() => h.stopAll());

/** Input lines, each with what should become of it. */
const lines: [string, string][] = [
  ['{"k":"a","ts":1000,"amount":20,"items":2,"rate":0.1}', 'absorbed'],
  ['{"k":"a","ts":1500,"amount":', 'DECODE_FAILED'],
  ['{"k":"b","ts":2000,"amount":"12","items":1,"rate":0.1}', 'SCHEMA_VIOLATION'],
  ['{"k":"a","ts":3000,"amount":15,"items":0,"rate":0.1}', 'EXPR_DIVISION_BY_ZERO'],
  ['{"k":"b","ts":4000,"amount":30,"items":3}', 'EXPR_MISSING_FIELD'],
  ['{"k":"b","ts":5000,"amount":5,"items":1,"rate":0.1}', 'filtered'],
  ['{"k":"a","ts":"soon","amount":10,"items":1,"rate":0}', 'EVENT_TIME_INVALID'],
  ['{"k":"b","ts":61000,"amount":40,"items":4,"rate":0.2}', 'absorbed'],
  ['{"k":"a","ts":59000,"amount":50,"items":5,"rate":0.1}', 'LATE_RECORD'],
  ['not json at all', 'DECODE_FAILED'],
  ['{"k":"a","ts":62000,"amount":10,"items":1,"rate":0.1}', 'absorbed'],
  ['{"k":"b","ts":63000,"items":1,"rate":0.1}', 'SCHEMA_VIOLATION'],
  ['{"k":"a","ts":64000,"amount":12,"items":0,"rate":0.5}', 'EXPR_DIVISION_BY_ZERO'],
];

const stepOf: { [code: string]: string } = {
  DECODE_FAILED: 'orders',
  EVENT_TIME_INVALID: 'orders',
  SCHEMA_VIOLATION: 'valid',
  EXPR_DIVISION_BY_ZERO: 'priced',
  EXPR_MISSING_FIELD: 'priced',
  LATE_RECORD: 'agg',
};

test('records in = absorbed + filtered + dead letters + late, per job and per step', async () => {
  const dir = await h.dir();
  const text = lines.map(([l]) => `${l}\n`).join('');
  await writeFile(join(dir, 'orders.jsonl'), text);
  const plan = planFrom(
    `
name: accounting
settings: { checkpoint: { interval: 0, dir: ./ckpt }, batch_size: 1 }
sources:
  orders: { type: file, path: ./orders.jsonl, format: json, event_time: { field: ts } }
steps:
  - id: valid
    type: validate
    schema:
      type: object
      required: [k, ts, amount, items]
      properties: { k: { type: string }, amount: { type: number }, items: { type: integer } }
  - { id: priced, type: map, fields: { unit: amount / items, tax: amount * rate } }
  - { id: big, type: filter, where: amount >= 10 }
  - id: agg
    type: aggregate
    key: [k]
    window: { type: tumbling, size: 1m }
    fields: { n: count(*), revenue: sum(amount), tax: sum(tax) }
    on_late: dead_letter
sinks:
  out: { type: file, path: ./out/results.jsonl }
dead_letter: { type: file, path: ./out/dead.jsonl }
`,
    dir,
    registry,
  );
  const job = await Job.create(plan, { registry, clock: new ManualClock(7), tickInterval: 5 });
  const { status, metrics: m } = await h.run(job);
  assert.equal(status, 'completed');

  const fates = lines.map(([, fate]) => fate);
  const howMany = (fate: string) => fates.filter((f) => f === fate).length;
  const late = howMany('LATE_RECORD');
  const absorbed = howMany('absorbed');
  const filtered = howMany('filtered');
  const dead = lines.length - absorbed - filtered - late;
  assert.deepEqual(
    { in: m.recordsIn, late: m.late, filtered: m.filtered, dead: m.deadLetters, absorbed: m.steps.agg.out },
    { in: lines.length, late, filtered, dead, absorbed },
  );
  assertAccounting(m, 'agg');
  assert.deepEqual(m.sources.orders, { in: lines.length, dead: 3 });
  assert.deepEqual(m.steps.valid, {
    in: 10,
    out: 8,
    filtered: 0,
    dead: 2,
    late: 0,
    results: 0,
    side: 0,
    unread: 0,
  });
  assert.deepEqual(m.steps.priced, {
    in: 8,
    out: 5,
    filtered: 0,
    dead: 3,
    late: 0,
    results: 0,
    side: 0,
    unread: 0,
  });
  assert.deepEqual(m.steps.big, {
    in: 5,
    out: 4,
    filtered: 1,
    dead: 0,
    late: 0,
    results: 0,
    side: 0,
    unread: 0,
  });
  assert.deepEqual(m.steps.agg, {
    in: 4,
    out: 3,
    filtered: 0,
    dead: 0,
    late: 1,
    results: 3,
    side: 0,
    unread: 0,
  });

  const results = (await readFile(join(dir, 'out/results.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(results, [
    { k: 'a', window_start: 0, window_end: 60_000, n: 1, revenue: 20, tax: 2 },
    { k: 'b', window_start: 60_000, window_end: 120_000, n: 1, revenue: 40, tax: 8 },
    { k: 'a', window_start: 60_000, window_end: 120_000, n: 1, revenue: 10, tax: 1 },
  ]);
  assert.equal(m.recordsOut, 3);

  // Every dead letter (late ones included, on_late: dead_letter) names its step, code, reason,
  // payload and the file, byte offset and event time it came from.
  const letters = (await readFile(join(dir, 'out/dead.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(letters.length, dead + late);
  const file = join(dir, 'orders.jsonl');
  const lineAt = new Map<number, number>();
  for (let i = 0, offset = 0; i < lines.length; i++) {
    lineAt.set(offset, i);
    offset += Buffer.byteLength(lines[i][0]) + 1;
  }
  const seen = new Set<number>();
  for (const letter of letters) {
    const where = JSON.stringify(letter);
    assert.equal(letter.source, 'orders', where);
    assert.equal(letter.partition, file, where);
    assert.equal(typeof letter.offset, 'number', where);
    const i = lineAt.get(letter.offset);
    assert.ok(i !== undefined, `offset ${letter.offset} is the start of a line: ${where}`);
    seen.add(i);
    const [raw, fate] = lines[i];
    assert.equal(letter.code, fate, where);
    assert.equal(letter.step, stepOf[fate], where);
    assert.ok(typeof letter.message === 'string' && letter.message.length > 10, where);
    // The payload is the record as the failing step got it: raw text before decoding, and the
    // aggregate's late record carries the fields the map added.
    const record = fate === 'DECODE_FAILED' ? raw : JSON.parse(raw);
    if (fate === 'LATE_RECORD') Object.assign(record, { unit: record.amount / record.items, tax: 5 });
    assert.deepEqual(letter.payload, record, where);
    assert.equal(letter.failedAt, 7, where);
    const ts = fate === 'DECODE_FAILED' ? undefined : JSON.parse(raw).ts;
    if (typeof ts === 'number') assert.equal(letter.eventTime, ts, where);
  }
  assert.equal(seen.size, letters.length, 'one dead letter per failed line');
  const byCode = (code: string) => letters.find((l) => l.code === code).message;
  assert.match(byCode('SCHEMA_VIOLATION'), /amount/);
  assert.match(byCode('EXPR_MISSING_FIELD'), /'rate'/);
  assert.match(byCode('EVENT_TIME_INVALID'), /'ts'/);
});
