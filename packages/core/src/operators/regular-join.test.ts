/**
 * The regular join operator (a `join` with neither `between` nor `window`) alone: the changes of
 * each record, with the kinds Flink's streaming join emits; what fails; its state
 * time-to-live over endless keys with a manual clock; and its snapshot through the checkpoint
 * encoding and back; its keyed state checkpointed by key group, restored whole or split between
 * two workers, and a checkpoint of the version-1 format restored. Run as pipelines:
 * `regular-join-pipeline.test.ts`.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { decodeValue, encodeValue } from '../checkpoint/value-codec.ts';
import { SluiceError } from '../errors.ts';
import type { Output } from '../operator.ts';
import {
  type Batch,
  DELETE,
  INSERT,
  type Row,
  type RowKind,
  UPDATE_AFTER,
  UPDATE_BEFORE,
} from '../record.ts';
import { ManualClock } from '../testing/index.ts';
import { seededRandom } from '../testing/random.ts';
import { CollectingOutput } from '../window/test-support.ts';
import type { JoinKind } from './interval-join.ts';
import {
  changelogInputs,
  checkOlderFormat,
  checkpoint,
  checkRestore,
  feed,
  JoinOutput,
  openJoin,
  type RestoreCase,
} from './join-restore-test-support.ts';
import { joinStep } from './join-step.ts';
import { RegularJoinOperator } from './regular-join.ts';
import { createStep, type TestStepInfo } from './step-test-support.ts';

// ---------------------------------------------------------------------------------------------
// The operator alone: the kinds of its changes.

function stepInfo(clock = new ManualClock(0)): TestStepInfo {
  return { id: 'j', inputs: ['l', 'r'], baseDir: '.', clock, functions: new Map() };
}

function operator(
  kind: JoinKind,
  extra: { fields?: { [name: string]: string }; on?: string; ttl?: string } = {},
  clock = new ManualClock(0),
  restored?: unknown,
): RegularJoinOperator {
  const op = createStep(
    joinStep,
    { on: extra.on ?? 'l.k = r.k', kind, on_late: 'late_output', fields: extra.fields, ttl: extra.ttl },
    stepInfo(clock),
  );
  assert.ok(op instanceof RegularJoinOperator);
  op.open({ stepId: 'j', restored, clock, watermark: () => Number.NEGATIVE_INFINITY });
  return op;
}

const KIND_LETTERS = ['+I', '-U', '+U', '-D'] as const;

/**
 * Keeps what an operator emits as `[kind, row, time]`, kinds written +I, -U, +U, -D. Unlike
 * `CollectingOutput` it accepts a batch that starts with an update-after: an inner join forwards
 * the kinds of its input, as Flink does, so an update-after whose update-before matched nothing
 * stands alone.
 */
class Changes implements Output {
  readonly changes: [string, Row, number][] = [];
  readonly dead: Row[] = [];
  emit(batch: Batch): void {
    assert.equal(batch.times.length, batch.records.length);
    if (batch.kinds !== undefined) assert.equal(batch.kinds.length, batch.records.length);
    for (let i = 0; i < batch.records.length; i++)
      this.changes.push([KIND_LETTERS[batch.kinds?.[i] ?? INSERT], batch.records[i], batch.times[i]]);
  }
  deadLetter(batch: Batch, index: number): void {
    this.dead.push(batch.records[index]);
  }
  late(): void {
    assert.fail('a regular join has no late records');
  }
  filtered(): void {}
}

/** Sends `records` (with their kinds) to `port`, time `t`; returns the changes `[kind, row, time]`. */
function send(
  op: RegularJoinOperator,
  port: 0 | 1,
  t: number,
  ...records: (Row | [RowKind, Row])[]
): [string, Row, number][] {
  const out = new Changes();
  const rows = records.map((r) => (Array.isArray(r) ? r[1] : r));
  const kinds = records.map((r) => (Array.isArray(r) ? r[0] : INSERT));
  op.processBatch(
    {
      records: rows,
      times: rows.map(() => t),
      ...(kinds.some((k) => k !== INSERT) ? { kinds } : {}),
    },
    out,
    port,
  );
  assert.deepEqual(out.dead, [], 'no dead letters');
  return out.changes;
}

