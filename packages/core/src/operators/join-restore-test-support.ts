/**
 * What the joins' checkpoint tests share: a join operator run alone over the bids and auctions
 * of `bidsAndAuctions`, fed in batches of a chosen size with the watermark each record met, its
 * keyed state in a `KeyedStateStore`; a checkpoint of the operator and its store through the
 * checkpoint encoding; a restore into one store, or into two that own complementary key groups
 * (scale-out) and are each fed the records of their keys only.
 */

import assert from 'node:assert/strict';
import { decodeValue, encodeValue } from '../checkpoint/value-codec.ts';
import type { SluiceError } from '../errors.ts';
import type { Operator, Output } from '../operator.ts';
import { type Batch, DELETE, INSERT, type Row, type RowKind } from '../record.ts';
import { watermarksBefore } from '../runtime/engine-test-support.ts';
import { KeyedStateStore, type KeyGroupFilter, keyGroupOfKey } from '../runtime/keyed-state.ts';
import { ManualClock, seededRandom } from '../testing/index.ts';
import { joinStep } from './join-step.ts';
import { BOUND, bidsAndAuctions } from './join-test-support.ts';
import { createStep } from './step-test-support.ts';

/**
 * One input record of a join: its port (0 left, 1 right), row, event time, kind, the watermark it
 * met and, for a ttl, the processing time it is taken at.
 */
export interface JoinInput {
  readonly port: 0 | 1;
  readonly row: Row;
  readonly time: number;
  readonly watermark: number;
  readonly kind: RowKind;
  readonly clock?: number;
}

/** `bidsAndAuctions` records as join input: bids on the left, auctions on the right, with the source's watermarks. */
export function joinInputsOf(records: readonly Row[]): JoinInput[] {
  const watermarks = watermarksBefore(records, BOUND);
  return records.map((row, i) => ({
    port: row.type === 'bid' ? 0 : 1,
    row,
    time: row.ts as number,
    watermark: watermarks[i],
    kind: INSERT,
  }));
}

/** What a join gave: changes as `[kind, row, time]`, late records and dead letters (`[row, code]`). */
export class JoinOutput implements Output {
  readonly out: [RowKind, Row, number][] = [];
  readonly lateRecords: Row[] = [];
  readonly dead: [Row, string][] = [];
  emit(batch: Batch): void {
    for (let i = 0; i < batch.records.length; i++)
      this.out.push([batch.kinds?.[i] ?? INSERT, batch.records[i], batch.times[i]]);
  }
  deadLetter(batch: Batch, index: number, error: SluiceError): void {
    this.dead.push([batch.records[index], error.code]);
  }
  late(batch: Batch, index: number): void {
    this.lateRecords.push(batch.records[index]);
  }
  filtered(): void {}
  /** Everything, each list sorted: for comparing outputs that may interleave differently. */
  sorted(): { out: string[]; late: string[]; dead: string[] } {
    const text = (v: unknown) => JSON.stringify(v);
    return {
      out: this.out.map(text).sort(),
      late: this.lateRecords.map(text).sort(),
      dead: this.dead.map(text).sort(),
    };
  }
}

/** The step's id and inputs: expressions read the records as `bids.…` and `auctions.…`. */
export const JOIN_STEP = { id: 'joined', inputs: ['bids', 'auctions'], baseDir: '.', functions: new Map() };

/** The key condition of the join tests: an object key fails (a dead letter), NULL matches nothing. */
export const ON = 'bids.auction + 0 = auctions.id + 0';

/** A join operator and its keyed state, opened, restored from `saved` when given. */
export interface OpenJoin {
  readonly op: Operator;
  readonly state: KeyedStateStore;
  readonly clock: ManualClock;
}

type JoinConfig = Parameters<typeof joinStep.create>[0];
/** Options of a join step; `on` defaults to {@link ON}, `on_late` to `late_output`. */
export type JoinOptions = Partial<JoinConfig>;

