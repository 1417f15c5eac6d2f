/**
 * Row kinds through the steps that pass records on: each kept record keeps its kind, next to its
 * time, key and watermark, whatever the step drops, dead-letters or multiplies.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { SluiceError } from '../errors.ts';
import type { Operator, Output } from '../operator.ts';
import {
  type Batch,
  DELETE,
  emptyBatchLike,
  INSERT,
  kindAt,
  pushFrom,
  type Row,
  type RowKind,
  UPDATE_AFTER,
  UPDATE_BEFORE,
} from '../record.ts';
import type { StepSpec } from '../spec.ts';
import { systemClock } from '../time.ts';
import { filterStep } from './filter.ts';
import { filterFnStep, flatMapStep, keyByFnStep, mapFnStep } from './functions.ts';
import { keyByStep } from './key-by.ts';
import { mapStep } from './map.ts';
import { createStep, type TestStepInfo } from './step-test-support.ts';
import { unionStep } from './union.ts';
import { validateStep } from './validate.ts';

interface Collected {
  batches: Batch[];
  dead: number[];
}

function collector(): Output & Collected {
  const batches: Batch[] = [];
  const dead: number[] = [];
  return {
    batches,
    dead,
    emit: (b) => batches.push(b),
    deadLetter: (_b: Batch, i: number, _e: SluiceError) => dead.push(i),
    late: () => assert.fail('no late records here'),
    filtered: () => {},
  };
}

function create(spec: StepSpec, config: unknown, fn?: unknown): Operator {
  const info: TestStepInfo = {
    id: 's',
    baseDir: '.',
    clock: systemClock,
    functions: new Map(fn === undefined ? [] : [['s', fn]]),
  };
  return createStep(spec, config, info);
}

/** Records n = 0..5 with kinds insert, update_before, update_after, delete, insert, delete. */
function input(): Batch {
  const kinds: RowKind[] = [INSERT, UPDATE_BEFORE, UPDATE_AFTER, DELETE, INSERT, DELETE];
  return {
    records: kinds.map((_, n) => ({ n })),
    times: kinds.map((_, n) => 100 + n),
    kinds,
    watermarks: kinds.map((_, n) => n),
  };
}

/** (n, kind, time, watermark) of every record emitted. */
function seen(out: Collected): [unknown, RowKind, number, number | undefined][] {
  return out.batches.flatMap((b) =>
    b.records.map((r, i): [unknown, RowKind, number, number | undefined] => [
      r.n,
      kindAt(b, i),
      b.times[i],
      b.watermarks?.[i],
    ]),
  );
}

function expected(ns: number[]): [unknown, RowKind, number, number | undefined][] {
  const kinds = input().kinds!;
  return ns.map((n) => [n, kinds[n], 100 + n, n]);
}

function run(op: Operator, batch = input()): Collected {
  const out = collector();
  op.processBatch(batch, out);
  return out;
}

