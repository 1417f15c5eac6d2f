/**
 * The deduplicate operator on its own: golden cases for keep first and keep last in event and
 * processing time, the state time-to-live (bounded state, restore of its bookkeeping) and the
 * refusal of another step's state. Whole jobs (batch sizes, folding, restore) are in
 * deduplicate-job.test.ts.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SluiceError } from '../errors.ts';
import type { Operator } from '../operator.ts';
import { type Batch, INSERT, type Row, UPDATE_AFTER, UPDATE_BEFORE } from '../record.ts';
import { seededRandom } from '../testing/random.ts';
import { ManualClock } from '../time.ts';
import { CollectingOutput, roundTrip } from '../window/test-support.ts';
import { createDeduplicate, type DeduplicateOptions } from './deduplicate.ts';
import { assertRestores, type KeyedScenario, resume, runStraight } from './keyed-restore-test-support.ts';

type Options = Omit<DeduplicateOptions, 'stepId' | 'keyFn'>;

function dedup(options: Options, clock = new ManualClock(0), restored?: unknown): Operator {
  const op = createDeduplicate({ stepId: 'd', keyFn: (r) => String(r.id), ...options });
  op.open?.({ stepId: 'd', restored, clock, watermark: () => Number.NEGATIVE_INFINITY });
  return op;
}

/** A batch of records `{ id, v }` from `id@time` or `id@time=v` strings. */
function batch(...items: string[]): Batch {
  const records: Row[] = [];
  const times: number[] = [];
  for (const item of items) {
    const [id, rest] = item.split('@');
    const [time, v] = rest.split('=');
    records.push(v === undefined ? { id } : { id, v: Number(v) });
    times.push(Number(time));
  }
  return { records, times };
}

/** Emitted changes as `+I a@5`, `-U a@5`, … (the record's id and the time of the change). */
function changes(out: CollectingOutput): string[] {
  const names = ['+I', '-U', '+U', '-D'];
  return out.emitted
    .splice(0)
    .map(
      (e) => `${names[e.kind]} ${e.record.id}${e.record.v === undefined ? '' : `=${e.record.v}`}@${e.time}`,
    );
}

/** Keys with state, in the keyed state an operator opened without the runtime's keeps in its snapshot. */
const liveKeys = (op: Operator) => {
  const keyed = (op.snapshot!() as { keyed: Map<string, Map<unknown, unknown>> }).keyed;
  return ['kept', 'emitted', 'pending'].reduce((n, name) => n + (keyed.get(name)?.size ?? 0), 0);
};

describe('deduplicate, keep first', () => {
  test('by arrival: the first record of a key passes unchanged, later ones are filtered', () => {
    const op = dedup({ keep: 'first', time: 'processing' });
    const out = new CollectingOutput();
    const first = { ...batch('a@5', 'b@1', 'a@0', 'c@9'), offsets: [10, 11, 12, 13] };
    op.processBatch(first, out);
    op.processBatch(batch('b@0', 'd@3'), out);
    assert.deepEqual(out.batches[0].offsets, [10, 11, 13]);
    assert.deepEqual(changes(out), ['+I a@5', '+I b@1', '+I c@9', '+I d@3']);
    assert.equal(out.filteredCount, 2);
    assert.equal(out.batches[0].kinds, undefined, 'an append-only stream carries no kinds');
  });

  test('by event time: the earliest row wins and is emitted when the watermark reaches it', () => {
    const op = dedup({ keep: 'first', time: 'event' });
    const out = new CollectingOutput();
    op.processBatch(batch('a@10=1', 'b@7=1', 'a@4=2', 'a@4=3', 'a@6=4'), out);
    assert.deepEqual(changes(out), [], 'nothing before the watermark');
    op.onWatermark?.(5, out);
    assert.deepEqual(changes(out), ['+I a=2@4'], 'ties: the earlier arrival stays');
    // a was emitted: its later rows are filtered; one at or behind the watermark is late.
    op.processBatch(batch('a@8=5', 'b@5=2', 'c@20=1'), out);
    assert.deepEqual(
      out.lateRecords.map((l) => `${l.record.id}@${l.time}`),
      ['b@5'],
    );
    op.onWatermark?.(Number.POSITIVE_INFINITY, out);
    assert.deepEqual(changes(out), ['+I b=1@7', '+I c=1@20']);
    assert.equal(out.filteredCount, 4, 'a@10, a@4=3, a@6 replaced or not earlier; a@8 after a was emitted');
  });

  test('by event time: the watermark before each record fires what it made due first', () => {
    const op = dedup({ keep: 'first', time: 'event' });
    const out = new CollectingOutput();
    op.processBatch(
      { ...batch('a@10', 'b@3', 'a@12', 'a@9'), watermarks: [-Infinity, -Infinity, 10, 10] },
      out,
    );
    // Before a@12 the watermark reached 10: a@10 and b@3 are emitted, in order of time.
    assert.deepEqual(changes(out), ['+I b@3', '+I a@10']);
    assert.deepEqual(
      out.batches[0].watermarks,
      [-Infinity, -Infinity],
      'emitted rows carry the watermark before the advance',
    );
    assert.deepEqual(
      out.lateRecords.map((l) => `${l.record.id}@${l.time}`),
      ['a@9'],
    );
    assert.equal(out.filteredCount, 1, 'a@12 came after a was emitted');
    op.onWatermark?.(Number.POSITIVE_INFINITY, out);
    assert.deepEqual(changes(out), []);
  });
});

