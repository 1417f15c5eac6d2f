/**
 * `union`: merges the records of several inputs into one stream.
 */

import Type from 'typebox';
import { unionSchema } from '../plan/schema.ts';
import { defineStep, PER_RECORD_CHANGELOG } from '../spec.ts';

export const unionStep = defineStep({
  type: 'union',
  changelog: () => PER_RECORD_CHANGELOG,
  summary: 'Merges several inputs into one stream.',
  description:
    'Name the inputs with `input: [a, b]`. Records keep their event time; the watermark after a union is the minimum of its inputs’.',
  config: Type.Object({}, { additionalProperties: false }),
  schema: (_cfg, inputs) => unionSchema(inputs),
  example: 'type: union\ninput: [web_orders, store_orders]',
  create() {
    return {
      processBatch(batch, out) {
        out.emit(batch);
      },
    };
  },
});
