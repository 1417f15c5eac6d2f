/**
 * The `order_by` option of `top_n` and `window_top_n`: terms written as an SQL expression,
 * optionally followed by ASC or DESC — their expressions for the plan, and the compiled terms.
 */

import { SluiceError } from '../errors.ts';
import { compileExpression } from '../expr/index.ts';
import type { StepInfo } from '../operator.ts';
import type { OrderTerm } from './rank-order.ts';

const ORDER_TERM = /^(.*?)(?:\s+(asc|desc))?\s*$/is;

/** Each term's expression (its text without the direction) by path; an empty one is left to `compileOrderBy` to refuse. */
export function orderByExpressions(orderBy: readonly string[]): { [path: string]: string } {
  return Object.fromEntries(
    orderBy
      .map((text, i) => [`order_by[${i}]`, ORDER_TERM.exec(text)![1]])
      .filter(([, expr]) => expr.trim() !== ''),
  );
}

/** The paths of the terms that have an expression, for the schema check. */
export function orderByPaths(orderBy: readonly string[]): string[] {
  return Object.keys(orderByExpressions(orderBy));
}

/** The compiled terms; CONFIG_INVALID for a term without an expression. */
export function compileOrderBy(orderBy: readonly string[], step: StepInfo): OrderTerm[] {
  return orderBy.map((text, i) => {
    const [, expr, direction] = ORDER_TERM.exec(text)!;
    const path = `order_by[${i}]`;
    if (expr.trim() === '')
      throw new SluiceError('CONFIG_INVALID', `order_by term '${text}' has no expression`, {
        step: step.id,
        path,
      });
    const compiled = compileExpression(step.expression(path), { step: step.id, path, clock: step.clock });
    return { text, value: compiled.evaluate, descending: direction?.toLowerCase() === 'desc' };
  });
}