describe('deduplicate, keep last', () => {
  test('by arrival: an insert, then an update pair per new row; an equal row emits nothing', () => {
    const op = dedup({ keep: 'last', time: 'processing' });
    const out = new CollectingOutput();
    op.processBatch(batch('a@5=1', 'b@1=1', 'a@0=2', 'a@3=2', 'a@4=3'), out);
    assert.deepEqual(changes(out), ['+I a=1@5', '+I b=1@1', '-U a=1@0', '+U a=2@0', '-U a=2@4', '+U a=3@4']);
    assert.equal(out.filteredCount, 0);
  });

  test('by event time: a row replaces when its time is not before the kept one (ties: the later wins)', () => {
    const op = dedup({ keep: 'last', time: 'event' });
    const out = new CollectingOutput();
    op.processBatch(batch('a@5=1', 'a@3=2', 'a@5=3', 'a@9=4'), out);
    op.onWatermark?.(100, out);
    // Behind the watermark, yet judged: the kept row is there to compare with.
    op.processBatch(batch('a@7=5', 'b@50=1'), out);
    assert.deepEqual(changes(out), ['+I a=1@5', '-U a=1@5', '+U a=3@5', '-U a=3@9', '+U a=4@9', '+I b=1@50']);
    assert.equal(out.filteredCount, 2);
    assert.equal(out.lateRecords.length, 0);
  });
});