/**
 * Creates and opens a join with `options`, restored from `saved` (a {@link Checkpoint}) of the
 * groups `owns` accepts; `owns` false: outside a job, with no keyed state of the runtime's.
 */
export function openJoin(
  options: JoinOptions,
  saved?: Checkpoint,
  owns?: KeyGroupFilter | false,
  clock = new ManualClock(0),
): OpenJoin {
  const cfg: JoinConfig = { on: ON, kind: 'inner', on_late: 'late_output', ...options };
  const op = createStep(joinStep, cfg, { ...JOIN_STEP, clock });
  const state = new KeyedStateStore(
    JOIN_STEP.id,
    owns === false ? undefined : saved?.keyed(),
    owns || undefined,
  );
  op.open?.({
    stepId: JOIN_STEP.id,
    restored: saved?.operator(),
    clock,
    watermark: () => Number.NEGATIVE_INFINITY,
    ...(owns === false ? {} : { state }),
  });
  return { op, state, clock };
}

/** A checkpoint of an operator and its keyed state, encoded; each call decodes a fresh copy. */
export interface Checkpoint {
  operator(): unknown;
  keyed(): unknown;
}

function roundTrip(value: unknown): () => unknown {
  const { bytes, start } = encodeValue(value, 0, 100);
  const kept = bytes.slice(start);
  return () => decodeValue(kept, 100);
}

/** Takes a checkpoint of `join` as the runtime does: its snapshot and its keyed state's, through the encoding. */
export function checkpoint(join: OpenJoin): Checkpoint {
  const operator = roundTrip(join.op.snapshot?.());
  const keyed = roundTrip(join.state.snapshot());
  return { operator, keyed };
}

/** An operator snapshot stored as bytes (an older format), with no keyed state. */
export function checkpointFromBytes(bytes: Uint8Array): Checkpoint {
  return { operator: () => decodeValue(bytes, 100), keyed: () => undefined };
}

/**
 * Feeds `inputs` to `join`: runs of records of one port (and processing time), at most
 * `batchSize` long, each a batch with the watermark each record met; the clock set to the
 * records' `clock` when they have one. So every record meets the same watermark and time,
 * whatever the batch size and whichever records a worker is given.
 */
export function feed(join: OpenJoin, inputs: readonly JoinInput[], batchSize: number, out: Output): void {
  let i = 0;
  while (i < inputs.length) {
    const { port, clock } = inputs[i];
    let end = i + 1;
    while (
      end < inputs.length &&
      end - i < batchSize &&
      inputs[end].port === port &&
      inputs[end].clock === clock
    )
      end++;
    const run = inputs.slice(i, end);
    if (clock !== undefined) join.clock.set(clock);
    const batch: Batch = {
      records: run.map((r) => r.row),
      times: run.map((r) => r.time),
      watermarks: run.map((r) => r.watermark),
    };
    if (run.some((r) => r.kind !== INSERT)) batch.kinds = run.map((r) => r.kind);
    join.op.processBatch(batch, out, port);
    i = end;
  }
}

/** End of input: the watermark to +∞, then close. */
export function finish(join: OpenJoin, out: Output): void {
  join.op.onWatermark?.(Number.POSITIVE_INFINITY, out);
  join.op.close?.(out);
}

/**
 * The key group a record's state belongs to: that of its join key (`String(null)`'s for a NULL
 * key, which a window or temporal join keeps under the key `null`); undefined when the key fails
 * (the record is a dead letter and keeps no state).
 */
export function keyGroupOfInput(input: JoinInput): number | undefined {
  const value = input.port === 0 ? input.row.auction : input.row.id;
  if (value === undefined || (typeof value === 'object' && value !== null)) return undefined;
  if (value === null) return keyGroupOfKey(null);
  return keyGroupOfKey(String(value));
}

export interface RestoreCase {
  /** The join's options. */
  readonly options: JoinOptions;
  readonly inputs: readonly JoinInput[];
  /** Where the checkpoint is taken: after this many inputs. */
  readonly at: number;
}

