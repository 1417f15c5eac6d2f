/**
 * `filter`: keeps the records for which a SQL condition is true; `filter_fn`: those for which a
 * TypeScript function returns true. Both run `filterOperator`.
 */

import Type from 'typebox';
import { type SluiceError, toSluiceError } from '../errors.ts';
import { compilePredicate } from '../expr/index.ts';
import type { Operator } from '../operator.ts';
import {
  type Batch,
  DELETE,
  emptyBatchLike,
  INSERT,
  pushFrom,
  type Row,
  UPDATE_AFTER,
  UPDATE_BEFORE,
} from '../record.ts';
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
 *
 * On a changelog the condition may hold for one half of an update and not the other (a `HAVING
 * sum(x) > 5` whose sum crosses 5). The half that passes is then no longer an update of a row the
 * output holds, so it takes the kind that says what it does: an UPDATE_BEFORE whose UPDATE_AFTER
 * is dropped becomes a DELETE (the row leaves the result), an UPDATE_AFTER whose UPDATE_BEFORE is
 * dropped becomes an INSERT (the row enters it). The output stays a well-formed changelog, which
 * Flink's filter leaves unbalanced (FLINK-38579 is one of the phantom rows that follow).
 */
export function filterOperator(
  test: (record: Row) => boolean,
  onError: (err: unknown) => SluiceError,
): Operator {
  return {
    processBatch(batch: Batch, out) {
      const records = batch.records;
      const kinds = batch.kinds;
      const kept = emptyBatchLike(batch);
      let dropped = 0;
      /** Whether the UPDATE_BEFORE just before record i passed: undefined when i is no UPDATE_AFTER of a pair. */
      let beforePassed: boolean | undefined;
      for (let i = 0; i < records.length; i++) {
        const kind = kinds?.[i];
        const pairedAfter = kind === UPDATE_AFTER ? beforePassed : undefined;
        beforePassed = undefined;
        let pass: boolean;
        try {
          pass = test(records[i]);
        } catch (err) {
          out.deadLetter(batch, i, onError(err));
          if (kind === UPDATE_BEFORE && kinds![i + 1] === UPDATE_AFTER) beforePassed = false;
          if (pairedAfter === true) kept.kinds![kept.kinds!.length - 1] = DELETE;
          continue;
        }
        if (kind === UPDATE_BEFORE && kinds![i + 1] === UPDATE_AFTER) beforePassed = pass;
        if (pass) {
          pushFrom(kept, batch, i, records[i]);
          if (pairedAfter === false) kept.kinds![kept.kinds!.length - 1] = INSERT;
        } else {
          dropped++;
          if (pairedAfter === true) kept.kinds![kept.kinds!.length - 1] = DELETE;
        }
      }
      if (dropped > 0) out.filtered(dropped);
      out.emit(kept);
    },
  };
}
