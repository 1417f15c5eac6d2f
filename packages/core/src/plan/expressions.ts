/**
 * The expressions of a plan, parsed once: the part of the gate (`resolvePlan`) that turns every
 * SQL expression a step's spec declares (`StepSpec.expressions`), and a source's
 * `event_time.expression`, into a tree the plan carries (`PlanExpressions`). Schema rules and
 * operator factories read those trees; nothing after this parses expression text.
 */

import { SluiceError } from '../errors.ts';
import { type Expr, parseExpression } from '../expr/index.ts';
import type { Registry } from '../registry.ts';
import type { ExpressionOptions } from '../spec.ts';
import type { Plan, PlanExpressions, PlanSource, PlanStep } from './plan.ts';

/** Config path of a source's event-time expression. */
export const EVENT_TIME_EXPRESSION = 'event_time.expression';

/** What parsing one component's expressions gave: the trees, and a syntax error per path that failed. */
export interface ParsedExpressions {
  readonly trees: PlanExpressions;
  readonly errors: readonly SluiceError[];
}

/**
 * Parses every expression `options` declares for component `id`; a syntax error becomes an error
 * at `id` and the option's path, worded by the option when it says how.
 */
export function parseExpressionOptions(options: ExpressionOptions, id: string): ParsedExpressions {
  const trees: { [path: string]: Expr } = {};
  const errors: SluiceError[] = [];
  for (const [path, option] of Object.entries(options)) {
    const text = typeof option === 'string' ? option : option.text;
    try {
      trees[path] = parseExpression(text);
    } catch (err) {
      if (!(err instanceof SluiceError)) throw err;
      const message = typeof option === 'string' ? err.message : option.syntaxMessage(err.message);
      errors.push(new SluiceError(err.code, message, { step: id, path, cause: err.cause }));
    }
  }
  return { trees, errors };
}

/**
 * The tree at `path` of a component's parsed expressions. Throws INTERNAL when there is none:
 * the spec does not declare that path, or the plan did not pass `resolvePlan`.
 */
export function expressionAt(trees: PlanExpressions | undefined, id: string, path: string): Expr {
  const tree = trees === undefined ? undefined : Object.hasOwn(trees, path) ? trees[path] : undefined;
  if (tree === undefined) {
    throw new SluiceError(
      'INTERNAL',
      `no parsed expression at '${path}': the step's spec does not declare it in \`expressions\`, or the plan did not pass resolvePlan`,
      { step: id, path },
    );
  }
  return tree;
}

/** The problems of parsing a plan's expressions, and the plan with the trees. */
export interface PlanParse {
  readonly plan: Plan;
  readonly errors: readonly SluiceError[];
}

/**
 * Parses the expressions of every step (those its spec declares) and every source's event-time
 * expression of `plan` (configs validated, types registered), once each, and returns the plan
 * carrying them with every syntax error, each at its component and path. A step with an error
 * keeps the trees that parsed.
 */
export function parsePlanExpressions(plan: Plan, registry: Registry): PlanParse {
  const errors: SluiceError[] = [];
  const sources = plan.sources.map((source): PlanSource => {
    const { expressions: _, ...rest } = source;
    const text = source.eventTime?.expression;
    if (text === undefined) return rest;
    const parsed = parseExpressionOptions({ [EVENT_TIME_EXPRESSION]: text }, source.id);
    errors.push(...parsed.errors);
    return { ...rest, expressions: parsed.trees };
  });
  const steps = plan.steps.map((step): PlanStep => {
    const { expressions: _, ...rest } = step;
    const declare = registry.step(step.type)?.expressions;
    if (declare === undefined) return rest;
    const parsed = parseExpressionOptions(declare(step.config), step.id);
    errors.push(...parsed.errors);
    return { ...rest, expressions: parsed.trees };
  });
  return { plan: { ...plan, sources, steps }, errors };
}
