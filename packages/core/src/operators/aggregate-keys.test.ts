/**
 * The `aggregate` step's `key`: entries are field names checked like expressions — a record
 * without a key field is a dead letter, and an expression key is refused when the step is built
 * (so `sluice validate` reports it) with a message that says to compute it in a `map` first.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SluiceError } from '../errors.ts';
import type { Operator } from '../operator.ts';
import type { Row } from '../record.ts';
import { planFrom, tempDir, testRegistry } from '../runtime/engine-test-support.ts';
import { Job } from '../runtime/job.ts';
import { ManualClock } from '../testing/index.ts';
import { batchOf, CollectingOutput } from '../window/test-support.ts';
import { aggregateStep } from './aggregate-step.ts';
import { dedupeStep } from './dedupe-step.ts';
import { createStep } from './step-test-support.ts';

const stepInfo = { id: 'agg', baseDir: '.', clock: new ManualClock(0), functions: new Map() };

function aggregate(key: string[], fields: { [name: string]: string } = { n: 'count(*)' }): Operator {
  const op = createStep(
    aggregateStep,
    {
      key,
      window: { type: 'tumbling', size: '10ms' },
      time: 'event',
      fields,
      allowed_lateness: '0s',
      on_late: 'late_output',
    },
    stepInfo,
  );
  op.open?.({ stepId: 'agg', restored: undefined, clock: new ManualClock(0), watermark: () => 0 });
  return op;
}

/** Runs the records (all at time 1) through the step, fires the window, returns the output. */
function run(op: Operator, records: Row[], keys?: string[]): CollectingOutput {
  const out = new CollectingOutput();
  op.processBatch(
    batchOf(
      records,
      records.map(() => 1),
      keys,
    ),
    out,
  );
  op.onWatermark!(Number.POSITIVE_INFINITY, out);
  return out;
}

function buildError(key: string[]): SluiceError {
  try {
    aggregate(key);
  } catch (err) {
    assert.ok(err instanceof SluiceError, String(err));
    return err;
  }
  assert.fail(`key ${JSON.stringify(key)} was accepted`);
}

