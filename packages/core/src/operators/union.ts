/**
 * `union`: merges the records of several inputs into one stream.
 */

import Type from 'typebox';
import { samePartition } from '../plan/keys.ts';
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
  // Keyed only when all inputs are keyed alike; rows of two inputs may share any key, so no
  // unique key survives a union of several.
  key(_cfg, inputs) {
    if (inputs.length === 1) return inputs[0];
    const [first, ...rest] = inputs;
    if (inputs.some((k) => k.partition === undefined)) return {};
    return {
      partition: rest.every((k) => samePartition(k.partition, first.partition))
        ? first.partition
        : { kind: 'none' },
    };
  },
  example: 'type: union\ninput: [web_orders, store_orders]',
  create() {
    return {
      processBatch(batch, out) {
        out.emit(batch);
      },
    };
  },
});
