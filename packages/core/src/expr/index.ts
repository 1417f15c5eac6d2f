/**
 * The SQL scalar expression language of Sluice: parse, type-check and compile expressions such
 * as `amount * 1.1`, `upper(country) || '-' || city` or `status IN ('paid', 'shipped')`.
 *
 * Semantics in brief:
 * - NULL propagates through operators and strict functions; AND/OR are three-valued and
 *   short-circuit from the left; CASE, coalesce, ifnull and if() evaluate only what they need.
 * - A field the record lacks throws EXPR_MISSING_FIELD, except directly under IS [NOT] NULL,
 *   coalesce, ifnull and nullif, where it reads as NULL. `a.b` is NULL when `a` is NULL and
 *   missing when `a` lacks `b`; `x[i]` (0-based arrays, or object entries by name) is NULL when
 *   out of range or absent.
 * - Values are never coerced implicitly: `+` and friends need numbers, comparisons need two values
 *   of one kind; a mismatch known at compile time is PLAN_TYPE_ERROR, otherwise EXPR_EVAL on the
 *   record. A string literal compared with a field typed `timestamp` is read as ISO-8601.
 * - Numbers are finite doubles: a cast, an operator or a function that would give ±Infinity or
 *   NaN throws NUMBER_OUT_OF_RANGE (`1e308 * 10`, `CAST('1e400' AS DOUBLE)`, `exp(1000)`).
 * - Timestamps are epoch milliseconds in UTC; ISO-8601 text without an offset is UTC.
 * - LIKE's default escape character is a backslash (`ESCAPE ''` disables it); regular
 *   expressions use JavaScript syntax.
 */

export {
  type CompiledExpression,
  type CompileOptions,
  compileExpression,
  compilePredicate,
} from './compile.ts';
export { describeValue } from './failure.ts';
export { formatExpression, formatName } from './format.ts';
export type { FunctionDoc } from './function-spec.ts';
export {
  defineAggregateFunction,
  defineFunction,
  functionDocs,
  isAggregateCall,
  isUserAggregate,
  isUserFunction,
  isVolatileFunction,
  type UserFunction,
} from './functions.ts';
export { type Token, type TokenizeOptions, tokenize } from './lexer.ts';
export { parseExpression, parseExpressionFrom } from './parser.ts';
export { describe as describeToken, isReservedWord, TokenStream } from './token-stream.ts';
export type {
  BetweenExpr,
  BinaryExpr,
  BinaryOp,
  CallExpr,
  CaseExpr,
  CaseWhen,
  CastExpr,
  CastTarget,
  Expr,
  ExprType,
  FieldExpr,
  FieldSchema,
  IndexExpr,
  InExpr,
  IsExpr,
  LikeExpr,
  LiteralExpr,
  MemberExpr,
  RecordSchema,
  UnaryExpr,
} from './types.ts';
export { childrenOf, mapChildren } from './walk.ts';