describe('regular join: the changes of each record, as Flink emits them', () => {
  test('inner join of inserts: pairs in arrival order, at the time of the record that made them, no kinds', () => {
    const op = operator('inner');
    assert.deepEqual(send(op, 0, 10, { k: 1, a: 'x' }, { k: 1, a: 'y' }), []);
    const out = new CollectingOutput();
    op.processBatch({ records: [{ k: 1, b: 1 }, { k: 2 }], times: [20, 21] }, out, 1);
    assert.equal(out.batches[0].kinds, undefined, 'an append-only stream carries no kinds');
    assert.deepEqual(
      out.emitted.map((e) => [e.record, e.time]),
      [
        [{ l: { k: 1, a: 'x' }, r: { k: 1, b: 1 } }, 20],
        [{ l: { k: 1, a: 'y' }, r: { k: 1, b: 1 } }, 20],
      ],
    );
  });

  test('inner join of an updating input forwards each record’s kind to its pairs', () => {
    const op = operator('inner');
    send(op, 1, 1, { k: 1, r: 'a' }, { k: 1, r: 'b' });
    assert.deepEqual(send(op, 0, 2, [INSERT, { k: 1, v: 1 }]), [
      ['+I', { l: { k: 1, v: 1 }, r: { k: 1, r: 'a' } }, 2],
      ['+I', { l: { k: 1, v: 1 }, r: { k: 1, r: 'b' } }, 2],
    ]);
    assert.deepEqual(send(op, 0, 3, [UPDATE_BEFORE, { k: 1, v: 1 }], [UPDATE_AFTER, { k: 1, v: 2 }]), [
      ['-U', { l: { k: 1, v: 1 }, r: { k: 1, r: 'a' } }, 3],
      ['-U', { l: { k: 1, v: 1 }, r: { k: 1, r: 'b' } }, 3],
      ['+U', { l: { k: 1, v: 2 }, r: { k: 1, r: 'a' } }, 3],
      ['+U', { l: { k: 1, v: 2 }, r: { k: 1, r: 'b' } }, 3],
    ]);
    assert.deepEqual(send(op, 1, 4, [DELETE, { k: 1, r: 'a' }]), [
      ['-D', { l: { k: 1, v: 2 }, r: { k: 1, r: 'a' } }, 4],
    ]);
    assert.deepEqual(op.stateSize, { left: 1, right: 1, leftKeys: 1, rightKeys: 1 });
  });

  test('left join: NULL-padded row at once, deleted at the first match, back after the last goes', () => {
    const op = operator('left');
    assert.deepEqual(send(op, 0, 1, { k: 1 }), [['+I', { l: { k: 1 }, r: null }, 1]]);
    assert.deepEqual(send(op, 1, 2, { k: 1, n: 1 }), [
      ['-D', { l: { k: 1 }, r: null }, 2],
      ['+I', { l: { k: 1 }, r: { k: 1, n: 1 } }, 2],
    ]);
    assert.deepEqual(send(op, 1, 3, { k: 1, n: 2 }), [['+I', { l: { k: 1 }, r: { k: 1, n: 2 } }, 3]]);
    assert.deepEqual(send(op, 1, 4, [DELETE, { k: 1, n: 1 }]), [
      ['-D', { l: { k: 1 }, r: { k: 1, n: 1 } }, 4],
    ]);
    // An update of the right row: a delete and an insert in a left join, not an update pair.
    assert.deepEqual(send(op, 1, 5, [UPDATE_BEFORE, { k: 1, n: 2 }], [UPDATE_AFTER, { k: 1, n: 3 }]), [
      ['-D', { l: { k: 1 }, r: { k: 1, n: 2 } }, 5],
      ['+I', { l: { k: 1 }, r: null }, 5],
      ['-D', { l: { k: 1 }, r: null }, 5],
      ['+I', { l: { k: 1 }, r: { k: 1, n: 3 } }, 5],
    ]);
    assert.deepEqual(send(op, 1, 6, [DELETE, { k: 1, n: 3 }]), [
      ['-D', { l: { k: 1 }, r: { k: 1, n: 3 } }, 6],
      ['+I', { l: { k: 1 }, r: null }, 6],
    ]);
    // The left row goes: its padded row is deleted. A right row alone emits nothing.
    assert.deepEqual(send(op, 0, 7, [DELETE, { k: 1 }]), [['-D', { l: { k: 1 }, r: null }, 7]]);
    assert.deepEqual(send(op, 1, 8, { k: 1, n: 4 }), []);
    assert.deepEqual(op.stateSize, { left: 0, right: 1, leftKeys: 0, rightKeys: 1 });
  });

  test('full join: both sides padded; a NULL key matches nothing and keeps no state', () => {
    const op = operator('full', { fields: { lv: 'l.v', rv: 'r.v' } });
    assert.deepEqual(send(op, 0, 1, { k: 1, v: 'a' }, { k: null, v: 'n' }), [
      ['+I', { lv: 'a', rv: null }, 1],
      ['+I', { lv: 'n', rv: null }, 1],
    ]);
    assert.deepEqual(send(op, 1, 2, { k: 1, v: 'b' }), [
      ['-D', { lv: 'a', rv: null }, 2],
      ['+I', { lv: 'a', rv: 'b' }, 2],
    ]);
    assert.deepEqual(send(op, 0, 3, [DELETE, { k: 1, v: 'a' }], [DELETE, { k: null, v: 'n' }]), [
      ['-D', { lv: 'a', rv: 'b' }, 3],
      ['+I', { lv: null, rv: 'b' }, 3],
      ['-D', { lv: 'n', rv: null }, 3],
    ]);
    assert.deepEqual(op.stateSize, { left: 0, right: 1, leftKeys: 0, rightKeys: 1 });
  });

  test('a residual condition: only the pairs it accepts, and matches counted per pair', () => {
    const op = operator('right', { on: 'l.k = r.k AND l.v < r.v' });
    send(op, 0, 1, { k: 1, v: 5 }, { k: 1, v: 1 });
    assert.deepEqual(send(op, 1, 2, { k: 1, v: 3 }), [['+I', { l: { k: 1, v: 1 }, r: { k: 1, v: 3 } }, 2]]);
    assert.deepEqual(send(op, 1, 3, { k: 1, v: 0 }), [['+I', { l: null, r: { k: 1, v: 0 } }, 3]]);
    assert.deepEqual(send(op, 0, 4, [DELETE, { k: 1, v: 1 }]), [
      ['-D', { l: { k: 1, v: 1 }, r: { k: 1, v: 3 } }, 4],
      ['+I', { l: null, r: { k: 1, v: 3 } }, 4],
    ]);
  });

  test('a failing key sends the record to the dead letters; a failing field is NULL, with one warning', () => {
    const warnings: string[] = [];
    const log = { debug() {}, info() {}, error() {}, warn: (message: string) => warnings.push(message) };
    const clock = new ManualClock(0);
    const op = createStep(
      joinStep,
      { on: 'l.k + 0 = r.k + 0', kind: 'full', on_late: 'late_output', fields: { s: 'r.x + l.y' } },
      stepInfo(clock),
    );
    op.open?.({ stepId: 'j', restored: undefined, clock, watermark: () => 0, log });
    const out = new CollectingOutput();
    op.processBatch({ records: [{ k: 1, x: 1 }, { k: { not: 'a number' } }], times: [1, 1] }, out, 1);
    assert.deepEqual(
      out.dead.map((d) => [d.record, d.error.code]),
      [[{ k: { not: 'a number' } }, 'EXPR_EVAL']],
    );
    op.processBatch(
      {
        records: [
          { k: 1, y: 'text' },
          { k: 1, y: 2 },
        ],
        times: [2, 2],
      },
      out,
      0,
    );
    assert.deepEqual(out.changes(), [
      ['+I', { s: null }],
      ['-D', { s: null }],
      ['+I', { s: null }],
      ['+I', { s: 3 }],
    ]);
    assert.equal(warnings.length, 1, 'one warning per expression');
    assert.match(warnings[0], /fields\.s failed on a pair/);
    assert.deepEqual((op as RegularJoinOperator).stateSize, { left: 2, right: 1, leftKeys: 1, rightKeys: 1 });
  });
});

