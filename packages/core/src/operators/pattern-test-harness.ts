/**
 * Test support for the `pattern` step: builds the operator from step options and runs records
 * through it with per-record watermarks (bounded out-of-orderness), in batches of a given size,
 * optionally through a checkpoint and restore.
 */

import { deserialize, serialize } from 'node:v8';
import type { Static } from 'typebox';
import { decodeValue, encodeValue } from '../checkpoint/value-codec.ts';
import type { SluiceError } from '../errors.ts';
import type { Operator, Output } from '../operator.ts';
import type { Batch, Row } from '../record.ts';
import { KeyedStateStore } from '../runtime/keyed-state.ts';
import type { StateBackend } from '../state.ts';
import { ManualClock } from '../time.ts';
import { patternStep } from './pattern-step.ts';
import { createStep } from './step-test-support.ts';

export type PatternConfig = Static<typeof patternStep.config>;

/** An input record: its key, event time and fields. */
export interface Input {
  readonly key: string;
  readonly t: number;
  readonly [field: string]: unknown;
}

/** What a run gave: output records (with `@time` and key), late records and dead letters (by id). */
export interface RunResult {
  out: { key: string; time: number; row: Row }[];
  /** What went to the side output `timeouts`. */
  timeouts: { key: string; time: number; row: Row }[];
  late: string[];
  dead: string[];
  filtered: number;
}

/**
 * Builds the operator from options, filling the defaults the config schema would. With `state`
 * it keeps its keyed state there, as in a job; without, in its own snapshot.
 */
export function buildPattern(
  cfg: Partial<PatternConfig> & Pick<PatternConfig, 'stages'>,
  restored?: unknown,
  state?: StateBackend,
): Operator {
  const full: PatternConfig = {
    skip: 'past_last_row',
    measures: {},
    timeouts: 'drop',
    on_late: 'late_output',
    running: false,
    ...cfg,
  };
  const op = createStep(patternStep, full, {
    id: 'p',
    baseDir: '.',
    clock: new ManualClock(),
    functions: new Map(),
  });
  op.open?.({
    stepId: 'p',
    restored,
    clock: new ManualClock(),
    watermark: () => Number.NEGATIVE_INFINITY,
    ...(state ? { state } : {}),
  });
  return op;
}

/** An Output that keeps what it is given, as a {@link RunResult}. */
export class Collect implements Output {
  readonly result: RunResult = { out: [], timeouts: [], late: [], dead: [], filtered: 0 };
  emit(batch: Batch): void {
    batch.records.forEach((row, i) => {
      this.result.out.push({ key: batch.keys![i], time: batch.times[i], row });
    });
  }
  emitTo(port: string, batch: Batch): void {
    if (port !== 'timeouts') throw new Error(`no side output '${port}'`);
    batch.records.forEach((row, i) => {
      this.result.timeouts.push({ key: batch.keys![i], time: batch.times[i], row });
    });
  }
  deadLetter(batch: Batch, index: number, error: SluiceError): void {
    this.result.dead.push(`${String(batch.records[index].id)}:${error.code}`);
  }
  late(batch: Batch, index: number): void {
    this.result.late.push(String(batch.records[index].id));
  }
  filtered(count: number): void {
    this.result.filtered += count;
  }
}

/** The watermark before each input record: the highest time before it minus `bound`. */
export function watermarksOf(inputs: readonly Input[], bound: number): number[] {
  let max = Number.NEGATIVE_INFINITY;
  return inputs.map((r) => {
    const w = max - bound;
    if (r.t > max) max = r.t;
    return w;
  });
}

/** What a checkpoint holds of a pattern operator: its snapshot and, in a job, its keyed state. */
export interface PatternCheckpoint {
  readonly operator: unknown;
  readonly keyed?: unknown;
}

/** A value through the checkpoint format's encoding and back. */
export function throughCodec(value: unknown): unknown {
  const { bytes, start } = encodeValue(value, 0, 2500);
  return decodeValue(bytes.subarray(start), 2500);
}