describe('deduplicate with a state time-to-live', () => {
  test('keep first: duplicates do not keep a key alive; a forgotten key is emitted again', () => {
    const clock = new ManualClock(0);
    const op = dedup({ keep: 'first', time: 'processing', ttl: 10_000 }, clock);
    const out = new CollectingOutput();
    op.processBatch(batch('a@1'), out);
    clock.set(9999);
    op.processBatch(batch('a@2'), out);
    clock.set(10_000);
    op.processBatch(batch('a@3', 'a@4'), out);
    assert.deepEqual(changes(out), ['+I a@1', '+I a@3']);
    assert.equal(out.filteredCount, 2);
  });

  test('keep last: each replacing row renews the key; a forgotten key starts with an insert', () => {
    const clock = new ManualClock(0);
    const op = dedup({ keep: 'last', time: 'event', ttl: 10_000 }, clock);
    const out = new CollectingOutput();
    op.processBatch(batch('a@5=1'), out);
    clock.set(6000);
    op.processBatch(batch('a@1=9', 'a@6=2'), out);
    clock.set(15_999);
    op.onProcessingTime?.(clock.now(), out);
    op.processBatch(batch('a@7=3'), out);
    clock.set(26_000);
    op.onProcessingTime?.(clock.now(), out);
    assert.equal(liveKeys(op), 0);
    op.processBatch(batch('a@2=4'), out);
    assert.deepEqual(changes(out), ['+I a=1@5', '-U a=1@6', '+U a=2@6', '-U a=2@7', '+U a=3@7', '+I a=4@2']);
  });

  test('keep first by event time: rows waiting for the watermark are not forgotten', () => {
    const clock = new ManualClock(0);
    const op = dedup({ keep: 'first', time: 'event', ttl: 1000 }, clock);
    const out = new CollectingOutput();
    op.processBatch(batch('a@50'), out);
    clock.set(5000);
    op.onProcessingTime?.(clock.now(), out);
    op.processBatch(batch('a@60'), out);
    op.onWatermark?.(50, out);
    assert.deepEqual(changes(out), ['+I a@50']);
    clock.set(5999);
    op.processBatch(batch('a@70'), out);
    clock.set(6000);
    op.processBatch(batch('a@80'), out);
    op.onWatermark?.(100, out);
    assert.deepEqual(
      changes(out),
      ['+I a@80'],
      'forgotten 1 s after it was emitted: a@80 is a new first row',
    );
  });

  for (const options of [
    { keep: 'first', time: 'processing' },
    { keep: 'first', time: 'event' },
    { keep: 'last', time: 'event' },
  ] as const) {
    test(`keep ${options.keep} by ${options.time} time: live keys stay flat over an unbounded stream of distinct keys`, () => {
      const clock = new ManualClock(0);
      const op = dedup({ ...options, ttl: 10_000 }, clock);
      const sizes: number[] = [];
      for (let second = 0; second < 300; second++) {
        clock.set(second * 1000);
        const out = new CollectingOutput();
        op.onProcessingTime?.(clock.now(), out);
        const ids = Array.from({ length: 100 }, (_, j) => `k${second * 100 + j}@${second * 1000 + j}`);
        op.processBatch(batch(...ids), out);
        op.onWatermark?.(second * 1000 + 99, out);
        sizes.push(liveKeys(op));
      }
      assert.ok(Math.max(...sizes) <= 1000, `at most 1000 live keys, saw ${Math.max(...sizes)}`);
      assert.deepEqual(new Set(sizes.slice(20)), new Set([1000]));
    });
  }

  for (const keep of ['first', 'last'] as const) {
    test(`keep ${keep} with a ttl: batch sizes 1, 7 and 1024 give the same output, folding into a plain loop's table`, () => {
      // The clock moves once per 7 × 1024 records, so every batching meets the same clock.
      const block = 7 * 1024;
      const clockAt = (s: number) => Math.floor(s / block) * 1000;
      const random = seededRandom(12);
      const records: Row[] = Array.from({ length: 30_000 }, (_, i) => {
        // Ids 0–29 always, ids 30–59 only in even blocks: the ttl forgets them in between.
        const quiet = Math.floor(i / block) % 2 === 1 || random() < 0.5;
        return { id: `k${quiet ? Math.floor(random() * 30) : 30 + Math.floor(random() * 30)}`, v: i };
      });
      const runs = [1, 7, 1024].map((size) => {
        const clock = new ManualClock(0);
        const op = dedup({ keep, time: 'processing', ttl: 1500 }, clock);
        const out = new CollectingOutput();
        for (let s = 0; s < records.length; s += size) {
          clock.set(clockAt(s));
          op.onProcessingTime?.(clock.now(), out);
          const part = records.slice(s, s + size);
          op.processBatch({ records: part, times: part.map(() => 0) }, out);
        }
        return out.emitted.map((e) => [e.kind, e.record]);
      });
      assert.deepEqual(runs[1], runs[0]);
      assert.deepEqual(runs[2], runs[0]);
      // The plain loop: a key starts afresh when its state was last written ttl or more before.
      const written = new Map<unknown, number>();
      const table: Row[] = [];
      const last = new Map<unknown, number>();
      records.forEach((r, i) => {
        const now = clockAt(i - (i % block));
        const at = written.get(r.id);
        const fresh = at === undefined || at + 1500 <= now;
        if (keep === 'first') {
          if (fresh) {
            written.set(r.id, now);
            table.push(r);
          }
          return;
        }
        if (fresh) last.set(r.id, table.push(r) - 1);
        else table[last.get(r.id)!] = r;
        written.set(r.id, now);
      });
      const folded = new Map<string, number>();
      for (const [kind, record] of runs[0]) {
        const text = JSON.stringify(record);
        folded.set(text, (folded.get(text) ?? 0) + (kind === 1 ? -1 : 1));
      }
      const rows = [...folded].flatMap(([text, n]) => Array<string>(n).fill(text)).sort();
      assert.deepEqual(rows, table.map((r) => JSON.stringify(r)).sort());
      assert.ok(table.length > 60 + 30, `quiet keys start afresh (${table.length} rows)`);
    });
  }

  test('restored, the ttl bookkeeping goes on: keys live as long as in an uninterrupted run', () => {
    const run = (cutAt: number | undefined) => {
      const clock = new ManualClock(0);
      let op = dedup({ keep: 'last', time: 'processing', ttl: 3000 }, clock);
      const out = new CollectingOutput();
      for (let second = 0; second < 20; second++) {
        if (second === cutAt)
          op = dedup({ keep: 'last', time: 'processing', ttl: 3000 }, clock, roundTrip(op.snapshot!()));
        clock.set(second * 1000);
        op.onProcessingTime?.(clock.now(), out);
        // Key a every 2 s (kept alive), key b every 4 s (forgotten in between), key c once.
        const items = [`a@${second}=${second}`];
        if (second % 4 === 0) items.push(`b@${second}=${second}`);
        if (second === 1) items.push('c@1=1');
        op.processBatch(batch(...(second % 2 === 0 ? items : items.slice(1))), out);
      }
      return { log: changes(out), live: liveKeys(op) };
    };
    const whole = run(undefined);
    assert.equal(whole.log.filter((c) => c.startsWith('+I b')).length, 5, 'b starts afresh each time');
    assert.equal(whole.log.filter((c) => c.startsWith('+I a')).length, 1, 'a is kept alive');
    for (const cut of [3, 9, 14]) assert.deepEqual(run(cut), whole, `restored at ${cut} s`);
  });
});

