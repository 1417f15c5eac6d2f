/**
 * Event-time assignment at the source: from a field, an expression, or processing time.
 */

import { SluiceError } from '../errors.ts';
import { compileExpression } from '../expr/index.ts';
import { EVENT_TIME_EXPRESSION, expressionAt } from '../plan/expressions.ts';
import type { PlanSource } from '../plan/plan.ts';
import type { Row } from '../record.ts';
import { type Clock, toEpochMillis } from '../time.ts';

/** Returns the event time of a record, or NaN when it has none; may throw an expression error. */
export type TimeAssigner = (record: Row, sourceTime: number | undefined) => number;

/**
 * The time assigner of `source` (of a resolved plan: its `event_time.expression` is compiled from
 * the tree the plan carries). Throws CONFIG_INVALID for both `field` and `expression`, and the
 * expression's compile errors.
 */
export function timeAssigner(source: PlanSource, clock: Clock): TimeAssigner {
  const { id: sourceId, eventTime: config } = source;
  if (!config) return (_r, sourceTime) => sourceTime ?? clock.now();
  if (config.field !== undefined && config.expression !== undefined) {
    throw new SluiceError('CONFIG_INVALID', 'event_time takes either `field` or `expression`, not both', {
      step: sourceId,
      path: 'event_time',
    });
  }
  if (config.field !== undefined) {
    const field = config.field;
    return (r) => {
      const v = r[field];
      return typeof v === 'number' ? v : toEpochMillis(v);
    };
  }
  if (config.expression !== undefined) {
    const expr = compileExpression(expressionAt(source.expressions, sourceId, EVENT_TIME_EXPRESSION), {
      step: sourceId,
      path: EVENT_TIME_EXPRESSION,
      clock,
    }).evaluate;
    return (r) => toEpochMillis(expr(r));
  }
  // Neither: the times the source gives its records (a Kafka message's timestamp, a Nexmark
  // event's dateTime), with this config's out-of-orderness; a record without one has no time.
  return (_r, sourceTime) => sourceTime ?? Number.NaN;
}