// ---------------------------------------------------------------------------------------------
// State: time-to-live, snapshot and restore.

describe('regular join of two retract streams, against SQL over the final tables', () => {
  /**
   * A retract changelog on each side, drawn at random: inserts of rows with few keys and values
   * (so duplicates are common, and a NULL key now and then), deletes and updates of rows present
   * (retracted by a copy, equal but not the same object).
   */
  function changelog(seed: number, n: number): { port: 0 | 1; changes: [RowKind, Row][] }[] {
    const random = seededRandom(seed);
    const tables: [Row[], Row[]] = [[], []];
    const row = (): Row => ({
      k: random() < 0.05 ? null : Math.floor(random() * 5),
      v: Math.floor(random() * 4),
    });
    const out: { port: 0 | 1; changes: [RowKind, Row][] }[] = [];
    for (let i = 0; i < n; i++) {
      const port = random() < 0.5 ? 0 : 1;
      const table = tables[port];
      const roll = random();
      if (table.length === 0 || roll < 0.55) {
        const r = row();
        table.push(r);
        out.push({ port, changes: [[INSERT, r]] });
      } else {
        const [old] = table.splice(Math.floor(random() * table.length), 1);
        if (roll < 0.75) out.push({ port, changes: [[DELETE, { ...old }]] });
        else {
          const r = row();
          table.push(r);
          out.push({
            port,
            changes: [
              [UPDATE_BEFORE, { ...old }],
              [UPDATE_AFTER, r],
            ],
          });
        }
      }
    }
    return out;
  }

  function sqlJoin(left: readonly Row[], right: readonly Row[], kind: JoinKind, residual: boolean): string[] {
    const rows: string[] = [];
    const rightMatched = new Set<Row>();
    for (const l of left) {
      let matched = false;
      for (const r of right) {
        if (l.k === null || l.k !== r.k || (residual && !((l.v as number) <= (r.v as number)))) continue;
        rows.push(JSON.stringify({ l, r }));
        matched = true;
        rightMatched.add(r);
      }
      if (!matched && (kind === 'left' || kind === 'full')) rows.push(JSON.stringify({ l, r: null }));
    }
    if (kind === 'right' || kind === 'full')
      for (const r of right) if (!rightMatched.has(r)) rows.push(JSON.stringify({ l: null, r }));
    return rows.sort();
  }

  for (const kind of ['inner', 'left', 'right', 'full'] as const) {
    for (const residual of [false, true]) {
      test(`${kind}${residual ? ', with a residual condition' : ''}: every retraction removes a row it emitted; the result is the SQL join`, () => {
        const log = changelog(kind.length * 10 + (residual ? 1 : 0), 3000);
        const op = operator(kind, residual ? { on: 'l.k = r.k AND l.v <= r.v' } : {});
        const table = new Map<string, number>();
        const tables: [Row[], Row[]] = [[], []];
        let retractions = 0;
        for (const { port, changes } of log) {
          for (const [k, r] of changes) {
            const t = tables[port];
            if (k === INSERT || k === UPDATE_AFTER) t.push(r);
            else
              t.splice(
                t.findIndex((x) => x.k === r.k && x.v === r.v),
                1,
              );
          }
          for (const [letter, record] of send(op, port, 0, ...changes)) {
            const key = JSON.stringify(record);
            const n = table.get(key) ?? 0;
            if (letter === '+I' || letter === '+U') table.set(key, n + 1);
            else {
              retractions++;
              assert.ok(n > 0, `${letter} of a row not in the result: ${key}`);
              if (n === 1) table.delete(key);
              else table.set(key, n - 1);
            }
            if (kind !== 'inner')
              assert.ok(letter === '+I' || letter === '-D', `${kind} join emits ${letter}`);
          }
        }
        assert.ok(retractions > 200, `retractions (${retractions})`);
        const folded = [...table].flatMap(([row, n]) => Array.from({ length: n }, () => row)).sort();
        assert.deepEqual(folded, sqlJoin(tables[0], tables[1], kind, residual));
      });
    }
  }
});

