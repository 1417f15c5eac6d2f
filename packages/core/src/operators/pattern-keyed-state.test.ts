/**
 * The pattern step's per-key state in the runtime's keyed state (a keyed view snapshotted by key
 * group): a checkpoint taken mid-pattern through `KeyedStateStore` and the checkpoint codec
 * resumes with the output of an uninterrupted run for batch sizes 1, 7 and 1024; two stores
 * owning complementary key groups, each fed its keys' records, give together what one gives; and
 * a checkpoint of the format before (v1, everything in the operator's snapshot) is still read.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { decodeValue } from '../checkpoint/value-codec.ts';
import type { Operator } from '../operator.ts';
import { KeyedStateStore, type KeyGroupFilter, keyGroupOf } from '../runtime/keyed-state.ts';
import { PATTERN_KEYED_STATE, PATTERN_STATE_FORMAT } from './pattern.ts';
import {
  buildPattern,
  Collect,
  type Input,
  type PatternConfig,
  type RunResult,
  runPattern,
  stageMeasures,
  throughCodec,
  watermarksOf,
} from './pattern-test-harness.ts';

const is = (v: string) => `v = '${v}'`;

/** Three stages with relaxed repetition, an absent stage and a within: threads, guards, timeouts. */
const cfg: Partial<PatternConfig> & Pick<PatternConfig, 'stages'> = {
  stages: [
    { name: 'A', where: is('a') },
    { name: 'B', where: is('b'), quantifier: '+', contiguity: 'relaxed' },
    { name: 'N', where: is('n'), absent: true, contiguity: 'relaxed' },
    { name: 'C', where: is('c'), contiguity: 'relaxed' },
  ],
  within: '400ms',
  measures: stageMeasures(['A', 'B', 'C']),
  timeouts: 'side_output',
};
const BOUND = 9;

/** 4,000 records of 37 keys, out of order within the bound, some late, some failing nothing. */
function inputs(): Input[] {
  const letters = ['a', 'b', 'x', 'a', 'b', 'b', 'n', 'c', 'a', 'c', 'x'];
  return Array.from({ length: 4_000 }, (_, n) => ({
    key: `user-${(n * 13) % 37}`,
    t: n + ((n * 31) % 9) - (n % 97 === 0 ? 40 : 0),
    id: `r${n}`,
    v: letters[(n * 7 + Math.floor(n / 37)) % letters.length],
  }));
}

/** Output records as comparable text, sorted: the union of several runs is compared as a multiset. */
function asSet(results: readonly RunResult[]): { out: string[]; timeouts: string[]; late: string[] } {
  const text = (o: RunResult['out'][number]) => JSON.stringify([o.key, o.time, o.row]);
  return {
    out: results.flatMap((r) => r.out.map(text)).sort(),
    timeouts: results.flatMap((r) => r.timeouts.map(text)).sort(),
    late: results.flatMap((r) => r.late).sort(),
  };
}

