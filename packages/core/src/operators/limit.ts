/**
 * The `limit` step: the first `n` records of an append-only stream, then nothing — what Flink
 * SQL's `LIMIT n` without `ORDER BY` gives on a stream (an insert-only result).
 */

import Type from 'typebox';
import { SluiceError } from '../errors.ts';
import type { Operator, OperatorContext, Output } from '../operator.ts';
import { type Batch, sliceBatch } from '../record.ts';
import { defineStep } from '../spec.ts';

/** The checkpoint format of the operator's state (how many records it has passed). */
const SNAPSHOT_FORMAT = 'sluice.limit.v1';

interface LimitSnapshot {
  format: typeof SNAPSHOT_FORMAT;
  n: number;
  passed: number;
}

/**
 * Passes the first `n` records it reads, in the order it reads them, and counts every later one
 * as filtered. Its count is checkpointed, so a restored job does not pass more than `n` in all.
 */
export function createLimit(stepId: string, n: number): Operator {
  if (!Number.isSafeInteger(n) || n < 1)
    throw new SluiceError('CONFIG_INVALID', `limit 'n' must be a positive integer, got ${n}`, {
      step: stepId,
      path: 'n',
    });
  let passed = 0;
  return {
    open(ctx: OperatorContext): void {
      const saved = ctx.restored as Partial<LimitSnapshot> | undefined;
      if (saved === undefined) return;
      if (saved.format !== SNAPSHOT_FORMAT || typeof saved.passed !== 'number')
        throw new SluiceError(
          'CHECKPOINT_INCOMPATIBLE',
          `the checkpointed state of limit step '${stepId}' is not a limit's; restart with --from-scratch to drop it`,
          { step: stepId },
        );
      passed = saved.passed;
    },
    processBatch(batch: Batch, out: Output): void {
      const count = batch.records.length;
      const take = Math.max(0, Math.min(count, n - passed));
      if (take > 0) out.emit(sliceBatch(batch, 0, take));
      passed += take;
      if (count > take) out.filtered(count - take);
    },
    snapshot(): LimitSnapshot {
      return { format: SNAPSHOT_FORMAT, n, passed };
    },
  };
}

export const limitStep = defineStep({
  type: 'limit',
  summary: 'Passes the first n records of an append-only stream, then none.',
  description:
    'What `SELECT … LIMIT n` without `ORDER BY` gives in Flink SQL on a stream: the first `n` records the step reads, as inserts, in the order it reads them; every later record is counted as filtered. Which records are first follows the order of the input (for several source partitions or a union of inputs, the order in which their batches arrive). The count is part of the checkpoint, so a restored job passes `n` records in all. To keep the first `n` by an order, use `top_n`.',
  config: Type.Object(
    {
      n: Type.Integer({ minimum: 1, description: 'How many records to pass.', examples: [10] }),
    },
    { additionalProperties: false },
  ),
  state: ['n'],
  changelog: () => ({ consumes: ['append'], produces: 'append' }),
  example: 'type: limit\nn: 10',
  schema: (_cfg, [input]) => input,
  key: (_cfg, [input]) => input,
  create(cfg, step) {
    return createLimit(step.id, cfg.n);
  },
});
