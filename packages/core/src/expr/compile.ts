/**
 * The entry points: compile expression text (or a tree) into a checked, generated evaluator.
 */

import { SluiceError } from '../errors.ts';
import type { Row } from '../record.ts';
import { type BuildMode, buildEvaluator } from './build.ts';
import { type Checked, checkExpression } from './check.ts';
import { failAt, withArticle } from './failure.ts';
import { formatExpression } from './format.ts';
import { parseExpression } from './parser.ts';
import type { Expr, ExprType, RecordSchema } from './types.ts';

/** How an expression is compiled and where its errors point. */
export interface CompileOptions {
  /** Id of the step the expression belongs to; set as `SluiceError.step` on every error. */
  step?: string;
  /** Config path of the expression, e.g. `fields.total`; set as `SluiceError.path`. */
  path?: string;
  /**
   * Known types of top-level fields, for compile-time checks and the result type. Record values
   * are still checked at runtime: a wrong value fails that record with EXPR_EVAL.
   */
  fieldTypes?: { readonly [field: string]: ExprType };
  /**
   * What the records look like, where known: with a closed schema, naming a field it does not
   * have (at any depth) is a PLAN_TYPE_ERROR at compile time. Supersedes `fieldTypes`.
   */
  schema?: RecordSchema;
  /** What now() reads; defaults to `Date.now`. */
  clock?: { now(): number };
  /**
   * Read a field the record lacks as NULL anywhere in the expression, instead of throwing
   * EXPR_MISSING_FIELD (aggregate arguments: a missing value is NULL for that aggregate, as in SQL).
   */
  missingAsNull?: boolean;
}

/** A compiled expression. */
export interface CompiledExpression {
  /** The expression text (formatted from the tree when compiled from one). */
  readonly text: string;
  /**
   * Evaluates the expression on one record: a number, string, boolean, null (SQL NULL), or an
   * array/object read from the record. Throws SluiceError EXPR_MISSING_FIELD, EXPR_EVAL or
   * EXPR_DIVISION_BY_ZERO when the record makes it fail. Does not use `this`.
   */
  readonly evaluate: (record: Row) => unknown;
  /** The statically inferred result type; `any` when it depends on field values. */
  readonly type: ExprType;
  /** Top-level fields the expression reads, in order of first appearance. */
  readonly fields: readonly string[];
}

const systemClock = { now: () => Date.now() };

function located<T>(options: CompileOptions, run: () => T): T {
  try {
    return run();
  } catch (err) {
    if (err instanceof SluiceError && (options.step !== undefined || options.path !== undefined)) {
      throw new SluiceError(err.code, err.message, {
        step: options.step,
        path: options.path,
        cause: err.cause,
      });
    }
    throw err;
  }
}

function prepare(source: string | Expr, options: CompileOptions): [string, Checked] {
  const root = typeof source === 'string' ? parseExpression(source) : source;
  const text = typeof source === 'string' ? source : formatExpression(source);
  return [text, checkExpression(root, options.fieldTypes, options.schema)];
}

function build(checked: Checked, mode: BuildMode, options: CompileOptions): (record: Row) => unknown {
  return buildEvaluator(checked, mode, {
    step: options.step,
    path: options.path,
    clock: options.clock ?? systemClock,
    missingAsNull: options.missingAsNull === true,
  });
}

/**
 * Parses (when given text), type-checks and compiles a SQL scalar expression. Throws at compile
 * time: EXPR_SYNTAX for bad text, EXPR_UNKNOWN_FUNCTION for an unknown function, PLAN_TYPE_ERROR
 * for a type mismatch, a wrong number of arguments, or an aggregate call (which belongs in an
 * aggregate step). `step` and `path` from the options are set on every error, at compile time
 * and at runtime.
 */
export function compileExpression(source: string | Expr, options: CompileOptions = {}): CompiledExpression {
  return located(options, () => {
    const [text, checked] = prepare(source, options);
    const evaluate = build(checked, 'value', options);
    const type = checked.info.get(checked.root)?.type ?? 'any';
    return Object.freeze({ text, evaluate, type, fields: Object.freeze([...checked.fields]) });
  });
}

/**
 * Compiles a condition: the returned function is true only when the expression is TRUE; FALSE
 * and NULL give false. Throws PLAN_TYPE_ERROR at compile time when the expression cannot be
 * boolean, and EXPR_EVAL on a record for which it gives a non-boolean value.
 */
export function compilePredicate(
  source: string | Expr,
  options: CompileOptions = {},
): (record: Row) => boolean {
  return located(options, () => {
    const [, checked] = prepare(source, options);
    const type = checked.info.get(checked.root)?.type ?? 'any';
    if (type !== 'boolean' && type !== 'null' && type !== 'any') {
      const text = formatExpression(checked.root);
      failAt(
        'PLAN_TYPE_ERROR',
        checked.root.start,
        `a condition must be boolean, but ${text} is ${withArticle(type)}; compare it, e.g. ${text} IS NOT NULL`,
      );
    }
    return build(checked, 'predicate', options) as (record: Row) => boolean;
  });
}
