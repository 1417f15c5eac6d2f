/**
 * The shape of a built-in scalar function: its documentation, its signature for the checker and
 * its implementation for generated code.
 */

import type { Expr, ExprType } from './types.ts';

/** Reference-page entry for one function, generated from its spec. */
export interface FunctionDoc {
  name: string;
  signature: string;
  summary: string;
  category: 'string' | 'math' | 'time' | 'conditional' | 'conversion';
}

/**
 * What an argument must be. The generated code checks it before calling the implementation
 * (skipping the check when the checker proves it), so implementations can trust their inputs:
 * `number`, `string`, `boolean` by `typeof`; `integer` a whole number; `timestamp` epoch ms or
 * ISO-8601 text, passed on as epoch ms; `unit` a string, passed on lower-cased; `scalar` a
 * number, string or boolean; `any` any non-null value; `regex` pattern text, passed on as a
 * compiled `UserRegex` (RE2) built with the `flags` argument, which is not passed on.
 */
export type ParamKind =
  | 'number'
  | 'integer'
  | 'string'
  | 'boolean'
  | 'timestamp'
  | 'unit'
  | 'scalar'
  | 'any'
  | 'regex'
  | 'flags';

/** An implementation: receives checked, non-null arguments; returns the result or null. */
export type FunctionImpl = (...args: never[]) => unknown;

/** A built-in scalar function. */
export interface FunctionSpec {
  /** Lower-case name. */
  readonly name: string;
  readonly aliases?: readonly string[];
  readonly category: FunctionDoc['category'];
  /** How it is called, for docs and arity errors, e.g. `substr(s, start[, length])`. */
  readonly signature: string;
  /** One or two sentences for the reference page. */
  readonly summary: string;
  readonly params: readonly ParamKind[];
  /** How many leading params are required; the rest are optional. */
  readonly required: number;
  /** Whether the last param may repeat. */
  readonly variadic?: boolean;
  /**
   * Result type, or `unify`: the common type of the arguments from `unifyFrom` on, which must be
   * comparable (a compile-time error otherwise).
   */
  readonly returns: ExprType | 'unify';
  readonly unifyFrom?: number;
  /**
   * Strict implementation: called only when no argument is NULL (a NULL argument makes the
   * result NULL). Absent for special forms (coalesce, if, concat, …) that the code generator
   * writes out itself.
   */
  readonly impl?: FunctionImpl;
  /** Compile-time checks of constant arguments; throws PLAN_TYPE_ERROR via `failAt`. */
  readonly check?: (args: readonly Expr[]) => void;
  /** Whether its result can differ between calls with the same arguments (now()); never folded. */
  readonly volatile?: boolean;
  /** For `regex` params: whether the `g` flag is meaningful (regexp_replace). */
  readonly globalFlag?: boolean;
}

/** The string value of a string literal argument, or undefined when the argument is not one. */
export function literalString(arg: Expr | undefined): string | undefined {
  return arg !== undefined && arg.kind === 'literal' && typeof arg.value === 'string' ? arg.value : undefined;
}
