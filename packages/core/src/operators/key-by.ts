/**
 * `key_by`: assigns each record a key, which later keyed steps (aggregate, dedupe, process)
 * group by.
 */

import Type from 'typebox';
import { toSluiceError } from '../errors.ts';
import { compileExpression } from '../expr/index.ts';
import type { Batch } from '../record.ts';
import { defineStep } from '../spec.ts';
import { encodeKey } from './key.ts';
import { without } from './map.ts';

const config = Type.Object(
  {
    key: Type.Array(Type.String(), {
      minItems: 1,
      description: 'SQL expressions whose values together form the key; usually field names.',
      examples: [['region'], ['customer_id', 'lower(channel)']],
    }),
  },
  { additionalProperties: false },
);

export const keyByStep = defineStep({
  type: 'key_by',
  summary: 'Groups records by a key for the keyed steps after it.',
  description:
    'Records keep their values; the key travels beside them. A record whose key expression fails goes to the dead-letter output.',
  config,
  example: 'type: key_by\nkey: [region]',
  create(cfg, step) {
    const parts = cfg.key.map(
      (text, i) => compileExpression(text, { step: step.id, path: `key[${i}]`, clock: step.clock }).evaluate,
    );
    const values: unknown[] = new Array(parts.length);
    return {
      processBatch(batch: Batch, out) {
        const records = batch.records;
        const keys: string[] = new Array(records.length);
        const failed: number[] = [];
        for (let i = 0; i < records.length; i++) {
          try {
            for (let p = 0; p < parts.length; p++) values[p] = parts[p](records[i]);
          } catch (err) {
            failed.push(i);
            out.deadLetter(batch, i, toSluiceError(err, 'EXPR_EVAL', { step: step.id }));
            continue;
          }
          keys[i] = encodeKey(values);
        }
        const keyed = { ...batch, keys };
        out.emit(failed.length > 0 ? without(keyed, records, failed) : keyed);
      },
    };
  },
});