/** What a run of a {@link RestoreCase} gave with one batch size. */
export interface RestoreRun {
  readonly whole: JoinOutput;
  /** The outputs of the two workers each owning half of the key groups, after the checkpoint. */
  readonly halves: readonly [JoinOutput, JoinOutput];
  /** What the uninterrupted run gave after the checkpoint. */
  readonly after: JoinOutput;
}

/**
 * Runs `c` with `batchSize` three ways and checks them against each other: uninterrupted; with
 * a checkpoint at `c.at` restored into a new operator and store (the same outputs, in the same
 * order; and so outside a job, the state in the operator's snapshot); and restored into two
 * stores owning the even and the odd key groups, each fed only the records of its key groups
 * (together, the same outputs after the checkpoint).
 */
export function checkRestore(c: RestoreCase, batchSize: number): RestoreRun {
  const before = c.inputs.slice(0, c.at);
  const rest = c.inputs.slice(c.at);

  const whole = new JoinOutput();
  const uninterrupted = openJoin(c.options);
  feed(uninterrupted, before, batchSize, whole);
  const upTo = { out: whole.out.length, late: whole.lateRecords.length, dead: whole.dead.length };
  feed(uninterrupted, rest, batchSize, whole);
  finish(uninterrupted, whole);
  const after = new JoinOutput();
  after.out.push(...whole.out.slice(upTo.out));
  after.lateRecords.push(...whole.lateRecords.slice(upTo.late));
  after.dead.push(...whole.dead.slice(upTo.dead));

  const first = new JoinOutput();
  const interrupted = openJoin(c.options);
  feed(interrupted, before, batchSize, first);
  const saved = checkpoint(interrupted);
  const clockNow = interrupted.clock.now();
  // In a job, what is per key is the runtime's: the operator keeps its progress and shape.
  assert.deepEqual(
    Object.keys(saved.operator() as object).filter(
      (k) => !['version', 'format', 'kind', 'watermark'].includes(k),
    ),
    [],
    'no keyed state in the operator snapshot',
  );
  // In a job, and outside one (no keyed state of the runtime's): the same results.
  for (const owns of [undefined, false] as const) {
    let from = saved;
    if (owns === false) {
      const alone = openJoin(c.options, undefined, false);
      feed(alone, before, batchSize, new JoinOutput());
      from = checkpoint(alone);
    }
    const resumed = openJoin(c.options, from, owns, new ManualClock(clockNow));
    const second = new JoinOutput();
    feed(resumed, rest, batchSize, second);
    finish(resumed, second);
    const where = `batch size ${batchSize}${owns === false ? ', outside a job' : ''}`;
    assert.deepEqual(first.out.concat(second.out), whole.out, `${where}: restored, the same results`);
    assert.deepEqual(
      first.lateRecords.concat(second.lateRecords),
      whole.lateRecords,
      `${where}: the same late records`,
    );
    assert.deepEqual(first.dead.concat(second.dead), whole.dead, `${where}: the same dead letters`);
  }

  const halves: [JoinOutput, JoinOutput] = [new JoinOutput(), new JoinOutput()];
  for (const half of [0, 1] as const) {
    const owns = (group: number) => group % 2 === half;
    const worker = openJoin(c.options, saved, owns, new ManualClock(clockNow));
    // A record whose key fails keeps no state: the first worker takes it.
    const mine = rest.filter((input) => owns(keyGroupOfInput(input) ?? 0));
    feed(worker, mine, batchSize, halves[half]);
    finish(worker, halves[half]);
  }
  for (const half of halves)
    assert.ok(half.out.length > 0, `batch size ${batchSize}: each worker has results`);
  const union = new JoinOutput();
  for (const half of halves) {
    union.out.push(...half.out);
    union.lateRecords.push(...half.lateRecords);
    union.dead.push(...half.dead);
  }
  assert.deepEqual(union.sorted(), after.sorted(), `batch size ${batchSize}: two workers give what one did`);
  return { whole, halves, after };
}