test('state of another keep, time or key is refused on restore', () => {
  const op = dedup({ keep: 'last', time: 'event' });
  op.processBatch(batch('a@1'), new CollectingOutput());
  const saved = roundTrip(op.snapshot!());
  assert.throws(
    () => dedup({ keep: 'first', time: 'event' }, new ManualClock(0), saved),
    (err: unknown) => err instanceof SluiceError && err.code === 'CHECKPOINT_INCOMPATIBLE',
  );
  assert.throws(
    () => dedup({ keep: 'last', time: 'processing' }, new ManualClock(0), saved),
    (err: unknown) => err instanceof SluiceError && err.code === 'CHECKPOINT_INCOMPATIBLE',
  );
});

describe('deduplicate on the runtime’s keyed state', () => {
  const BLOCK = 7 * 1024;
  const make = (options: Options) => () =>
    createDeduplicate({ stepId: 'd', keyFn: (r) => String(r.k), ...options });

  /** Times mostly ascending with jitter, the watermark 150 behind the latest (some records late). */
  function scenario(options: Options, count: number, keys: number): KeyedScenario {
    const random = seededRandom(5);
    const times: number[] = [];
    const watermarks: number[] = [];
    let latest = Number.NEGATIVE_INFINITY;
    const records = Array.from({ length: count }, (_, i) => {
      watermarks.push(latest - 150);
      const time = i * 10 + Math.floor(random() * 200) - 100;
      times.push(time);
      latest = Math.max(latest, time);
      // Keys k0–k9 everywhere, the rest only in even blocks of the clock (a ttl forgets them).
      const quiet = Math.floor(i / BLOCK) % 2 === 1;
      const k = random() < 0.5 || quiet ? Math.floor(random() * 10) : Math.floor(random() * keys);
      return { i, k: `k${k}`, v: Math.floor(random() * 3) };
    });
    return {
      make: make(options),
      records,
      times,
      watermarks,
      block: BLOCK,
      clockAt: (i) => 1_000_000 + Math.floor(i / BLOCK) * 1000,
      keyOf: (r) => String(r.k),
    };
  }

  const modes: Options[] = [
    { keep: 'first', time: 'processing' },
    { keep: 'first', time: 'event' },
    { keep: 'last', time: 'processing' },
    { keep: 'last', time: 'event' },
  ];
  for (const mode of modes) {
    test(`keep ${mode.keep} by ${mode.time} time: checkpointed mid-stream and restored, whole or split by key group, it goes on as if it had not stopped`, () => {
      // Many keys, so keep first still emits after the checkpoint.
      assertRestores(scenario(mode, 3000, 2000), [1003]);
      assertRestores(scenario({ ...mode, ttl: 1500 }, 3 * BLOCK, 40), [BLOCK + 7 * 99]);
    });
  }

  const rowsOf = (items: [string, number, number][]) => ({
    records: items.map(([k, v]) => ({ k, v })),
    times: items.map((item) => item[2]),
  });

  test('a snapshot of version 1 (keep first by event time), which held the keys’ state, is restored into the keyed state', () => {
    // What v1 snapshotted after the first five records: a and b emitted, c waiting.
    const v1 = {
      format: 'sluice.deduplicate.v1',
      shape: '{"key":true,"keep":"first","time":"event"}',
      keyedInput: false,
      watermark: 10,
      kept: new Map(),
      pending: new Map([['c', { row: { k: 'c', v: 4 }, time: 20 }]]),
      emitted: new Set(['a', 'b']),
      written: null,
    };
    const s: KeyedScenario = {
      make: make({ keep: 'first', time: 'event' }),
      ...rowsOf([
        ['a', 1, 5],
        ['b', 2, 7],
        ['a', 3, 3],
        ['c', 4, 20],
        ['b', 5, 30],
        ['c', 6, 15],
        ['d', 7, 40],
        ['a', 8, 50],
      ]),
      watermarks: [0, 0, 0, 0, 10, 10, 12, 25],
      block: 1,
      keyOf: (r) => String(r.k),
    };
    const straight = runStraight(s, 1);
    const after = resume(s, { operator: v1, keyed: undefined }, 5, 1);
    assert.deepEqual(
      after.emitted.map((e) => [e.record, e.time]),
      [
        [{ k: 'c', v: 6 }, 15],
        [{ k: 'd', v: 7 }, 40],
      ],
    );
    assert.deepEqual(after.emitted, straight.emitted.slice(-2));
    assert.equal(after.filtered, 2);
  });

  test('a snapshot of version 1 (keep last with a ttl) is restored into the keyed state; its keys live as long as they would have', () => {
    const v1 = {
      format: 'sluice.deduplicate.v1',
      shape: '{"key":true,"keep":"last","time":"processing"}',
      keyedInput: false,
      watermark: Number.NEGATIVE_INFINITY,
      kept: new Map([
        ['a', { row: { k: 'a', v: 3 }, time: 0 }],
        ['b', { row: { k: 'b', v: 2 }, time: 0 }],
        ['c', { row: { k: 'c', v: 1 }, time: 0 }],
      ]),
      pending: new Map(),
      emitted: new Set(),
      written: new Map([
        ['b', 1000],
        ['a', 1500],
        ['c', 1500],
      ]),
    };
    const clocks = [1000, 1000, 1500, 1500, 2200, 2200, 2200];
    const s: KeyedScenario = {
      make: make({ keep: 'last', time: 'processing', ttl: 1000 }),
      ...rowsOf([
        ['a', 1, 0],
        ['b', 2, 0],
        ['a', 3, 0],
        ['c', 1, 0],
        ['b', 5, 0],
        ['a', 4, 0],
        ['c', 1, 0],
      ]),
      block: 1,
      clockAt: (i) => clocks[i],
      keyOf: (r) => String(r.k),
    };
    const straight = runStraight(s, 1);
    const after = resume(s, { operator: v1, keyed: undefined, now: 1500 }, 4, 1);
    // b was last written at 1000: forgotten at 2000, so b5 is an insert.
    assert.deepEqual(
      after.emitted.map((e) => [e.kind, e.record]),
      [
        [INSERT, { k: 'b', v: 5 }],
        [UPDATE_BEFORE, { k: 'a', v: 3 }],
        [UPDATE_AFTER, { k: 'a', v: 4 }],
      ],
    );
    assert.deepEqual(after.emitted, straight.emitted.slice(-3));
  });
});