describe('row kinds through record-passing steps', () => {
  test('map keeps each record’s kind and drops the dead letter’s', () => {
    const out = run(create(mapStep, { fields: { m: '10 / (n - 2)' }, drop: [] }));
    assert.deepEqual(out.dead, [2]);
    assert.deepEqual(seen(out), expected([0, 1, 3, 4, 5]));
  });

  test('map without failures keeps the kinds array', () => {
    const out = run(create(mapStep, { fields: { m: 'n + 1' }, drop: [] }));
    assert.deepEqual(seen(out), expected([0, 1, 2, 3, 4, 5]));
  });

  test('filter keeps the kinds of the records it keeps, and of both halves of an update it keeps', () => {
    const out = run(create(filterStep, { where: 'n <> 0 AND n <> 4' }));
    assert.deepEqual(seen(out), expected([1, 2, 3, 5]));
  });

  test('filter relabels the half of an update it keeps when it drops the other: DELETE or INSERT', () => {
    // 1 is the update_before of 2: keeping 1 alone removes the row; keeping 2 alone adds one.
    const before = run(create(filterStep, { where: 'n % 2 = 1' }));
    assert.deepEqual(
      seen(before),
      expected([1, 3, 5]).map(([n, kind, ...rest]) => [n, n === 1 ? DELETE : kind, ...rest]),
    );
    const after = run(create(filterStep, { where: 'n % 2 = 0' }));
    assert.deepEqual(
      seen(after),
      expected([0, 2, 4]).map(([n, kind, ...rest]) => [n, n === 2 ? INSERT : kind, ...rest]),
    );
  });

  test('filter: an update half that fails goes to the dead letters, and the other half is relabelled', () => {
    // n = 2 (the update_after) divides by zero: its update_before leaves alone, as a DELETE.
    const afterFails = run(create(filterStep, { where: '10 / (n - 2) <> 0' }));
    assert.deepEqual(afterFails.dead, [2]);
    assert.deepEqual(
      seen(afterFails),
      expected([0, 1, 3, 4, 5]).map(([n, kind, ...rest]) => [n, n === 1 ? DELETE : kind, ...rest]),
    );
    // n = 1 (the update_before) fails: its update_after enters alone, as an INSERT.
    const beforeFails = run(create(filterStep, { where: '10 / (n - 1) <> 0' }));
    assert.deepEqual(beforeFails.dead, [1]);
    assert.deepEqual(
      seen(beforeFails),
      expected([0, 2, 3, 4, 5]).map(([n, kind, ...rest]) => [n, n === 2 ? INSERT : kind, ...rest]),
    );
  });

  test('validate keeps the kinds of valid records', () => {
    const schema = { type: 'object', properties: { n: { type: 'integer', maximum: 3 } } };
    const out = run(create(validateStep, { schema }));
    assert.deepEqual(seen(out), expected([0, 1, 2, 3]));
  });

  test('key_by keeps kinds beside the keys', () => {
    const out = run(create(keyByStep, { key: ['10 / (n - 4)'] }));
    assert.deepEqual(out.dead, [4]);
    assert.deepEqual(seen(out), expected([0, 1, 2, 3, 5]));
    assert.equal(out.batches[0].keys!.length, 5);
  });

  test('union passes kinds on', () => {
    assert.deepEqual(seen(run(create(unionStep, {}))), expected([0, 1, 2, 3, 4, 5]));
  });

  test('TypeScript function steps keep kinds', () => {
    const mapped = run(
      create(mapFnStep, {}, (r: Row) => {
        if (r.n === 1) throw new Error('no');
        return { ...r };
      }),
    );
    assert.deepEqual(seen(mapped), expected([0, 2, 3, 4, 5]));
    const kept = run(create(filterFnStep, {}, (r: Row) => r.n !== 0));
    assert.deepEqual(seen(kept), expected([1, 2, 3, 4, 5]));
    const keyed = run(create(keyByFnStep, {}, (r: Row) => r.n));
    assert.deepEqual(seen(keyed), expected([0, 1, 2, 3, 4, 5]));
  });

  test('flat_map gives every output the kind of its input, and drops a failed call’s partial output', () => {
    const out = run(
      create(flatMapStep, {}, function* (r: Row) {
        yield r;
        if (r.n === 3) throw new Error('half done');
        if (r.n === 2) yield { n: 2 };
      }),
    );
    assert.deepEqual(out.dead, [3]);
    const batch = out.batches[0];
    assert.equal(batch.kinds!.length, batch.records.length);
    assert.equal(batch.watermarks!.length, batch.records.length);
    assert.deepEqual(seen(out), expected([0, 1, 2, 2, 4, 5]));
  });

  test('append-only batches stay without kinds', () => {
    const plain: Batch = { records: [{ n: 1 }, { n: 2 }], times: [1, 2] };
    const out = run(create(filterStep, { where: 'n > 1' }), plain);
    assert.equal(out.batches[0].kinds, undefined);
    const like = emptyBatchLike(plain);
    pushFrom(like, plain, 0, plain.records[0]);
    assert.equal(like.kinds, undefined);
    assert.equal(kindAt(like, 0), INSERT);
  });
});
