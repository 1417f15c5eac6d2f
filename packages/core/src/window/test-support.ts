/**
 * Test helpers for the window tests: an Output that collects, a context with a manual clock, and
 * shorthands for aggregate fields. Not part of the public surface.
 */

import { deserialize, serialize } from 'node:v8';
import { aggregateFunction } from '../aggregate/registry.ts';
import type { SluiceError } from '../errors.ts';
import type { Operator, OperatorContext, Output } from '../operator.ts';
import {
  type Batch,
  DELETE,
  INSERT,
  type Row,
  type RowKind,
  UPDATE_AFTER,
  UPDATE_BEFORE,
} from '../record.ts';
import { ManualClock } from '../time.ts';
import type { AggregateField } from './window-aggregate.ts';

/** One emitted result, with the event time, key and row kind its batch gave it. */
export interface Emitted {
  record: Row;
  time: number;
  key: string | undefined;
  kind: RowKind;
}

/** Letters of the row kinds in {@link CollectingOutput.changes}: +I, -U, +U, -D. */
const KIND_NAMES = ['+I', '-U', '+U', '-D'] as const;

/** An Output that keeps everything it is given. */
export class CollectingOutput implements Output {
  readonly emitted: Emitted[] = [];
  readonly batches: Batch[] = [];
  readonly lateRecords: { record: Row; time: number; reason: string }[] = [];
  readonly dead: { record: Row; error: SluiceError }[] = [];
  filteredCount = 0;

  emit(batch: Batch): void {
    assertBatchShape(batch);
    this.batches.push(batch);
    for (let i = 0; i < batch.records.length; i++) {
      this.emitted.push({
        record: batch.records[i],
        time: batch.times[i],
        key: batch.keys?.[i],
        kind: batch.kinds?.[i] ?? INSERT,
      });
    }
  }

  deadLetter(batch: Batch, index: number, error: SluiceError): void {
    this.dead.push({ record: batch.records[index], error });
  }

  late(batch: Batch, index: number, reason: string): void {
    this.lateRecords.push({ record: batch.records[index], time: batch.times[index], reason });
  }

  filtered(count: number): void {
    this.filteredCount += count;
  }

  /** The result records emitted since the last call. */
  take(): Row[] {
    return this.emitted.splice(0).map((e) => e.record);
  }

  /** The results emitted since the last call as `[kind, record]`, kind written +I, -U, +U or -D. */
  changes(): [string, Row][] {
    return this.emitted.splice(0).map((e) => [KIND_NAMES[e.kind], e.record]);
  }
}

/** The identity of a result in a folded changelog: its key fields and window bounds. */
export function windowId(r: Row, keyFields: readonly string[] = ['k']): string {
  return JSON.stringify([...keyFields.map((f) => r[f] ?? null), r.key ?? null, r.window_start, r.window_end]);
}

/**
 * Folds a retract changelog into the table it describes, (key, window) → result, and checks it is
 * well formed: an INSERT adds a result not in the table, an UPDATE_BEFORE is followed by the
 * UPDATE_AFTER of the same (key, window) and retracts exactly the row in the table, and so does a
 * DELETE.
 */
export function foldChangelog(emitted: readonly Emitted[], keyFields?: readonly string[]): Map<string, Row> {
  const table = new Map<string, Row>();
  for (let i = 0; i < emitted.length; i++) {
    const { record, kind } = emitted[i];
    const id = windowId(record, keyFields);
    if (kind === INSERT || kind === UPDATE_AFTER) {
      if (kind === INSERT && table.has(id)) throw new Error(`INSERT of ${id}, which is in the table`);
      if (kind === UPDATE_AFTER && emitted[i - 1]?.kind !== UPDATE_BEFORE)
        throw new Error(`UPDATE_AFTER of ${id} without its UPDATE_BEFORE`);
      table.set(id, record);
      continue;
    }
    if (kind === UPDATE_BEFORE && emitted[i + 1]?.kind !== UPDATE_AFTER)
      throw new Error(`UPDATE_BEFORE of ${id} not followed by an UPDATE_AFTER`);
    const current = table.get(id);
    if (current === undefined || JSON.stringify(current) !== JSON.stringify(record))
      throw new Error(
        `${kind === DELETE ? 'DELETE' : 'UPDATE_BEFORE'} of ${JSON.stringify(record)}, which is not in the table`,
      );
    table.delete(id);
  }
  return table;
}

function assertBatchShape(batch: Batch): void {
  if (batch.times.length !== batch.records.length)
    throw new Error('batch times and records differ in length');
  const kinds = batch.kinds;
  if (kinds !== undefined) {
    if (kinds.length !== batch.records.length) throw new Error('batch kinds differ in length');
    if (kinds[0] === UPDATE_AFTER) throw new Error('a batch starts with an UPDATE_AFTER: a pair was split');
    if (kinds[kinds.length - 1] === UPDATE_BEFORE)
      throw new Error('a batch ends with an UPDATE_BEFORE: a pair was split');
  }
  if (batch.keys && batch.keys.length !== batch.records.length)
    throw new Error('batch keys differ in length');
}

/** Opens `op` with a manual clock (and restored state, if given); returns the clock. */
export function open(op: Operator, restored?: unknown, clock = new ManualClock(0)): ManualClock {
  let watermark = Number.NEGATIVE_INFINITY;
  const ctx: OperatorContext = { stepId: 'w', restored, clock, watermark: () => watermark };
  op.open?.(ctx);
  watermark = 0;
  return clock;
}

/** A batch of records with their event times (and keys). */
export function batchOf(records: Row[], times: number[], keys?: string[]): Batch {
  const batch: Batch = { records, times };
  if (keys) batch.keys = keys;
  return batch;
}

/** A round trip through v8 serialization, as a checkpoint does. */
export function roundTrip(value: unknown): unknown {
  return deserialize(serialize(value));
}

/** `count(*) AS name`. */
export function countStar(name = 'n'): AggregateField {
  return { name, fn: aggregateFunction('count', { star: true }) };
}

/** `fn(field) AS name`. */
export function agg(name: string, fn: string, field: string, params?: unknown[]): AggregateField {
  return { name, fn: aggregateFunction(fn, { params }), arg: (r) => r[field] };
}
