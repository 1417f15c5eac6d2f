/**
 * The function a TypeScript-API step was given, and the error a throwing one becomes.
 *
 * The plan records only the step id and type; the function is looked up by id in the job's
 * function table.
 */

import { SluiceError } from '../errors.ts';
import type { StepInfo } from '../operator.ts';

/**
 * What the TypeScript API registered for a step: a function, or (for `process`) an object with
 * the step's callbacks. Throws PLAN_TYPE_ERROR when it is missing or of the wrong kind.
 */
export function stepFunction<F>(step: StepInfo, kind: 'function' | 'object' = 'function'): F {
  const fn = step.functions.get(step.id);
  const ok = kind === 'function' ? typeof fn === 'function' : typeof fn === 'object' && fn !== null;
  if (!ok) {
    throw new SluiceError(
      'PLAN_TYPE_ERROR',
      `this step runs a TypeScript ${kind === 'function' ? 'function' : 'object of callbacks'}, but none was given for it; such steps only run from the TypeScript API`,
      { step: step.id },
    );
  }
  return fn as F;
}

export function userError(step: string, err: unknown): SluiceError {
  const message = err instanceof Error ? err.message : String(err);
  return new SluiceError('USER_FUNCTION_FAILED', `function threw: ${message}`, { step, cause: err });
}