describe('regular join state', () => {
  test('with a ttl, keys not written to are forgotten: memory stays bounded over endless new keys', () => {
    const clock = new ManualClock(0);
    const op = operator('full', { ttl: '10s' }, clock);
    const out = new CollectingOutput();
    let most = 0;
    for (let i = 0; i < 50_000; i++) {
      clock.advance(10); // 100 records a second, each of a new key, on alternating sides
      op.processBatch({ records: [{ k: i >> 1 }], times: [i] }, out, i & 1 ? 1 : 0);
      if (i % 100 === 0) {
        op.onProcessingTime(clock.now());
        const s = op.stateSize;
        most = Math.max(most, s.leftKeys + s.rightKeys);
      }
    }
    // 10 s at 100 records a second: about 1,000 keys, whatever the length of the input.
    assert.ok(most <= 1_002, `at most ${most} keys kept`);
    clock.advance(10_000);
    op.onProcessingTime(clock.now());
    assert.deepEqual(op.stateSize, { left: 0, right: 0, leftKeys: 0, rightKeys: 0 });
  });

  test('a key written to again lives on; a forgotten one no longer matches; without ttl nothing goes', () => {
    const clock = new ManualClock(0);
    const op = operator('inner', { ttl: '1s' }, clock);
    send(op, 0, 1, { k: 'kept' }, { k: 'gone' });
    clock.set(600);
    send(op, 0, 2, { k: 'kept', again: true });
    clock.set(1_000);
    op.onProcessingTime(clock.now());
    assert.equal(op.stateSize.leftKeys, 1, 'gone after 1 s untouched');
    assert.deepEqual(
      send(op, 1, 3, { k: 'kept' }, { k: 'gone' }).map(([k, r]) => [k, r]),
      [
        ['+I', { l: { k: 'kept' }, r: { k: 'kept' } }],
        ['+I', { l: { k: 'kept', again: true }, r: { k: 'kept' } }],
      ],
    );
    const forever = operator('inner', {}, clock);
    send(forever, 0, 1, { k: 1 });
    clock.set(1e12);
    forever.onProcessingTime(clock.now());
    assert.equal(forever.stateSize.left, 1);
  });

  test('snapshot is plain data the checkpoint format carries; restored, the join goes on as before', () => {
    const random = seededRandom(3);
    const batches = Array.from({ length: 400 }, (_, i) => {
      const kind = random() < 0.2 && i > 10 ? DELETE : INSERT;
      const row = { k: Math.floor(random() * 8), v: Math.floor(random() * 3) };
      return { port: (random() < 0.5 ? 0 : 1) as 0 | 1, kind: kind as RowKind, row };
    });
    const feed = (op: RegularJoinOperator, from: number, to: number) => {
      const changes: [string, Row, number][] = [];
      for (let i = from; i < to; i++) {
        const { port, kind, row } = batches[i];
        changes.push(...send(op, port, i, [kind, row]));
      }
      return changes;
    };
    const whole = operator('full', { ttl: '1h' });
    const uninterrupted = feed(whole, 0, 400);
    const first = operator('full', { ttl: '1h' });
    const before = feed(first, 0, 250);
    const { bytes, start } = encodeValue(first.snapshot(), 0, 100);
    const restored = decodeValue(bytes.subarray(start), 100);
    const second = operator('full', { ttl: '1h' }, new ManualClock(0), restored);
    assert.deepEqual([...before, ...feed(second, 250, 400)], uninterrupted);
    assert.throws(
      () => operator('inner', {}, new ManualClock(0), restored),
      (err: unknown) => err instanceof SluiceError && err.code === 'CHECKPOINT_INCOMPATIBLE',
    );
  });
});

