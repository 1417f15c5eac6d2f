/**
 * The window aggregate on the runtime's keyed state: checkpointed mid-stream through a
 * `KeyedStateStore` and the checkpoint codec, it resumes as if it had not stopped — in one store,
 * or split over two that own complementary key groups — for every window kind, with and without
 * allowed lateness, group keys of several types; and snapshots of format v2, which held every
 * window in the operator's snapshot, are read.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  assertRestores,
  type KeyedScenario,
  resume,
  runStraight,
} from '../operators/keyed-restore-test-support.ts';
import { INSERT, type Row, UPDATE_AFTER, UPDATE_BEFORE } from '../record.ts';
import { seededRandom } from '../testing/random.ts';
import { agg, countStar } from './test-support.ts';
import { createWindowAggregate } from './window-aggregate.ts';
import type { WindowSpec } from './window-spec.ts';

const make =
  (window: WindowSpec, allowedLateness: number, time: 'event' | 'processing' = 'event') =>
  () =>
    createWindowAggregate({
      stepId: 'w',
      window,
      time,
      keyFields: ['k'],
      fields: [countStar('n'), agg('total', 'sum', 'v')],
      allowedLateness,
    });

/**
 * Records at times mostly ascending with jitter, the watermark 40 behind the latest time (some
 * records late), group keys text, numbers, booleans and NULL.
 */
function scenario(window: WindowSpec, allowedLateness: number, count = 2000): KeyedScenario {
  const random = seededRandom(17);
  const kinds = [(n: number) => `k${n}`, (n: number) => n, (n: number) => n % 2 === 0, () => null];
  const times: number[] = [];
  const watermarks: number[] = [];
  let latest = Number.NEGATIVE_INFINITY;
  const records = Array.from({ length: count }, (_, i) => {
    watermarks.push(latest - 40);
    const time = i * 2 + Math.floor(random() * 120) - 60;
    times.push(time);
    latest = Math.max(latest, time);
    const k = kinds[Math.floor(random() * kinds.length)](Math.floor(random() * 25));
    return { i, k, v: random() < 0.02 ? 'x' : Math.floor(random() * 100) };
  });
  return { make: make(window, allowedLateness), records, times, watermarks, keyOf: (r) => r.k };
}

describe('window aggregate on the runtime’s keyed state', () => {
  const windows: WindowSpec[] = [
    { type: 'tumbling', size: 10, offset: 3 },
    { type: 'hopping', size: 12, slide: 4 },
    { type: 'cumulative', size: 30, step: 10 },
    { type: 'session', gap: 6 },
  ];
  for (const window of windows) {
    it(`${window.type}: checkpointed mid-stream and restored, whole or split by key group, it goes on as if it had not stopped`, () => {
      for (const lateness of [0, 25]) {
        const straight = assertRestores(scenario(window, lateness), [777]);
        assert.ok(straight.emitted.length > 100 && straight.late.length > 0 && straight.dead.length > 0);
        if (lateness > 0) assert.ok(straight.emitted.some((e) => e.kind === UPDATE_BEFORE));
      }
    });
  }

  it('keyed input (key_by) in processing time: restored whole or split, it goes on as if it had not stopped', () => {
    const BLOCK = 7 * 1024;
    const random = seededRandom(19);
    const records = Array.from({ length: 3 * BLOCK }, (_, i) => ({ i, v: Math.floor(random() * 10) }));
    const keys = records.map(() => `user-${Math.floor(random() * 60)}`);
    const s: KeyedScenario = {
      make: () =>
        createWindowAggregate({
          stepId: 'w',
          window: { type: 'tumbling', size: 1000 },
          time: 'processing',
          fields: [countStar('n'), agg('total', 'sum', 'v')],
          allowedLateness: 0,
        }),
      records,
      times: records.map((_, i) => i),
      keys,
      block: BLOCK,
      clockAt: (i) => 1_000_000 + Math.floor(i / BLOCK) * 1000,
      keyOf: (_r, i) => keys[i],
    };
    const straight = assertRestores(s, [BLOCK + 7 * 99]);
    assert.ok(straight.emitted.every((e) => e.key === e.record.key));
  });
});

