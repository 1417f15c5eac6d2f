/**
 * Test helpers for operators whose keyed state the runtime holds: run a scenario straight, or
 * checkpoint it mid-stream through a `KeyedStateStore` and the checkpoint codec and resume it in a
 * new store — whole, or split over two stores that own complementary key groups, each fed the
 * records of its keys (what scale-out does). Not part of the public surface.
 */

import assert from 'node:assert/strict';
import { decodeValue, encodeValue } from '../checkpoint/value-codec.ts';
import type { Operator } from '../operator.ts';
import type { Batch, Row, RowKind } from '../record.ts';
import { KeyedStateStore, type KeyGroupFilter, keyGroupOfKey } from '../runtime/keyed-state.ts';
import { ManualClock } from '../time.ts';
import { CollectingOutput } from '../window/test-support.ts';

/** An input and how to run it through one step. */
export interface KeyedScenario {
  /** A fresh operator of the step. */
  make(): Operator;
  readonly records: readonly Row[];
  readonly times: readonly number[];
  /** Per record, the watermark that stands before it (`Batch.watermarks`); absent: none. */
  readonly watermarks?: readonly number[];
  /** `key_by` keys of the records; absent: unkeyed batches. */
  readonly keys?: readonly string[];
  /** Row kinds of the records (`Batch.kinds`: a retract stream); absent: inserts. */
  readonly kinds?: readonly RowKind[];
  /**
   * Processing time of the records of each block of `block` records (batches never cross a
   * block, so every batch size sees the same clock); absent: 0.
   */
  clockAt?(index: number): number;
  /** Records per block of the clock; a multiple of 7 and 1024 keeps batches of those sizes whole. */
  readonly block?: number;
  /** The key record `index` is kept under in the step's keyed state (its key group decides the split). */
  keyOf(record: Row, index: number): unknown;
}

/** What a run produced, comparable between runs. */
export interface RunOutput {
  emitted: CollectingOutput['emitted'];
  late: CollectingOutput['lateRecords'];
  dead: { record: Row; code: string }[];
  filtered: number;
}

/** A round trip through the checkpoint's value codec. */
export function codecRoundTrip(value: unknown): unknown {
  const { bytes, start } = encodeValue(value, 0, 100);
  return decodeValue(bytes.subarray(start), 100);
}

const STEP = 's';

function opened(scenario: KeyedScenario, clock: ManualClock, store: KeyedStateStore, restored?: unknown) {
  const op = scenario.make();
  op.open?.({ stepId: STEP, restored, clock, watermark: () => Number.NEGATIVE_INFINITY, state: store });
  return op;
}

/** Feeds records `indexes` in batches of `size`, cut where the clock's block changes. */
function feed(
  op: Operator,
  scenario: KeyedScenario,
  indexes: readonly number[],
  size: number,
  clock: ManualClock,
  out: CollectingOutput,
): void {
  const block = scenario.block ?? Number.POSITIVE_INFINITY;
  const blockOf = (i: number) => Math.floor(i / block);
  for (let s = 0; s < indexes.length; ) {
    let e = s + 1;
    while (e < indexes.length && e - s < size && blockOf(indexes[e]) === blockOf(indexes[s])) e++;
    const part = indexes.slice(s, e);
    const batch: Batch = {
      records: part.map((i) => scenario.records[i]),
      times: part.map((i) => scenario.times[i]),
    };
    if (scenario.watermarks) batch.watermarks = part.map((i) => scenario.watermarks![i]);
    if (scenario.keys) batch.keys = part.map((i) => scenario.keys![i]);
    if (scenario.kinds) batch.kinds = part.map((i) => scenario.kinds![i]);
    clock.set(scenario.clockAt?.(indexes[s]) ?? 0);
    op.onProcessingTime?.(clock.now(), out);
    op.processBatch(batch, out);
    s = e;
  }
}

function finish(op: Operator, out: CollectingOutput): void {
  op.onWatermark?.(Number.POSITIVE_INFINITY, out);
  op.close?.(out);
}

function result(out: CollectingOutput): RunOutput {
  return {
    emitted: out.emitted,
    late: out.lateRecords,
    dead: out.dead.map((d) => ({ record: d.record, code: d.error.code })),
    filtered: out.filteredCount,
  };
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);