describe('regular join keyed state', () => {
  const cases: [string, RestoreCase][] = [
    ['left, ttl 1s', { options: { kind: 'left', ttl: '1s' }, inputs: changelogInputs(17, 900), at: 450 }],
    ['full', { options: { kind: 'full' }, inputs: changelogInputs(19, 900), at: 450 }],
    ['inner', { options: { kind: 'inner' }, inputs: changelogInputs(23, 900), at: 450 }],
  ];
  for (const [name, c] of cases) {
    test(`${name}: a checkpoint restored into one store, or split by key group between two, gives the same changes, batch sizes 1, 7 and 1024`, () => {
      const runs = [1, 7, 1024].map((size) => checkRestore(c, size));
      const retractions = runs[0].after.out.filter(([kind]) => kind !== INSERT).length;
      assert.ok(retractions > 30, `retractions after the checkpoint (${retractions})`);
      for (const run of runs.slice(1)) {
        assert.deepEqual(run.whole.out, runs[0].whole.out, 'the same changes whatever the batch size');
        assert.deepEqual(run.whole.dead, runs[0].whole.dead);
      }
    });
  }

  test('a worker restores the rows of the key groups it owns only', () => {
    const { options, inputs, at } = cases[1][1];
    const join = openJoin(options);
    feed(join, inputs.slice(0, at), 7, new JoinOutput());
    const saved = checkpoint(join);
    const all = (join.op as RegularJoinOperator).stateSize;
    const halves = [0, 1].map((half) => {
      const worker = openJoin(options, saved, (group) => group % 2 === half);
      return (worker.op as RegularJoinOperator).stateSize;
    });
    assert.ok(
      halves.every((h) => h.leftKeys > 0 && h.leftKeys < all.leftKeys),
      'each has some of the keys',
    );
    assert.deepEqual(
      {
        left: halves[0].left + halves[1].left,
        right: halves[0].right + halves[1].right,
        leftKeys: halves[0].leftKeys + halves[1].leftKeys,
        rightKeys: halves[0].rightKeys + halves[1].rightKeys,
      },
      all,
    );
  });

  test('restores a checkpoint of the version-1 format (each side’s rows and last writes) and goes on as before', () => {
    checkOlderFormat(
      'regular',
      readFileSync(new URL('./testdata/regular-join-v1.snapshot', import.meta.url)),
    );
  });
});
