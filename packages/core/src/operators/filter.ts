/**
 * `filter`: keeps the records for which a SQL condition is true.
 */

import Type from 'typebox';
import { toSluiceError } from '../errors.ts';
import { compilePredicate } from '../expr/index.ts';
import { type Batch, emptyBatchLike, pushFrom } from '../record.ts';
import { defineStep, PER_RECORD_CHANGELOG } from '../spec.ts';

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
  create(cfg, step) {
    const test = compilePredicate(cfg.where, { step: step.id, path: 'where', clock: step.clock });
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
            out.deadLetter(batch, i, toSluiceError(err, 'EXPR_EVAL', { step: step.id }));
            continue;
          }
          if (pass) pushFrom(kept, batch, i, records[i]);
          else dropped++;
        }
        if (dropped > 0) out.filtered(dropped);
        out.emit(kept);
      },
    };
  },
});
