import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deserialize, serialize } from 'node:v8';
import { SluiceError } from '../errors.ts';
import type { Operator, OperatorContext, Output } from '../operator.ts';
import type { Batch, Row } from '../record.ts';
import { ManualClock } from '../time.ts';
import { createDedupeOperator, type DedupeOptions } from './dedupe.ts';

class Collect implements Output {
  batches: Batch[] = [];
  dead: { record: unknown; error: SluiceError }[] = [];
  dropped = 0;
  emit(batch: Batch): void {
    this.batches.push(batch);
  }
  deadLetter(batch: Batch, index: number, error: SluiceError): void {
    this.dead.push({ record: batch.records[index], error });
  }
  /** Late records as `key@time`. */
  lateRecords: string[] = [];
  late(batch: Batch, index: number): void {
    this.lateRecords.push(`${batch.records[index].id}@${batch.times[index]}`);
  }
  filtered(count: number): void {
    this.dropped += count;
  }
  /** Kept records as `key@time`. */
  kept(): string[] {
    return this.batches.flatMap((b) => b.records.map((r) => `${r.id}@${b.times[b.records.indexOf(r)]}`));
  }
}

function context(restored?: unknown, clock = new ManualClock()): OperatorContext {
  return { stepId: 'd', restored, clock, watermark: () => Number.NEGATIVE_INFINITY };
}

/** A batch of records `{ id, n }` keyed by id, from `id@time` strings. */
function batch(...items: string[]): Batch {
  const records: Row[] = [];
  const times: number[] = [];
  const keys: string[] = [];
  items.forEach((item, n) => {
    const [id, time] = item.split('@');
    records.push({ id, n });
    times.push(Number(time));
    keys.push(id);
  });
  return { records, times, keys };
}

function dedupe(options: Partial<DedupeOptions> = {}, ctx = context()): Operator {
  const op = createDedupeOperator({ stepId: 'd', within: 10, time: 'event', ...options });
  op.open?.(ctx);
  return op;
}