/**
 * Runs `inputs` in batches of `batchSize`. With `restartAt`, the operator is snapshotted after
 * that many records, dropped, and a new one restored from the snapshot takes the rest: v8
 * serialization of its own snapshot, or with `keyed`, as in a job — its keyed state in a
 * `KeyedStateStore`, both through the checkpoint codec, restored into a new store. With
 * `restored`, the run starts from that snapshot (with `keyed`, from that checkpoint). `alter`
 * changes the checkpoint before the restore (e.g. into what an older version wrote).
 */
export function runPattern(
  cfg: Partial<PatternConfig> & Pick<PatternConfig, 'stages'>,
  inputs: readonly Input[],
  options: {
    batchSize?: number;
    bound?: number;
    restartAt?: number;
    restored?: unknown;
    keyed?: boolean;
    alter?: (checkpoint: unknown) => unknown;
  } = {},
): RunResult {
  const batchSize = options.batchSize ?? 1024;
  const wms = watermarksOf(inputs, options.bound ?? 0);
  const out = new Collect();
  const build = (restored: unknown) => {
    if (!options.keyed) return { op: buildPattern(cfg, restored), store: undefined };
    const c = restored as PatternCheckpoint | undefined;
    const store = new KeyedStateStore('p', c?.keyed);
    return { op: buildPattern(cfg, c?.operator, store), store };
  };
  let { op, store } = build(options.restored);
  let max = Number.NEGATIVE_INFINITY;
  for (let from = 0; from < inputs.length; from += batchSize) {
    let to = Math.min(inputs.length, from + batchSize);
    if (options.restartAt !== undefined && from < options.restartAt && to > options.restartAt)
      to = options.restartAt;
    const slice = inputs.slice(from, to);
    const batch: Batch = {
      records: slice.map(({ key: _k, t: _t, ...fields }) => fields),
      times: slice.map((r) => r.t),
      keys: slice.map((r) => r.key),
      watermarks: wms.slice(from, to),
    };
    op.processBatch(batch, out);
    for (const r of slice) if (r.t > max) max = r.t;
    op.onWatermark?.(max - (options.bound ?? 0), out);
    if (to === options.restartAt) {
      const snapshot: unknown = store
        ? throughCodec({ operator: op.snapshot?.(), keyed: store.snapshot() })
        : deserialize(serialize(op.snapshot?.()));
      ({ op, store } = build(options.alter === undefined ? snapshot : options.alter(snapshot)));
    }
    from = to - batchSize;
  }
  op.onWatermark?.(Number.POSITIVE_INFINITY, out);
  op.close?.(out);
  return out.result;
}

/** Measures naming, per stage X, its first and last record ids and its count. */
export function stageMeasures(names: readonly string[]): { [name: string]: string } {
  const m: { [name: string]: string } = {};
  for (const n of names) {
    m[`${n}_first`] = `first(${n}.id)`;
    m[`${n}_last`] = `last(${n}.id)`;
    m[`${n}_n`] = `count(${n})`;
  }
  return m;
}

/** A match as text from `stageMeasures` output: `A:a1..a3(3) B:b1` (stages with no record left out). */
export function describeMatch(row: Row, names: readonly string[]): string {
  const parts: string[] = [];
  for (const n of names) {
    const count = row[`${n}_n`] as number;
    if (count === 0) continue;
    const first = String(row[`${n}_first`]);
    const last = String(row[`${n}_last`]);
    parts.push(count === 1 ? `${n}:${first}` : `${n}:${first}..${last}(${count})`);
  }
  const text = parts.join(' ');
  return row.match === 'timeout' ? `timeout ${text}` : text;
}

/** Records `id@time` of key `key`; the id's letter is the field `v`, its digits the field `n`. */
export function records(text: string, key = 'k'): Input[] {
  return text
    .split(/\s+/)
    .filter(Boolean)
    .map((item) => {
      const [id, t] = item.split('@');
      return { key, t: Number(t), id, v: id[0], n: Number(id.slice(1)) };
    });
}

/** Matches found over `text`, described per stage (absent stages take no records: left out). */
export function matches(
  stages: PatternConfig['stages'],
  text: string | Input[],
  cfg: Partial<PatternConfig> = {},
): string[] {
  const names = stages.filter((s) => s.absent !== true).map((s) => s.name);
  const inputs = typeof text === 'string' ? records(text) : text;
  const result = runPattern({ stages, measures: stageMeasures(names), ...cfg }, inputs);
  return result.out.map((o) => describeMatch(o.row, names));
}
