/**
 * Test helpers for the window tests: an Output that collects, a context with a manual clock, and
 * shorthands for aggregate fields. Not part of the public surface.
 */

import { deserialize, serialize } from 'node:v8';
import { aggregateFunction } from '../aggregate/registry.ts';
import type { SluiceError } from '../errors.ts';
import type { Operator, OperatorContext, Output } from '../operator.ts';
import type { Batch, Row } from '../record.ts';
import { ManualClock } from '../time.ts';
import type { AggregateField } from './window-aggregate.ts';

/** One emitted result, with the event time and key its batch gave it. */
export interface Emitted {
  record: Row;
  time: number;
  key: string | undefined;
}

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
      this.emitted.push({ record: batch.records[i], time: batch.times[i], key: batch.keys?.[i] });
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
}

function assertBatchShape(batch: Batch): void {
  if (batch.times.length !== batch.records.length)
    throw new Error('batch times and records differ in length');
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
