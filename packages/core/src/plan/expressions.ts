/**
 * The expressions of a plan, parsed once: the part of the gate (`resolvePlan`) that turns every
 * SQL expression a step's spec declares (`StepSpec.expressions`), and a source's
 * `event_time.expression`, into a tree the plan carries (`PlanExpressions`). Schema rules and
 * operator factories read those trees; nothing after this parses expression text.
 */

import { SluiceError } from '../errors.ts';
import { type Expr, parseExpression } from '../expr/index.ts';
import type { Registry } from '../registry.ts';
import type { ExpressionOptions, SinkInfo } from '../spec.ts';
import type { StreamKey } from './keys.ts';
import type { Plan, PlanExpressions, PlanOutput, PlanSource, PlanStep } from './plan.ts';

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

/** What a sink's factory gets in a job: its id and its parsed expressions. */
export function sinkInfo(id: string, sink: PlanOutput, inputKey?: StreamKey): SinkInfo {
  return {
    id,
    expression: (path) => expressionAt(sink.expressions, id, path),
    ...(inputKey ? { inputKey } : {}),
  };
}

/** The problems of parsing a plan's expressions, and the plan with the trees. */
export interface PlanParse {
  readonly plan: Plan;
  readonly errors: readonly SluiceError[];
}

/**
 * Parses the expressions of every step and sink (those its spec declares) and every source's
 * event-time expression of `plan` (configs validated, types registered), once each, and returns
 * the plan carrying them with every syntax error, each at its component and path. A component
 * with an error keeps the trees that parsed.
 */
export function parsePlanExpressions(plan: Plan, registry: Registry): PlanParse {
  const errors: SluiceError[] = [];
  const parse = (options: ExpressionOptions, id: string): PlanExpressions => {
    const parsed = parseExpressionOptions(options, id);
    errors.push(...parsed.errors);
    return parsed.trees;
  };
  const sources = plan.sources.map((source): PlanSource => {
    const text = source.eventTime?.expression;
    if (text === undefined) return source;
    return { ...source, expressions: parse({ [EVENT_TIME_EXPRESSION]: text }, source.id) };
  });
  const steps = plan.steps.map((step): PlanStep => {
    const declare = registry.step(step.type)?.expressions;
    return declare === undefined ? step : { ...step, expressions: parse(declare(step.config), step.id) };
  });
  const output = <T extends PlanOutput>(id: string, sink: T): T => {
    const declare = registry.sink(sink.type)?.expressions;
    return declare === undefined ? sink : { ...sink, expressions: parse(declare(sink.config), id) };
  };
  const sinks = plan.sinks.map((sink) => output(sink.id, sink));
  const deadLetter = plan.deadLetter && output('$dead_letter', plan.deadLetter);
  const lateOutput = plan.lateOutput && output('$late_output', plan.lateOutput);
  return {
    plan: {
      ...plan,
      sources,
      steps,
      sinks,
      ...(deadLetter ? { deadLetter } : {}),
      ...(lateOutput ? { lateOutput } : {}),
    },
    errors,
  };
}