describe('dedupe operator', () => {
  it('drops duplicates within the horizon and keeps the next one after it', () => {
    const op = dedupe();
    const out = new Collect();
    op.processBatch(batch('a@0', 'b@1', 'a@5', 'a@9', 'b@11', 'a@10', 'a@15', 'a@20'), out);
    assert.deepEqual(out.kept(), ['a@0', 'b@1', 'b@11', 'a@10', 'a@20']);
    assert.equal(out.dropped, 3);
  });

  it('treats an out-of-order record before the kept one as a duplicate', () => {
    const op = dedupe();
    const out = new Collect();
    op.processBatch(batch('a@100', 'a@95', 'a@50', 'a@109', 'a@110'), out);
    assert.deepEqual(out.kept(), ['a@100', 'a@110']);
    assert.equal(out.dropped, 3);
  });

  it('sends a record at or behind the watermark to the late output, whatever its key', () => {
    const op = dedupe();
    const out = new Collect();
    op.processBatch(batch('a@0', 'b@5'), out);
    op.onWatermark?.(9, out);
    op.processBatch(batch('a@3', 'c@9', 'c@10', 'b@12'), out);
    assert.deepEqual(out.kept(), ['a@0', 'b@5', 'c@10']);
    assert.deepEqual(out.lateRecords, ['a@3', 'c@9']);
    assert.equal(out.dropped, 1);
  });

  it('decides by the watermark before each record when the batch carries them', () => {
    const op = dedupe();
    const out = new Collect();
    // e1@0, x@100, e1@30 within 10, bound 0: e1@30 arrives behind watermark 99 and is late.
    const late = { ...batch('e1@0', 'x@100', 'e1@30'), watermarks: [-Infinity, -1, 99] };
    op.processBatch(late, out);
    assert.deepEqual(out.kept(), ['e1@0', 'x@100']);
    assert.deepEqual(out.lateRecords, ['e1@30']);
  });

  it('forgets entries once the watermark passes their horizon; the coarse sweep changes no result', () => {
    const op = dedupe({ within: 1000 });
    const out = new Collect();
    const keys = (o: Operator) => {
      const { state } = (o.snapshot?.() ?? {}) as { state?: Map<string, Map<string, number>> };
      return [...(state?.get('first-seen')?.keys() ?? [])].sort();
    };
    op.processBatch(batch('a@0', 'b@1'), out);
    op.onWatermark?.(999, out);
    assert.deepEqual(keys(op), ['a', 'b']);
    op.onWatermark?.(1000, out);
    const restored = dedupe({ within: 1000 }, context(deserialize(serialize(op.snapshot?.()))));
    // Whether or not a's bucket was swept yet, a record after the watermark decides the same.
    restored.processBatch(batch('b@1000', 'a@1001', 'b@1001'), out);
    assert.deepEqual(out.kept(), ['a@0', 'b@1', 'a@1001', 'b@1001']);
    assert.deepEqual(out.lateRecords, ['b@1000']);
    restored.onWatermark?.(3000, out);
    assert.deepEqual(keys(restored), [], 'every entry expired and was swept');
  });

  it('passes the input batch through when nothing is dropped, and keeps offsets otherwise', () => {
    const op = dedupe();
    const out = new Collect();
    const first = { ...batch('a@0', 'b@0'), source: 's', partition: '1', offsets: [10, 11] };
    op.processBatch(first, out);
    assert.equal(out.batches[0], first);
    op.processBatch(
      { ...batch('c@1', 'a@1', 'd@1'), source: 's', partition: '1', offsets: [12, 13, 14] },
      out,
    );
    assert.deepEqual(out.batches[1], {
      records: [
        { id: 'c', n: 0 },
        { id: 'd', n: 2 },
      ],
      times: [1, 1],
      keys: ['c', 'd'],
      source: 's',
      partition: '1',
      offsets: [12, 14],
    });
    op.processBatch(batch('a@2', 'b@2'), out);
    assert.equal(out.batches.length, 2);
    assert.equal(out.dropped, 3);
  });

  it('uses processing time from the clock when asked', () => {
    const clock = new ManualClock(1000);
    const op = dedupe({ time: 'processing', within: 100 }, context(undefined, clock));
    const out = new Collect();
    op.processBatch(batch('a@0', 'a@999999'), out);
    clock.advance(99);
    op.processBatch(batch('a@0'), out);
    clock.advance(1);
    op.processBatch(batch('a@0'), out);
    assert.deepEqual(out.kept(), ['a@0', 'a@0']);
    assert.equal(out.dropped, 2);
  });

  it('uses keyFn and dead-letters a record whose key function throws', () => {
    const op = dedupe({
      keyFn: (r) => {
        if (r.id === 'x') throw new Error('no key');
        return String(r.id).toUpperCase();
      },
    });
    const out = new Collect();
    op.processBatch(
      { records: [{ id: 'a' }, { id: 'x' }, { id: 'A' }, { id: 'b' }], times: [0, 0, 0, 0] },
      out,
    );
    assert.deepEqual(
      out.batches[0].records.map((r) => r.id),
      ['a', 'b'],
    );
    assert.equal(out.dead[0].error.code, 'USER_FUNCTION_FAILED');
    assert.equal(out.dropped, 1);
  });

  it('rejects bad options, unkeyed input and foreign restored state', () => {
    const isConfig = (err: unknown) => err instanceof SluiceError && err.code === 'CONFIG_INVALID';
    assert.throws(() => dedupe({ within: 0 }), isConfig);
    assert.throws(() => dedupe({ within: Number.NaN }), isConfig);
    assert.throws(() => dedupe({ time: 'wall' as 'event' }), isConfig);
    assert.throws(() => dedupe().processBatch({ records: [{}], times: [0] }, new Collect()), isConfig);
    assert.throws(
      () => dedupe({}, context({ version: 2 })),
      (err: unknown) => err instanceof SluiceError && err.code === 'CHECKPOINT_INCOMPATIBLE',
    );
  });

  it('behaves after a checkpoint round trip exactly like an uninterrupted operator', () => {
    let seed = 3;
    const rand = () => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed / 4294967296;
    };
    const steps: (Batch | number)[] = [];
    let t = 0;
    for (let b = 0; b < 80; b++) {
      const items: string[] = [];
      for (let i = 0; i < 25; i++) items.push(`k${Math.floor(rand() * 40)}@${t + Math.floor(rand() * 10)}`);
      t += 4;
      steps.push(batch(...items), t - 10);
    }
    steps.push(Number.POSITIVE_INFINITY);
    const run = (op: Operator, from: number, to: number, out: Collect) => {
      for (let s = from; s < to; s++) {
        const step = steps[s];
        if (typeof step === 'number') op.onWatermark?.(step, out);
        else op.processBatch(step, out);
      }
    };
    const whole = new Collect();
    run(dedupe({ within: 20 }), 0, steps.length, whole);
    for (const cut of [2, 41, 100, 150]) {
      const out = new Collect();
      const first = dedupe({ within: 20 });
      run(first, 0, cut, out);
      const bytes = serialize(first.snapshot?.());
      run(first, cut, cut + 6, new Collect());
      run(dedupe({ within: 20 }, context(deserialize(bytes))), cut, steps.length, out);
      assert.deepEqual(out.kept(), whole.kept(), `cut at step ${cut}`);
      assert.equal(out.dropped, whole.dropped);
    }
    assert.ok(whole.dropped > 100 && whole.kept().length > 100);
  });
});
