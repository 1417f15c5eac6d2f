/**
 * Unit tests of step factories outside a job: the expressions a plan would carry, parsed as plan
 * resolution parses them (`parseExpressionOptions`), so that a factory gets the trees it gets in a
 * job and a syntax error surfaces as it does there.
 */

import type { Static, TSchema } from 'typebox';
import type { Operator, StepInfo } from '../operator.ts';
import { expressionAt, parseExpressionOptions } from '../plan/expressions.ts';
import type { ExpressionOptions, StepSpec } from '../spec.ts';

/** What a test gives of a step's place in the plan; the expressions come from its config. */
export type TestStepInfo = Omit<StepInfo, 'expression'>;

/** `info` with the expressions `options` declares, parsed; throws the first syntax error. */
export function withExpressions(info: TestStepInfo, options: ExpressionOptions): StepInfo {
  const { trees, errors } = parseExpressionOptions(options, info.id);
  if (errors.length > 0) throw errors[0];
  return { ...info, expression: (path) => expressionAt(trees, info.id, path) };
}

/** Creates `spec`'s operator for `config` as a job would, its declared expressions parsed first. */
export function createStep<S extends TSchema>(
  spec: StepSpec<S>,
  config: Static<S>,
  info: TestStepInfo,
): Operator {
  return spec.create(config, withExpressions(info, spec.expressions?.(config) ?? {}));
}
