/**
 * Steps that run TypeScript functions given through the fluent API: `flat_map` here; `map_fn`,
 * `filter_fn`, `key_by_fn` and `dedupe_fn` are the function-given variants of the operators in
 * map.ts, filter.ts, key-by.ts and dedupe-step.ts, re-exported here.
 *
 * A function that throws sends that record to the dead-letter output.
 */

import Type from 'typebox';
import { type Batch, emptyBatchLike, pushFrom, type Row } from '../record.ts';
import { defineStep, PER_RECORD_CHANGELOG } from '../spec.ts';
import { stepFunction, userError } from './step-function.ts';

export { filterFnStep } from './filter.ts';
export { keyByFnStep } from './key-by.ts';
export { mapFnStep } from './map.ts';
export { stepFunction, userError } from './step-function.ts';

const noOptions = Type.Object({}, { additionalProperties: false });

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
  if (batch.seqs) batch.seqs.length = length;
  if (batch.texts) batch.texts.length = length;
  if (batch.watermarks) batch.watermarks.length = length;
}
