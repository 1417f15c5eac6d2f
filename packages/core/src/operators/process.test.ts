import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deserialize, serialize } from 'node:v8';
import { SluiceError } from '../errors.ts';
import type { Operator, OperatorContext, Output } from '../operator.ts';
import type { Batch, Row } from '../record.ts';
import { ManualClock } from '../time.ts';
import { createProcessOperator, type ProcessFunction } from './process.ts';

class Collect implements Output {
  batches: Batch[] = [];
  dead: { record: unknown; error: SluiceError }[] = [];
  emit(batch: Batch): void {
    this.batches.push(batch);
  }
  deadLetter(batch: Batch, index: number, error: SluiceError): void {
    this.dead.push({ record: batch.records[index], error });
  }
  late(): void {}
  filtered(): void {}
  /** Emitted rows as [key, time, record]. */
  rows(): [string, number, Row][] {
    return this.batches.flatMap((b) =>
      b.records.map((r, i): [string, number, Row] => [b.keys![i], b.times[i], r]),
    );
  }
}

function context(
  restored?: unknown,
  clock = new ManualClock(),
  watermark = Number.NEGATIVE_INFINITY,
): OperatorContext {
  return { stepId: 'p', restored, clock, watermark: () => watermark };
}

function keyed(rows: [string, number, Row][]): Batch {
  return { records: rows.map((r) => r[2]), times: rows.map((r) => r[1]), keys: rows.map((r) => r[0]) };
}

interface Click {
  page: string;
}

/** Counts clicks per key and emits the count when a key has been quiet for 10 ms (a session). */
const sessions: ProcessFunction<Click, { n: number; end: number }, { n: number; end: number }> = {
  processRecord(_record, ctx) {
    const s = ctx.state();
    const end = Math.max(s?.end ?? 0, ctx.timestamp + 10);
    if (s) ctx.deleteEventTimeTimer(s.end);
    ctx.setState({ n: (s?.n ?? 0) + 1, end });
    ctx.registerEventTimeTimer(end);
  },
  onTimer(time, _domain, ctx) {
    const s = ctx.state()!;
    ctx.emit({ n: s.n, end: time });
    ctx.clearState();
  },
};

