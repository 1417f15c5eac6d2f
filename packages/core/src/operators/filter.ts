/**
 * `filter`: keeps the records for which a SQL condition is true; `filter_fn`: those for which a
 * TypeScript function returns true. Both run `filterOperator`.
 */

import Type from 'typebox';
import { type SluiceError, toSluiceError } from '../errors.ts';
import { compilePredicate } from '../expr/index.ts';
import type { Operator } from '../operator.ts';
import { type Batch, emptyBatchLike, pushFrom, type Row } from '../record.ts';
import { defineStep, PER_RECORD_CHANGELOG } from '../spec.ts';
import { stepFunction, userError } from './step-function.ts';

const config = Type.Object(
  {
    where: Type.String({
      description:
        'SQL condition; records for which it is false or NULL are dropped (and counted as filtered).',
      examples: ['amount > 0 AND region IS NOT NULL'],
    }),
  },
  { additionalProperties: false },
);

export const filterStep = defineStep({
  type: 'filter',
  changelog: () => PER_RECORD_CHANGELOG,
  summary: 'Keeps the records for which a SQL condition holds.',
  description:
    'A record on which the condition fails to evaluate (missing field, bad type) goes to the dead-letter output; one for which it is false or NULL is counted as filtered.',
  config,
  example: "type: filter\nwhere: amount > 0 AND region <> 'test'",
  expressions: (cfg) => ({ where: cfg.where }),
  schema(_cfg, [input], ctx) {
    ctx.check('where', input, 'predicate');
    return input;
  },
  key: (_cfg, [input]) => input,
  create(_cfg, step) {
    const test = compilePredicate(step.expression('where'), {
      step: step.id,
      path: 'where',
      clock: step.clock,
    });
    return filterOperator(test, (err) => toSluiceError(err, 'EXPR_EVAL', { step: step.id }));
  },
});

export const filterFnStep = defineStep({
  type: 'filter_fn',
  changelog: () => PER_RECORD_CHANGELOG,
  summary: 'Keeps the records for which a TypeScript function returns true (TypeScript API only).',
  config: Type.Object({}, { additionalProperties: false }),
  schema: (_cfg, [input]) => input,
  key: (_cfg, [input]) => input,
  create(_cfg, step) {
    const fn = stepFunction<(r: Row) => boolean>(step);
    return filterOperator(fn, (err) => userError(step.id, err));
  },
});

/**
 * The filter operator, of both `filter` (a condition) and `filter_fn` (a function): keeps the
 * records for which `test` returns true and counts the others as filtered. A record on which it
 * throws goes to the dead-letter output with the error `onError` makes of what was thrown.
 */
export function filterOperator(
  test: (record: Row) => boolean,
  onError: (err: unknown) => SluiceError,
): Operator {
  return {
    processBatch(batch: Batch, out) {
      const records = batch.records;
      const kept = emptyBatchLike(batch);
      let dropped = 0;
      for (let i = 0; i < records.length; i++) {
        let pass: boolean;
        try {
          pass = test(records[i]);
        } catch (err) {
          out.deadLetter(batch, i, onError(err));
          continue;
        }
        if (pass) pushFrom(kept, batch, i, records[i]);
        else dropped++;
      }
      if (dropped > 0) out.filtered(dropped);
      out.emit(kept);
    },
  };
}