describe('window aggregate: snapshots from before keyed state', () => {
  const short = (r: Row) => [r.k, r.window_start, r.window_end, r.n, r.total];
  const rowsOf = (items: [unknown, number, number][]) => ({
    records: items.map(([k, v]) => ({ k, v })),
    times: items.map((item) => item[2]),
  });

  it('tumbling, format v2: the windows and the results fired windows emitted move into the keyed state', () => {
    // What v2 snapshotted after the first six records, with the watermark at 13.
    const v2 = {
      format: 'sluice.window_aggregate.v2',
      shape:
        '{"window":{"type":"tumbling","size":10,"offset":0},"time":"event","keyFields":["k"],"fields":[["n","count"],["total","sum"]]}',
      progress: 13,
      keyedInput: false,
      store: {
        windows: [
          {
            start: 0,
            end: 10,
            fired: true,
            groups: new Map<unknown, unknown>([
              [
                'a',
                {
                  keyValues: ['a'],
                  accumulators: [1, 1],
                  emitted: { k: 'a', window_start: 0, window_end: 10, n: 1, total: 1 },
                },
              ],
              [
                'b',
                {
                  keyValues: ['b'],
                  accumulators: [2, 3],
                  emitted: { k: 'b', window_start: 0, window_end: 10, n: 2, total: 3 },
                },
              ],
            ]),
          },
          {
            start: 10,
            end: 20,
            fired: false,
            groups: new Map<unknown, unknown>([
              [7, { keyValues: [7], accumulators: [1, 3] }],
              [null, { keyValues: [null], accumulators: [1, 4] }],
              ['a', { keyValues: ['a'], accumulators: [1, 5] }],
            ]),
          },
        ],
      },
    };
    const s: KeyedScenario = {
      make: make({ type: 'tumbling', size: 10 }, 20),
      ...rowsOf([
        ['a', 1, 2],
        ['b', 2, 5],
        [7, 3, 12],
        [null, 4, 14],
        ['a', 5, 15],
        ['b', 1, 3],
        ['a', 2, 4],
        [7, 1, 25],
        ['b', 3, 18],
        ['a', 1, 1],
      ]),
      watermarks: [-Infinity, -Infinity, -Infinity, -Infinity, 11, 11, 13, 13, 13, 40],
      keyOf: (r) => r.k,
    };
    const straight = runStraight(s, 1);
    const after = resume(s, { operator: v2, keyed: undefined }, 6, 1);
    assert.deepEqual(
      after.emitted.map((e) => [e.kind, ...short(e.record)]),
      [
        [UPDATE_BEFORE, 'a', 0, 10, 1, 1],
        [UPDATE_AFTER, 'a', 0, 10, 2, 3],
        [INSERT, 7, 10, 20, 1, 3],
        [INSERT, null, 10, 20, 1, 4],
        [INSERT, 'a', 10, 20, 1, 5],
        [INSERT, 'b', 10, 20, 1, 3],
        [INSERT, 7, 20, 30, 1, 1],
      ],
    );
    assert.deepEqual(after.emitted, straight.emitted.slice(-after.emitted.length));
    assert.deepEqual(after.late, straight.late);
  });

  it('session, format v2: the sessions and what they emitted move into the keyed state', () => {
    const v2 = {
      format: 'sluice.window_aggregate.v2',
      shape:
        '{"window":{"type":"session","gap":5},"time":"event","keyFields":["k"],"fields":[["n","count"],["total","sum"]]}',
      progress: 10,
      keyedInput: false,
      store: {
        sessions: [
          {
            key: 'a',
            start: 0,
            end: 8,
            fired: true,
            seq: 0,
            keyValues: ['a'],
            accumulators: [2, 3],
            emitted: { k: 'a', window_start: 0, window_end: 8, n: 2, total: 3 },
          },
          { key: 'a', start: 9, end: 14, fired: false, seq: 3, keyValues: ['a'], accumulators: [1, 3] },
          {
            key: 'b',
            start: 1,
            end: 10,
            fired: true,
            seq: 1,
            keyValues: ['b'],
            accumulators: [2, 6],
            emitted: { k: 'b', window_start: 1, window_end: 10, n: 2, total: 6 },
          },
          {
            key: 7,
            start: 2,
            end: 7,
            fired: true,
            seq: 2,
            keyValues: [7],
            accumulators: [1, 1],
            emitted: { k: 7, window_start: 2, window_end: 7, n: 1, total: 1 },
          },
        ],
        nextSeq: 4,
      },
    };
    const s: KeyedScenario = {
      make: make({ type: 'session', gap: 5 }, 10),
      ...rowsOf([
        ['a', 1, 0],
        ['a', 2, 3],
        ['b', 1, 1],
        [7, 1, 2],
        ['a', 3, 9],
        ['b', 5, 5],
        ['a', 1, 7],
        ['b', 1, 40],
      ]),
      watermarks: [-Infinity, -Infinity, -Infinity, -Infinity, 10, 10, 10, 30],
      keyOf: (r) => r.k,
    };
    const straight = runStraight(s, 1);
    const after = resume(s, { operator: v2, keyed: undefined }, 6, 1);
    // a@7 merges a's fired session [0, 8) and [9, 14) into [0, 14): its result, emitted before
    // the snapshot, is updated when the merged session fires.
    assert.deepEqual(
      after.emitted.map((e) => [e.kind, ...short(e.record)]),
      [
        [UPDATE_BEFORE, 'a', 0, 8, 2, 3],
        [UPDATE_AFTER, 'a', 0, 14, 4, 7],
        [INSERT, 'b', 40, 45, 1, 1],
      ],
    );
    assert.deepEqual(after.emitted, straight.emitted.slice(-after.emitted.length));
  });
});