/**
 * A changelog of bids and auctions for the regular join: `bidsAndAuctions(seed, n)` with, after
 * every eighth record, a delete of a copy of an earlier row of a random side, and a processing
 * time advancing 500 ms every ten records (for a ttl).
 */
export function changelogInputs(seed: number, n: number): JoinInput[] {
  const next = seededRandom(seed);
  const kept: [Row[], Row[]] = [[], []];
  const out: JoinInput[] = [];
  joinInputsOf(bidsAndAuctions(seed, n)).forEach((input, i) => {
    const clock = Math.floor(i / 10) * 500;
    out.push({ ...input, clock });
    kept[input.port].push(input.row);
    if (i % 8 !== 7) return;
    const port = next() < 0.5 ? 0 : 1;
    const rows = kept[port];
    if (rows.length === 0) return;
    const [row] = rows.splice(Math.floor(next() * rows.length), 1);
    out.push({ port, row: { ...row }, time: input.time, watermark: input.watermark, kind: DELETE, clock });
  });
  return out;
}

/**
 * The checkpoints in the joins' older snapshot formats (`testdata/*-v1.snapshot`): each join with
 * these options, opened with {@link openJoin} and fed the first `at` of `inputs` in batches of
 * 7 with {@link feed}, its `snapshot()` through `encodeValue` — written by the code of that format
 * (commit 3aa204b), whose operators kept all their state in their snapshot.
 */
export const OLDER_FORMATS = {
  interval: {
    options: { kind: 'full', between: ['-3s', '4s'] },
    inputs: () => joinInputsOf(bidsAndAuctions(5, 160)),
    at: 80,
  },
  window: {
    options: { kind: 'full', window: { type: 'hopping', size: '10s', slide: '5s' } },
    inputs: () => joinInputsOf(bidsAndAuctions(5, 160)),
    at: 80,
  },
  temporal: {
    options: { kind: 'left', temporal: true },
    inputs: () => joinInputsOf(bidsAndAuctions(5, 160)),
    at: 80,
  },
  regular: {
    options: { kind: 'full', ttl: '2s' },
    inputs: () => changelogInputs(5, 120),
    at: 70,
  },
} satisfies { [join: string]: { options: JoinOptions; inputs: () => JoinInput[]; at: number } };

/** Batch size of the older-format fixtures. */
export const OLDER_FORMAT_BATCH = 7;

/**
 * Restores `join` from its older-format fixture (`bytes`), finishes the run, and checks that the
 * results before and after are those of an uninterrupted run.
 */
export function checkOlderFormat(join: keyof typeof OLDER_FORMATS, bytes: Uint8Array): JoinOutput {
  const { options, inputs: make, at } = OLDER_FORMATS[join];
  const inputs = make();
  const whole = new JoinOutput();
  const uninterrupted = openJoin(options);
  feed(uninterrupted, inputs.slice(0, at), OLDER_FORMAT_BATCH, whole);
  feed(uninterrupted, inputs.slice(at), OLDER_FORMAT_BATCH, whole);
  finish(uninterrupted, whole);
  const first = new JoinOutput();
  feed(openJoin(options), inputs.slice(0, at), OLDER_FORMAT_BATCH, first);
  const second = new JoinOutput();
  const clock = new ManualClock(inputs[at - 1].clock ?? 0);
  const resumed = openJoin(options, checkpointFromBytes(bytes), undefined, clock);
  feed(resumed, inputs.slice(at), OLDER_FORMAT_BATCH, second);
  finish(resumed, second);
  assert.deepEqual(first.out.concat(second.out), whole.out, 'the same results');
  assert.deepEqual(first.lateRecords.concat(second.lateRecords), whole.lateRecords, 'the same late records');
  assert.deepEqual(first.dead.concat(second.dead), whole.dead, 'the same dead letters');
  assert.ok(second.out.length > 0, 'results after the restore');
  return second;
}