describe('aggregate step: key', () => {
  it('a misspelt key field dead-letters every record instead of grouping them under null', () => {
    const out = run(aggregate(['K']), [{ k: 'a' }, { k: 'b' }]);
    assert.deepEqual(out.take(), []);
    assert.equal(out.dead.length, 2);
    for (const { error } of out.dead) {
      assert.equal(error.code, 'EXPR_MISSING_FIELD');
      assert.match(error.message, /'K'/);
      assert.match(error.message, /case-sensitive/);
    }
  });

  it('a record without one of the key fields is a dead letter; a null key value is a group', () => {
    const out = run(aggregate(['region', 'city']), [
      { region: 'eu', city: 'Oslo' },
      { region: 'eu' },
      { region: null, city: 'Lima' },
      { city: 'Oslo' },
      { region: 'eu', city: 'Oslo' },
    ]);
    assert.deepEqual(out.take(), [
      { region: 'eu', city: 'Oslo', window_start: 0, window_end: 10, n: 2 },
      { region: null, city: 'Lima', window_start: 0, window_end: 10, n: 1 },
    ]);
    assert.deepEqual(
      out.dead.map((d) => [d.record, d.error.code]),
      [
        [{ region: 'eu' }, 'EXPR_MISSING_FIELD'],
        [{ city: 'Oslo' }, 'EXPR_MISSING_FIELD'],
      ],
    );
    assert.match(out.dead[0].error.message, /'city'/);
    assert.match(out.dead[1].error.message, /'region'/);
  });

  it('key fields are checked when the input is grouped by an upstream key_by too', () => {
    const out = run(aggregate(['region']), [{ region: 'eu' }, { Region: 'eu' }], ['eu', 'eu']);
    assert.deepEqual(out.take(), [{ region: 'eu', window_start: 0, window_end: 10, n: 1 }]);
    assert.equal(out.dead.length, 1);
    assert.equal(out.dead[0].error.code, 'EXPR_MISSING_FIELD');
  });

  it('key fields regroup an input keyed by an upstream key_by (by store, counted by region)', () => {
    const records = [
      { store: 's1', region: 'eu' },
      { store: 's2', region: 'eu' },
      { store: 's3', region: 'us' },
      { store: 's1', region: 'eu' },
    ];
    const out = run(aggregate(['region']), records, ['s1', 's2', 's3', 's1']);
    assert.deepEqual(
      out.take().sort((a, b) => String(a.region).localeCompare(String(b.region))),
      [
        { region: 'eu', window_start: 0, window_end: 10, n: 3 },
        { region: 'us', window_start: 0, window_end: 10, n: 1 },
      ],
    );
    assert.ok(
      out.batches.every((b) => b.keys === undefined),
      'the results are no longer keyed by store',
    );
  });

  it('a field that objects inherit is missing unless the record has it', () => {
    const out = run(aggregate(['constructor']), [{ constructor: 'x' }, {}]);
    assert.deepEqual(out.take(), [{ constructor: 'x', window_start: 0, window_end: 10, n: 1 }]);
    assert.equal(out.dead.length, 1);
  });

  it('takes a quoted field name, which the result keeps unquoted', () => {
    const out = run(
      aggregate(['"user id"'], { n: 'count(*)', label: '"user id" || CAST(count(*) AS STRING)' }),
      [{ 'user id': 7 }, { 'user id': 7 }],
    );
    assert.deepEqual(out.take(), [{ 'user id': 7, window_start: 0, window_end: 10, n: 2, label: '72' }]);
  });

  it('refuses an expression key, saying to compute it in a map step first', () => {
    for (const [key, shown] of [
      ['upper(k)', 'upper(k)'],
      ['a.b', 'a.b'],
      ['k + 1', 'k + 1'],
    ]) {
      const err = buildError(['region', key]);
      assert.equal(err.code, 'PLAN_TYPE_ERROR', key);
      assert.equal(err.step, 'agg');
      assert.equal(err.path, 'key[1]');
      assert.ok(err.message.includes(`'${shown}'`), err.message);
      assert.match(err.message, /map/);
    }
    const syntax = buildError(['user id']);
    assert.equal(syntax.path, 'key[0]');
    assert.match(syntax.message, /"user id"/);
  });

  it('`sluice validate` (Job.validate) refuses an expression key with its line in the file', async () => {
    const registry = testRegistry();
    const { dir, cleanup } = await tempDir();
    try {
      const plan = planFrom(
        `
name: agg-key
sources:
  in: { type: memory, channel: agg-key, event_time: { field: ts } }
steps:
  - id: per-k
    type: aggregate
    key: [upper(k)]
    window: { type: tumbling, size: 1m }
    fields: { n: count(*) }
sinks:
  out: { type: memory, store: agg-key }
`,
        dir,
        registry,
      );
      await assert.rejects(Job.validate(plan, { registry }), (err: unknown) => {
        assert.ok(err instanceof SluiceError);
        assert.equal(err.code, 'PLAN_TYPE_ERROR');
        assert.equal(err.step, 'per-k');
        assert.equal(err.line, 8);
        assert.match(err.message, /map/);
        return true;
      });
    } finally {
      await cleanup();
    }
  });
});

describe('dedupe step: key', () => {
  it('a record without the key field is a dead letter, not a key of its own', () => {
    const op = createStep(
      dedupeStep,
      { key: ['ID'], within: '1m', time: 'event', on_late: 'late_output' },
      { ...stepInfo, id: 'dd' },
    );
    op.open?.({ stepId: 'dd', restored: undefined, clock: new ManualClock(0), watermark: () => 0 });
    const out = new CollectingOutput();
    op.processBatch(batchOf([{ id: 1 }, { id: 2 }], [1, 2]), out);
    assert.deepEqual(out.take(), []);
    assert.equal(out.dead.length, 2);
    for (const { error } of out.dead) {
      assert.match(error.message, /field 'ID' is missing/);
      assert.equal(error.code, 'EXPR_MISSING_FIELD');
    }
  });
});