/** The scenario run without a stop, in batches of `size`. */
export function runStraight(scenario: KeyedScenario, size: number): RunOutput {
  const clock = new ManualClock(0);
  const out = new CollectingOutput();
  const op = opened(scenario, clock, new KeyedStateStore(STEP));
  feed(op, scenario, range(0, scenario.records.length), size, clock, out);
  finish(op, out);
  return result(out);
}

/** A checkpoint taken after record `cut`: the operator's snapshot and its keyed state, through the codec. */
export interface TakenCheckpoint {
  operator: unknown;
  keyed: unknown;
  /** What the run emitted before the checkpoint. */
  before: RunOutput;
  /** The clock at the checkpoint. */
  now: number;
}

/** Runs records 0..cut-1 in batches of `size` and checkpoints. */
export function runToCheckpoint(scenario: KeyedScenario, cut: number, size: number): TakenCheckpoint {
  const clock = new ManualClock(0);
  const out = new CollectingOutput();
  const store = new KeyedStateStore(STEP);
  const op = opened(scenario, clock, store);
  feed(op, scenario, range(0, cut), size, clock, out);
  return {
    operator: codecRoundTrip(op.snapshot?.()),
    keyed: codecRoundTrip(store.snapshot()),
    before: result(out),
    now: clock.now(),
  };
}

/**
 * Restores `checkpoint` into a new store owning the key groups `owns` accepts and runs the records
 * from `cut` on whose key it owns, then the end of input.
 */
export function resume(
  scenario: KeyedScenario,
  checkpoint: { operator: unknown; keyed: unknown; now?: number },
  cut: number,
  size: number,
  owns: KeyGroupFilter = () => true,
): RunOutput {
  const clock = new ManualClock(checkpoint.now ?? 0);
  const out = new CollectingOutput();
  // A copy for each restore: the operator takes the restored values over and changes them.
  const store = new KeyedStateStore(STEP, codecRoundTrip(checkpoint.keyed), owns);
  const op = opened(scenario, clock, store, codecRoundTrip(checkpoint.operator));
  const mine = range(cut, scenario.records.length).filter((i) =>
    owns(keyGroupOfKey(scenario.keyOf(scenario.records[i], i))),
  );
  feed(op, scenario, mine, size, clock, out);
  finish(op, out);
  return result(out);
}

/** Sorted JSON texts of a run's outputs, to compare runs whose order differs (bigints spelled out). */
export function asMultiset(run: RunOutput): { emitted: string[]; late: string[]; dead: string[] } {
  const text = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x));
  return {
    emitted: run.emitted.map(text).sort(),
    late: run.late.map(text).sort(),
    dead: run.dead.map(text).sort(),
  };
}

const concat = (a: RunOutput, b: RunOutput): RunOutput => ({
  emitted: [...a.emitted, ...b.emitted],
  late: [...a.late, ...b.late],
  dead: [...a.dead, ...b.dead],
  filtered: a.filtered + b.filtered,
});

/**
 * Checks, for batch sizes 1, 7 and 1024, that runs checkpointed after each of `cuts` and resumed
 * give exactly the uninterrupted run's output, and that resuming in two stores owning the even and
 * the odd key groups gives between them the same results after the cut. Returns the straight run.
 */
export function assertRestores(scenario: KeyedScenario, cuts: readonly number[]): RunOutput {
  const straight = runStraight(scenario, 1);
  for (const size of [1, 7, 1024]) {
    assert.deepEqual(runStraight(scenario, size), straight, `batch size ${size}`);
    for (const cut of cuts) {
      const checkpoint = runToCheckpoint(scenario, cut, size);
      const label = `batch size ${size}, checkpoint after ${cut}`;
      const whole = resume(scenario, checkpoint, cut, size);
      assert.deepEqual(concat(checkpoint.before, whole), straight, label);
      const even = resume(scenario, checkpoint, cut, size, (g) => g % 2 === 0);
      const odd = resume(scenario, checkpoint, cut, size, (g) => g % 2 === 1);
      assert.ok(even.emitted.length > 0 && odd.emitted.length > 0, `${label}: both halves emit`);
      assert.deepEqual(asMultiset(concat(even, odd)), asMultiset(whole), `${label}: split by key group`);
      assert.equal(even.filtered + odd.filtered, whole.filtered, `${label}: split by key group, filtered`);
    }
  }
  return straight;
}
