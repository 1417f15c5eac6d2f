/**
 * The `dedupe` step (YAML) and `dedupe_fn` (TypeScript API): drop records whose key was seen
 * within a time horizon. Both run one dedupe operator (dedupe.ts), keyed by expressions or by a
 * function.
 */

import Type, { type Static } from 'typebox';
import type { Operator } from '../operator.ts';
import type { Row } from '../record.ts';
import { defineStep } from '../spec.ts';
import { parseDuration } from '../time.ts';
import { createDedupeOperator } from './dedupe.ts';
import { encodeKeyValue } from './key.ts';
import { compileKey, keyExpressions } from './key-by.ts';
import { stepFunction } from './step-function.ts';

const within = Type.String({
  description: 'Horizon: a record is a duplicate when its key was kept less than this long before it.',
  examples: ['10m'],
});
const time = Type.Union([Type.Literal('event'), Type.Literal('processing')], {
  description: 'Measure the horizon in event time (entries expire with the watermark) or processing time.',
  default: 'event',
});
const onLate = Type.Union([Type.Literal('late_output'), Type.Literal('dead_letter'), Type.Literal('drop')], {
  description:
    'Where records at or behind the watermark go (event time): the pipeline’s late_output (dead letters if it has none), dead letters, or nowhere (counted as late). Such a record cannot be judged: the entry it might duplicate may already be forgotten.',
  default: 'late_output',
});

export const dedupeStep = defineStep({
  type: 'dedupe',
  summary: 'Drops records whose key was already seen within a time horizon.',
  description:
    'Keeps the first record per key; later records of the same key with a time before first + `within` are dropped and counted as filtered. Without `key`, the key of an upstream `key_by` is used. A record whose key expression fails goes to the dead-letter output. In event time, a record whose time is at or behind the watermark it arrived under is late and goes where `on_late` says. To keep the first or the last row per key for as long as the key lives (Flink SQL’s deduplication), use `deduplicate`.',
  config: Type.Object(
    {
      key: Type.Optional(
        Type.Array(Type.String(), {
          minItems: 1,
          description: 'SQL expressions forming the key (usually field names). Default: the key_by key.',
          examples: [['order_id']],
        }),
      ),
      within,
      time,
      on_late: onLate,
    },
    { additionalProperties: false },
  ),
  // Where late records go does not shape the state.
  state: ['key', 'within', 'time'],
  example: 'type: dedupe\nkey: [order_id]\nwithin: 10m',
  expressions: (cfg) => keyExpressions(cfg.key),
  schema(cfg, [input], ctx) {
    for (const i of (cfg.key ?? []).keys()) ctx.check(`key[${i}]`, input);
    return input;
  },
  // Records pass or are dropped, with their keys: a repeat after the horizon passes again, so
  // the key is not unique.
  key: (_cfg, [input]) => input,
  create(cfg, step) {
    return dedupeOperator(cfg, step.id, cfg.key ? compileKey(cfg.key.length, step) : undefined);
  },
});

export const dedupeFnStep = defineStep({
  type: 'dedupe_fn',
  summary:
    'Drops records whose key, computed by a TypeScript function, was seen within a horizon (TypeScript API only).',
  config: Type.Object({ within, time, on_late: onLate }, { additionalProperties: false }),
  key: (_cfg, [input]) => input,
  create(cfg, step) {
    const fn = stepFunction<(r: Row) => unknown>(step);
    return dedupeOperator(cfg, step.id, (r) => encodeKeyValue(fn(r)));
  },
});

/**
 * The dedupe operator of both steps: keyed by `keyFn` (a compiled key or the user's function),
 * or, without one, by the key of an upstream key_by.
 */
function dedupeOperator(
  cfg: { within: string; time: 'event' | 'processing'; on_late: Static<typeof onLate> },
  stepId: string,
  keyFn: ((record: Row) => string) | undefined,
): Operator {
  const options = { stepId, within: parseDuration(cfg.within, 'within'), time: cfg.time };
  const operator = createDedupeOperator(keyFn ? { ...options, keyFn } : options);
  return Object.assign(operator, { onLate: cfg.on_late });
}
