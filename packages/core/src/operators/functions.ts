/**
 * Steps that run TypeScript functions given through the fluent API.
 *
 * The plan records only the step id and type; the function is looked up by id in the job's
 * function table. A function that throws sends that record to the dead-letter output.
 */

import Type from 'typebox';
import { SluiceError } from '../errors.ts';
import type { StepInfo } from '../operator.ts';
import { type Batch, emptyBatchLike, pushFrom, type Row } from '../record.ts';
import { defineStep, PER_RECORD_CHANGELOG } from '../spec.ts';
import { encodeKeyValue } from './key.ts';
import { keyingOperator } from './key-by.ts';
import { without } from './map.ts';

const noOptions = Type.Object({}, { additionalProperties: false });

/**
 * What the TypeScript API registered for a step: a function, or (for `process`) an object with
 * the step's callbacks. Throws PLAN_TYPE_ERROR when it is missing or of the wrong kind.
 */
export function stepFunction<F>(step: StepInfo, kind: 'function' | 'object' = 'function'): F {
  const fn = step.functions.get(step.id);
  const ok = kind === 'function' ? typeof fn === 'function' : typeof fn === 'object' && fn !== null;
  if (!ok) {
    throw new SluiceError(
      'PLAN_TYPE_ERROR',
      `this step runs a TypeScript ${kind === 'function' ? 'function' : 'object of callbacks'}, but none was given for it; such steps only run from the TypeScript API`,
      { step: step.id },
    );
  }
  return fn as F;
}

export function userError(step: string, err: unknown): SluiceError {
  const message = err instanceof Error ? err.message : String(err);
  return new SluiceError('USER_FUNCTION_FAILED', `function threw: ${message}`, { step, cause: err });
}

export const mapFnStep = defineStep({
  type: 'map_fn',
  changelog: () => PER_RECORD_CHANGELOG,
  summary: 'Transforms each record with a TypeScript function (TypeScript API only).',
  config: noOptions,
  create(_cfg, step) {
    const fn = stepFunction<(r: Row) => Row>(step);
    return {
      processBatch(batch: Batch, out) {
        const input = batch.records;
        const records: Row[] = new Array(input.length);
        const failed: number[] = [];
        for (let i = 0; i < input.length; i++) {
          try {
            records[i] = fn(input[i]);
          } catch (err) {
            failed.push(i);
            out.deadLetter(batch, i, userError(step.id, err));
          }
        }
        out.emit(failed.length > 0 ? without(batch, records, failed) : { ...batch, records });
      },
    };
  },
});

export const filterFnStep = defineStep({
  type: 'filter_fn',
  changelog: () => PER_RECORD_CHANGELOG,
  summary: 'Keeps the records for which a TypeScript function returns true (TypeScript API only).',
  config: noOptions,
  create(_cfg, step) {
    const fn = stepFunction<(r: Row) => boolean>(step);
    return {
      processBatch(batch: Batch, out) {
        const kept = emptyBatchLike(batch);
        let dropped = 0;
        for (let i = 0; i < batch.records.length; i++) {
          let pass: boolean;
          try {
            pass = fn(batch.records[i]);
          } catch (err) {
            out.deadLetter(batch, i, userError(step.id, err));
            continue;
          }
          if (pass) pushFrom(kept, batch, i, batch.records[i]);
          else dropped++;
        }
        if (dropped > 0) out.filtered(dropped);
        out.emit(kept);
      },
    };
  },
});

export const flatMapStep = defineStep({
  type: 'flat_map',
  changelog: () => PER_RECORD_CHANGELOG,
  summary: 'Turns each record into zero or more records with a TypeScript function (TypeScript API only).',
  description:
    'Records it turns into nothing are counted as filtered. Output records keep the input record’s time and key.',
  config: noOptions,
  create(_cfg, step) {
    const fn = stepFunction<(r: Row) => Iterable<Row>>(step);
    return {
      processBatch(batch: Batch, out) {
        const result = emptyBatchLike<Row>(batch);
        let dropped = 0;
        for (let i = 0; i < batch.records.length; i++) {
          const before = result.records.length;
          try {
            for (const o of fn(batch.records[i])) pushFrom(result, batch, i, o);
          } catch (err) {
            truncate(result, before);
            out.deadLetter(batch, i, userError(step.id, err));
            continue;
          }
          if (result.records.length === before) dropped++;
        }
        if (dropped > 0) out.filtered(dropped);
        out.emit(result);
      },
    };
  },
});

function truncate(batch: Batch, length: number): void {
  batch.records.length = length;
  batch.times.length = length;
  if (batch.kinds) batch.kinds.length = length;
  if (batch.keys) batch.keys.length = length;
  if (batch.offsets) batch.offsets.length = length;
  if (batch.texts) batch.texts.length = length;
  if (batch.watermarks) batch.watermarks.length = length;
}

export const keyByFnStep = defineStep({
  type: 'key_by_fn',
  changelog: () => PER_RECORD_CHANGELOG,
  summary: 'Groups records by a key computed by a TypeScript function (TypeScript API only).',
  config: noOptions,
  create(_cfg, step) {
    const fn = stepFunction<(r: Row) => unknown>(step);
    return keyingOperator(
      (r) => encodeKeyValue(fn(r)),
      (err) => userError(step.id, err),
    );
  },
});
