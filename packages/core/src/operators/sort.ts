/**
 * The `sort` step: an append-only stream put in event-time order — what Flink SQL's streaming
 * `ORDER BY rowtime [, …]` (its temporal sort) gives: each record waits until the watermark
 * passes its time, then the records of one time are emitted by the further `order_by` terms.
 */

import Type from 'typebox';
import { SluiceError, toSluiceError } from '../errors.ts';
import type { Operator, OperatorContext, Output } from '../operator.ts';
import type { Batch, Row } from '../record.ts';
import { defineStep } from '../spec.ts';
import { compileOrderBy, orderByExpressions, orderByPaths } from './order-by.ts';
import { compareSort, type OrderTerm, type SortValues, sortValues } from './rank-order.ts';

const SNAPSHOT_FORMAT = 'sluice.sort.v1';

/** A record waiting for the watermark: its row, time, order_by values and arrival number. */
interface Waiting {
  row: Row;
  time: number;
  sort: SortValues;
  seq: number;
}

interface SortSnapshot {
  format: typeof SNAPSHOT_FORMAT;
  shape: string;
  waiting: Waiting[];
  seq: number;
  watermark: number;
  kinds: (string | null)[];
}

/**
 * Builds the sort operator. A record whose time is not after the watermark it meets is late (the
 * records after it in time are out already) and goes to the late output; one whose order_by term
 * fails to evaluate goes to the dead-letter output. Ties on time and every term keep arrival
 * order. The waiting records are part of the checkpoint.
 */
export function createSort(stepId: string, orderBy: readonly OrderTerm[]): Operator {
  const shape = JSON.stringify(orderBy.map((t) => [t.text, t.descending]));
  let waiting: Waiting[] = [];
  let seq = 0;
  let watermark = Number.NEGATIVE_INFINITY;
  let earliest = Number.POSITIVE_INFINITY;
  /** The kind of value each term has given (null before its first non-NULL value). */
  let kinds: (string | null)[] = orderBy.map(() => null);
  const order = (a: Waiting, b: Waiting): number =>
    a.time - b.time || compareSort(orderBy, a.sort, b.sort) || a.seq - b.seq;

  /** Moves the watermark to `to`, emitting every waiting record at or before it, in order. */
  const advance = (to: number, out: Output): void => {
    const before = watermark;
    watermark = to;
    if (earliest > to) return;
    const due: Waiting[] = [];
    const kept: Waiting[] = [];
    earliest = Number.POSITIVE_INFINITY;
    for (const w of waiting) {
      if (w.time <= to) due.push(w);
      else {
        kept.push(w);
        if (w.time < earliest) earliest = w.time;
      }
    }
    waiting = kept;
    if (due.length === 0) return;
    due.sort(order);
    out.emit({
      records: due.map((w) => w.row),
      times: due.map((w) => w.time),
      watermarks: due.map(() => before),
    });
  };

  /**
   * Checks that each of the record's values is of the kind (number, text, boolean) its term
   * gave before, so that records always compare; names the term that does not.
   */
  const checkKinds = (sort: SortValues): void => {
    for (let t = 0; t < sort.length; t++) {
      const v = sort[t];
      if (v === null) continue;
      const kind = typeof v;
      if (kinds[t] === null) kinds[t] = kind;
      else if (kinds[t] !== kind)
        throw new SluiceError(
          'EXPR_EVAL',
          `order_by '${orderBy[t].text}' gives ${kind === 'string' ? 'text' : `a ${kind}`} here and ${kinds[t] === 'string' ? 'text' : `a ${kinds[t]}`} for earlier records; one term must give one kind of value (CAST it)`,
          { step: stepId, path: 'order_by' },
        );
    }
  };

  return {
    open(ctx: OperatorContext): void {
      const saved = ctx.restored as Partial<SortSnapshot> | undefined;
      if (saved === undefined) return;
      if (saved.format !== SNAPSHOT_FORMAT || saved.shape !== shape || !Array.isArray(saved.waiting))
        throw new SluiceError(
          'CHECKPOINT_INCOMPATIBLE',
          `the checkpointed state of sort step '${stepId}' was made with a different order; restart with --from-scratch to drop it`,
          { step: stepId },
        );
      waiting = saved.waiting;
      seq = saved.seq ?? waiting.length;
      watermark = saved.watermark ?? Number.NEGATIVE_INFINITY;
      if (Array.isArray(saved.kinds) && saved.kinds.length === orderBy.length) kinds = saved.kinds;
      for (const w of waiting) if (w.time < earliest) earliest = w.time;
    },
    processBatch(batch: Batch, out: Output): void {
      const { records, times, watermarks } = batch;
      for (let i = 0; i < records.length; i++) {
        if (watermarks !== undefined && watermarks[i] > watermark) advance(watermarks[i], out);
        const time = times[i];
        if (time <= watermark) {
          out.late(
            batch,
            i,
            `record time ${time} is not after the watermark ${watermark}: the records after it in time were already emitted in order`,
          );
          continue;
        }
        let sort: SortValues;
        try {
          sort = sortValues(orderBy, records[i]);
          checkKinds(sort);
        } catch (err) {
          out.deadLetter(batch, i, toSluiceError(err, 'EXPR_EVAL', { step: stepId }));
          continue;
        }
        waiting.push({ row: records[i], time, sort, seq: seq++ });
        if (time < earliest) earliest = time;
      }
    },
    onWatermark(to: number, out: Output): void {
      if (to > watermark) advance(to, out);
    },
    snapshot(): SortSnapshot {
      return { format: SNAPSHOT_FORMAT, shape, waiting, seq, watermark, kinds };
    },
  };
}

export const sortStep = defineStep({
  type: 'sort',
  summary: 'Puts an append-only stream in event-time order, each record waiting for the watermark.',
  description:
    'What a streaming `ORDER BY rowtime [, …]` gives in Flink SQL (its temporal sort): each record waits until the watermark reaches its event time, then the records of one time are emitted ordered by `order_by` (each term an SQL expression, ascending unless followed by `DESC`; NULL last), ties in arrival order. A record at or behind the watermark when it arrives is late (the records after it were already emitted) and goes to the late output; one whose `order_by` term fails, or gives two kinds of value, to the dead-letter output. The waiting records are checkpointed. Output is append-only.',
  config: Type.Object(
    {
      order_by: Type.Optional(
        Type.Array(Type.String({ minLength: 1 }), {
          minItems: 1,
          description:
            'Terms ordering records of the same event time: SQL expressions, each optionally followed by ASC or DESC.',
          examples: [['price DESC']],
        }),
      ),
    },
    { additionalProperties: false },
  ),
  state: ['order_by'],
  changelog: () => ({ consumes: ['append'], produces: 'append' }),
  example: 'type: sort\norder_by: [price DESC]',
  expressions: (cfg) => orderByExpressions(cfg.order_by ?? []),
  schema(cfg, [input], ctx) {
    for (const path of orderByPaths(cfg.order_by ?? [])) ctx.check(path, input);
    return input;
  },
  key: (_cfg, [input]) => input,
  create(cfg, step) {
    return createSort(step.id, compileOrderBy(cfg.order_by ?? [], step));
  },
});