describe('process operator', () => {
  it('keeps state per key from batch keys and emits keyed records', () => {
    const op = createProcessOperator<Row, number, Row>({
      stepId: 'count',
      fn: {
        processRecord(record, ctx) {
          const n = (ctx.state() ?? 0) + 1;
          ctx.setState(n);
          ctx.emit({ ...record, n });
        },
      },
    });
    op.open?.(context());
    const out = new Collect();
    op.processBatch(
      keyed([
        ['a', 1, { v: 1 }],
        ['b', 2, { v: 2 }],
        ['a', 3, { v: 3 }],
      ]),
      out,
    );
    assert.equal(out.batches.length, 1);
    assert.deepEqual(out.rows(), [
      ['a', 1, { v: 1, n: 1 }],
      ['b', 2, { v: 2, n: 1 }],
      ['a', 3, { v: 3, n: 2 }],
    ]);
  });

  it('uses keyFn, keeps source, partition and offsets, and emits at an explicit time', () => {
    const op = createProcessOperator<Row, never, Row>({
      stepId: 'p',
      keyFn: (r) => String(r.user),
      fn: {
        processRecord(record, ctx) {
          ctx.emit(record);
          ctx.emit({ echo: ctx.key }, ctx.timestamp + 100);
        },
      },
    });
    const out = new Collect();
    op.processBatch({ records: [{ user: 7 }], times: [5], source: 's', partition: '0', offsets: [42] }, out);
    const [batch] = out.batches;
    assert.deepEqual(batch, {
      records: [{ user: 7 }, { echo: '7' }],
      times: [5, 105],
      keys: ['7', '7'],
      watermarks: [-Infinity, -Infinity],
      offsets: [42, 42],
      source: 's',
      partition: '0',
    });
  });

  it('throws CONFIG_INVALID when the input has no key', () => {
    const op = createProcessOperator<Row, never, Row>({ stepId: 'p', fn: { processRecord() {} } });
    op.processBatch({ records: [], times: [] }, new Collect());
    assert.throws(
      () => op.processBatch({ records: [{}], times: [0] }, new Collect()),
      (err: unknown) =>
        err instanceof SluiceError && err.code === 'CONFIG_INVALID' && /key_by/.test(err.message),
    );
  });

  it('dead-letters a throwing record, discards what it emitted and continues', () => {
    const op = createProcessOperator<Row, number, Row>({
      stepId: 'p',
      fn: {
        processRecord(record, ctx) {
          ctx.emit({ before: record.v });
          if (record.v === 2) throw new Error('boom');
          if (record.v === 3) ctx.registerEventTimeTimer(Number.NaN);
        },
      },
    });
    const out = new Collect();
    op.processBatch(
      keyed([
        ['a', 1, { v: 1 }],
        ['a', 2, { v: 2 }],
        ['a', 3, { v: 3 }],
        ['a', 4, { v: 4 }],
      ]),
      out,
    );
    assert.deepEqual(
      out.rows().map((r) => r[2]),
      [{ before: 1 }, { before: 4 }],
    );
    assert.deepEqual(
      out.dead.map((d) => [d.record, d.error.code, d.error.step]),
      [
        [{ v: 2 }, 'USER_FUNCTION_FAILED', 'p'],
        [{ v: 3 }, 'USER_FUNCTION_FAILED', 'p'],
      ],
    );
    assert.match(out.dead[0].error.message, /boom/);
    assert.equal((out.dead[0].error.cause as Error).message, 'boom');
  });

  it('fires event-time timers in (time, key) order, once per key and time, on the watermark', () => {
    const fired: string[] = [];
    const op = createProcessOperator<Row, never, Row>({
      stepId: 'p',
      fn: {
        processRecord(record, ctx) {
          ctx.registerEventTimeTimer(record.at as number);
          ctx.registerEventTimeTimer(record.at as number);
          if (record.cancel) ctx.deleteEventTimeTimer(record.cancel as number);
        },
        onTimer(time, domain, ctx) {
          fired.push(`${ctx.key}@${time}/${domain} wm=${ctx.watermark}`);
          if (ctx.key === 'a' && time === 10) ctx.registerEventTimeTimer(12);
          if (ctx.key === 'a' && time === 12) ctx.registerEventTimeTimer(30);
          ctx.emit({ t: time });
        },
      },
    });
    op.open?.(context());
    const out = new Collect();
    op.processBatch(
      keyed([
        ['b', 0, { at: 10 }],
        ['a', 0, { at: 10 }],
        ['c', 0, { at: 5 }],
        ['c', 0, { at: 7, cancel: 5 }],
        ['d', 0, { at: 100 }],
      ]),
      out,
    );
    op.onWatermark?.(6, out);
    assert.deepEqual(fired, []);
    op.onWatermark?.(12, out);
    assert.deepEqual(fired, ['c@7/event wm=12', 'a@10/event wm=12', 'b@10/event wm=12', 'a@12/event wm=12']);
    assert.equal(out.batches.length, 1);
    assert.deepEqual(out.rows(), [
      ['c', 7, { t: 7 }],
      ['a', 10, { t: 10 }],
      ['b', 10, { t: 10 }],
      ['a', 12, { t: 12 }],
    ]);
    op.onWatermark?.(Number.POSITIVE_INFINITY, out);
    assert.deepEqual(fired.slice(4), ['a@30/event wm=Infinity', 'd@100/event wm=Infinity']);
  });

  it('fires processing-time timers from the clock and dead-letters a throwing onTimer', () => {
    const clock = new ManualClock(1000);
    const op = createProcessOperator<Row, never, Row>({
      stepId: 'p',
      fn: {
        processRecord(_r, ctx) {
          ctx.registerProcessingTimeTimer(ctx.processingTime() + 50);
        },
        onTimer(time, domain, ctx) {
          if (ctx.key === 'bad') throw new Error('timer boom');
          ctx.emit({ time, domain });
        },
      },
    });
    op.open?.(context(undefined, clock));
    const out = new Collect();
    op.processBatch(
      keyed([
        ['ok', 1, {}],
        ['bad', 1, {}],
      ]),
      out,
    );
    op.onWatermark?.(Number.POSITIVE_INFINITY, out);
    op.onProcessingTime?.(1049, out);
    assert.deepEqual(out.rows(), []);
    op.onProcessingTime?.(1050, out);
    assert.deepEqual(out.rows(), [['ok', 1050, { time: 1050, domain: 'processing' }]]);
    assert.deepEqual(out.dead[0].record, { timer: { key: 'bad', time: 1050, domain: 'processing' } });
    assert.match(out.dead[0].error.message, /onTimer.*timer boom/);
  });

  it('rejects restored state that is not a process state', () => {
    const op = createProcessOperator<Row, never, Row>({ stepId: 'p', fn: { processRecord() {} } });
    assert.throws(
      () => op.open?.(context(new Map())),
      (err: unknown) => err instanceof SluiceError && err.code === 'CHECKPOINT_INCOMPATIBLE',
    );
  });

  it('behaves after a checkpoint round trip exactly like an uninterrupted operator', () => {
    let seed = 11;
    const rand = () => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed / 4294967296;
    };
    const steps: ({ batch: Batch } | { watermark: number })[] = [];
    let t = 0;
    for (let b = 0; b < 60; b++) {
      const rows: [string, number, Row][] = [];
      for (let i = 0; i < 20; i++)
        rows.push([`k${Math.floor(rand() * 60)}`, t + Math.floor(rand() * 8), { page: 'x' }]);
      t += 5;
      steps.push({ batch: keyed(rows) });
      steps.push({ watermark: t - 8 });
    }
    steps.push({ watermark: Number.POSITIVE_INFINITY });

    const make = () => createProcessOperator({ stepId: 'sessions', fn: sessions });
    const run = (op: Operator, from: number, to: number, out: Collect) => {
      for (let s = from; s < to; s++) {
        const step = steps[s];
        if ('batch' in step) op.processBatch(step.batch, out);
        else op.onWatermark?.(step.watermark, out);
      }
    };
    const whole = new Collect();
    const reference = make();
    reference.open?.(context());
    run(reference, 0, steps.length, whole);

    for (const cut of [1, 37, 64, 101]) {
      const out = new Collect();
      const first = make();
      first.open?.(context());
      run(first, 0, cut, out);
      const bytes = serialize(first.snapshot?.());
      run(first, cut, cut + 5, new Collect());
      const second = make();
      second.open?.(context(deserialize(bytes)));
      run(second, cut, steps.length, out);
      assert.deepEqual(out.rows(), whole.rows(), `cut at step ${cut}`);
    }
    assert.ok(whole.rows().length > 100, `only ${whole.rows().length} sessions`);
  });
});
