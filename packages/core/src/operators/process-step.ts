/**
 * The `process` step of the TypeScript API: a keyed function with state and timers.
 */

import Type from 'typebox';
import { defineStep } from '../spec.ts';
import { stepFunction } from './functions.ts';
import { createProcessOperator, type ProcessFunction } from './process.ts';

export const processStep = defineStep({
  type: 'process',
  summary: 'Runs a keyed TypeScript function with per-key state and timers (TypeScript API only).',
  description:
    'The lowest-level step: `processRecord(record, ctx)` per record and `onTimer(time, domain, ctx)` per fired timer, with `ctx.state()`, `ctx.setState()`, `ctx.emit()` and event- and processing-time timers. Needs a key_by before it. State and timers are checkpointed.',
  config: Type.Object({}, { additionalProperties: false }),
  create(_cfg, step) {
    return createProcessOperator({
      stepId: step.id,
      fn: stepFunction<ProcessFunction<unknown, unknown, unknown>>(step, 'object'),
    });
  },
});
