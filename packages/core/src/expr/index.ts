/**
 * The SQL scalar expression language of Sluice: parse, type-check and compile expressions such
 * as `amount * 1.1`, `upper(country) || '-' || city` or `status IN ('paid', 'shipped')`.
 */

export {
  type CompiledExpression,
  type CompileOptions,
  compileExpression,
  compilePredicate,
} from './compile.ts';
export { formatExpression } from './format.ts';
export type { FunctionDoc } from './function-spec.ts';
export { functionDocs, isAggregateCall } from './functions.ts';
export { parseExpression } from './parser.ts';
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
  IndexExpr,
  InExpr,
  IsExpr,
  LikeExpr,
  LiteralExpr,
  MemberExpr,
  UnaryExpr,
} from './types.ts';
