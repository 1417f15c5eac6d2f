/**
 * `map`: computes fields from SQL expressions and adds them to each record.
 */

import Type from 'typebox';
import { SluiceError, toSluiceError } from '../errors.ts';
import { compileExpression } from '../expr/index.ts';
import { type Batch, type Row, withoutTexts } from '../record.ts';
import { defineStep } from '../spec.ts';

const config = Type.Object(
  {
    fields: Type.Record(Type.String(), Type.String(), {
      description:
        'Fields to compute: name → SQL expression over the input record. A field that exists is replaced. Every expression sees the input record.',
      default: {},
    }),
    drop: Type.Array(Type.String(), {
      description: 'Top-level fields to remove from the output record.',
      default: [],
    }),
  },
  { additionalProperties: false },
);

export const mapStep = defineStep({
  type: 'map',
  summary: 'Computes fields from SQL expressions.',
  description:
    'Each output record is the input record with `fields` computed and `drop` removed. A record on which an expression fails (missing field, division by zero, bad cast) goes to the dead-letter output with the expression and the reason.',
  config,
  example: 'type: map\nfields:\n  region: upper(region)\n  amount_usd: amount * 1.1\ndrop: [internal_note]',
  create(cfg, step) {
    const names = Object.keys(cfg.fields);
    const exprs = names.map((name) =>
      compileExpression(cfg.fields[name], { step: step.id, path: `fields.${name}`, clock: step.clock }),
    );
    const evals = exprs.map((e) => e.evaluate);
    const drop = cfg.drop;
    if (names.length === 0 && drop.length === 0) {
      throw new SluiceError('CONFIG_INVALID', 'map needs at least one entry in `fields` or `drop`', {
        step: step.id,
        path: 'fields',
      });
    }
    return {
      processBatch(batch: Batch, out) {
        const input = batch.records;
        const n = input.length;
        const records: Row[] = new Array(n);
        const failed: number[] = [];
        for (let i = 0; i < n; i++) {
          const r = input[i];
          const o: Row = { ...r };
          try {
            for (let f = 0; f < evals.length; f++) o[names[f]] = evals[f](r);
          } catch (err) {
            failed.push(i);
            out.deadLetter(batch, i, toSluiceError(err, 'EXPR_EVAL', { step: step.id }));
            continue;
          }
          for (let d = 0; d < drop.length; d++) delete o[drop[d]];
          records[i] = o;
        }
        // Every record is a new object: no text describes it.
        const changed = withoutTexts(batch);
        out.emit(failed.length > 0 ? without(changed, records, failed) : { ...changed, records });
      },
    };
  },
});

/**
 * The batch with `records` as values, minus the positions in `skip` (ascending). A record keeps
 * its text only if it is the record of `batch` at its position.
 */
export function without(batch: Batch, records: Row[], skip: number[]): Batch {
  const keep = records.length - skip.length;
  const out: Batch = { ...batch, records: new Array(keep), times: new Array(keep) };
  if (batch.keys) out.keys = new Array(keep);
  if (batch.offsets) out.offsets = new Array(keep);
  if (batch.texts) out.texts = new Array(keep);
  if (batch.watermarks) out.watermarks = new Array(keep);
  let s = 0;
  let j = 0;
  for (let i = 0; i < records.length; i++) {
    if (s < skip.length && skip[s] === i) {
      s++;
      continue;
    }
    out.records[j] = records[i];
    out.times[j] = batch.times[i];
    if (out.keys) out.keys[j] = batch.keys![i];
    if (out.offsets) out.offsets[j] = batch.offsets![i];
    if (out.texts) out.texts[j] = records[i] === batch.records[i] ? batch.texts![i] : undefined;
    if (out.watermarks) out.watermarks[j] = batch.watermarks![i];
    j++;
  }
  return out;
}