describe('pattern state in the runtime’s keyed state', () => {
  const all = inputs();
  const whole = runPattern(cfg, all, { bound: BOUND, batchSize: 7 });

  it('the workload has matches, timeouts and late records', () => {
    assert.ok(whole.out.length > 100, `matches: ${whole.out.length}`);
    assert.ok(whole.timeouts.length > 50, `timeouts: ${whole.timeouts.length}`);
    assert.ok(whole.late.length > 10, `late: ${whole.late.length}`);
  });

  it('a checkpoint mid-pattern through KeyedStateStore and the codec resumes as an uninterrupted run (1, 7, 1024)', () => {
    for (const batchSize of [1, 7, 1024]) {
      const uninterrupted = runPattern(cfg, all, { bound: BOUND, batchSize });
      assert.deepEqual(uninterrupted, whole, `batch size ${batchSize} alone`);
      for (const restartAt of [1_500, 2_777]) {
        const resumed = runPattern(cfg, all, { bound: BOUND, batchSize, restartAt, keyed: true });
        assert.deepEqual(resumed, whole, `batch size ${batchSize}, checkpoint after ${restartAt} records`);
      }
    }
  });

  it('the operator’s own snapshot keeps only what is not per key; the keys are in key groups', () => {
    const store = new KeyedStateStore('p');
    const op = buildPattern(cfg, undefined, store);
    feed(
      op,
      new Collect(),
      all.slice(0, 1_000),
      watermarksOf(all, BOUND).slice(0, 1_000),
      afterEach(all),
      0,
      64,
    );
    const own = op.snapshot?.() as { [field: string]: unknown };
    assert.deepEqual(Object.keys(own).sort(), ['format', 'pos', 'seq', 'watermark']);
    assert.equal(own.format, PATTERN_STATE_FORMAT);
    const groups = store.snapshot().maps[PATTERN_KEYED_STATE];
    const keys = Object.entries(groups).flatMap(([group, entries]) =>
      entries.map(([key, entry]) => {
        assert.equal(keyGroupOf(key as string), Number(group));
        return [key, entry] as const;
      }),
    );
    assert.ok(keys.length > 10, 'keys with state');
    assert.ok(
      keys.some(([, e]) => (e as { pending?: unknown }).pending !== undefined),
      'records waiting for the watermark are in their key’s entry',
    );
    assert.ok(
      keys.some(([, e]) => (e as { state?: unknown }).state !== undefined),
      'partial matches are in their key’s entry',
    );
  });

  it('two stores owning complementary key groups, each fed its keys’ records, give what one gives', () => {
    const checkpointAt = 2_000;
    const wms = watermarksOf(all, BOUND);
    const after = afterEach(all);
    // One operator up to the checkpoint.
    const store = new KeyedStateStore('p');
    const first = new Collect();
    const op = buildPattern(cfg, undefined, store);
    feed(op, first, all.slice(0, checkpointAt), wms.slice(0, checkpointAt), after, 0, 7);
    const checkpoint = throughCodec({ operator: op.snapshot?.(), keyed: store.snapshot() }) as {
      operator: unknown;
      keyed: unknown;
    };
    const even: KeyGroupFilter = (g) => g % 2 === 0;
    const odd: KeyGroupFilter = (g) => g % 2 === 1;
    const parts = [even, odd].map((owns) => {
      const out = new Collect();
      const part = buildPattern(cfg, checkpoint.operator, new KeyedStateStore('p', checkpoint.keyed, owns));
      // Its keys' records, each with the watermark of the whole stream before it.
      const mine = all
        .map((r, i) => ({ r, i }))
        .filter(({ r, i }) => i >= checkpointAt && owns(keyGroupOf(r.key)));
      feed(
        part,
        out,
        mine.map((m) => m.r),
        mine.map((m) => wms[m.i]),
        mine.map((m) => after[m.i]),
        0,
        7,
      );
      part.onWatermark?.(Number.POSITIVE_INFINITY, out);
      return out.result;
    });
    assert.ok(parts.every((p) => p.out.length > 10));
    assert.deepEqual(asSet([first.result, ...parts]), asSet([whole]));
  });

  it('restores a checkpoint of the format before (sluice.pattern.v1, written through the codec)', () => {
    // testdata/pattern-v1.value: the v1 snapshot (threads with guards, a record waiting for the
    // watermark) of `v1` after the first 30 of `records`, one record a batch, bound 8, encoded
    // with the checkpoint codec by the operator before its state moved to the keyed view.
    const v1 = {
      stages: [
        { name: 'A', where: is('a'), quantifier: '+', contiguity: 'strict' as const },
        { name: 'N', where: is('x'), absent: true, contiguity: 'strict' as const },
        { name: 'B', where: is('b'), contiguity: 'relaxed' as const },
      ],
      within: '100ms',
      measures: stageMeasures(['A', 'B']),
      timeouts: 'emit' as const,
    };
    const letters = 'aaxbabcab';
    const records: Input[] = Array.from({ length: 60 }, (_, n) => ({
      key: `k${n % 4}`,
      t: n * 3 + ((n * 5) % 7),
      id: `r${n}`,
      v: letters[(n * 7 + (n >> 2)) % letters.length],
    }));
    const bytes = readFileSync(new URL('./testdata/pattern-v1.value', import.meta.url));
    // Decoded per run: a restored operator takes over (and changes) what it is given.
    const decode = () => decodeValue(bytes, 2500) as { format: string };
    assert.equal(decode().format, 'sluice.pattern.v1');
    const expected = runPattern(v1, records, { bound: 8, batchSize: 1 });
    const out = expected.out.filter((o) => o.time >= 0);
    assert.ok(out.some((o) => o.row.match === 'complete') && out.some((o) => o.row.match === 'timeout'));
    // What the run gave before the checkpoint (no end of input yet).
    const early = new Collect();
    const head = records.slice(0, 30);
    const bound8 = watermarksOf(records, 8);
    feed(buildPattern(v1), early, head, bound8, bound8.slice(1).concat(Number.NaN), 0, 1);
    for (const keyed of [false, true]) {
      const resumed = runPattern(v1, records.slice(30), {
        bound: 8,
        batchSize: 1,
        keyed,
        restored: keyed ? { operator: decode() } : decode(),
      });
      assert.deepEqual(
        [...early.result.out, ...resumed.out],
        expected.out,
        `restored ${keyed ? 'in a job' : 'alone'}`,
      );
    }
  });
});

/** The watermark after each record: the greatest time so far minus the bound. */
function afterEach(records: readonly Input[]): number[] {
  let max = Number.NEGATIVE_INFINITY;
  return records.map((r) => {
    if (r.t > max) max = r.t;
    return max - BOUND;
  });
}

/**
 * Feeds `records` from index `from` in batches of `size`, each record with its watermark before
 * it (`wms`) and the watermark after each batch (`after`, of the batch's last record).
 */
function feed(
  op: Operator,
  out: Collect,
  records: readonly Input[],
  wms: readonly number[],
  after: readonly number[],
  from: number,
  size: number,
): void {
  for (let i = from; i < records.length; i += size) {
    const slice = records.slice(i, i + size);
    op.processBatch(
      {
        records: slice.map(({ key: _k, t: _t, ...fields }) => fields),
        times: slice.map((r) => r.t),
        keys: slice.map((r) => r.key),
        watermarks: wms.slice(i, i + size),
      },
      out,
    );
    op.onWatermark?.(after[Math.min(records.length, i + size) - 1], out);
  }
}
