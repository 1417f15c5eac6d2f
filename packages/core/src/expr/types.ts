/**
 * The syntax tree of a SQL scalar expression and the static types the checker gives it.
 *
 * Every node carries `start` and `end`: character offsets into the expression text (end
 * exclusive), so errors can point at the column they concern.
 */

/** Static type of an expression; `timestamp` is epoch milliseconds at runtime, `any` means unknown. */
export type ExprType = 'number' | 'string' | 'boolean' | 'timestamp' | 'null' | 'any';

/**
 * What the records an expression reads look like, where known: their fields and, for a nested
 * object, its own. A closed schema lists every field a record may have, so an expression naming
 * another is an error before the pipeline runs; an open one lists some (the others read as any).
 */
export interface RecordSchema {
  readonly fields: readonly FieldSchema[];
  /** Records may hold fields not listed, of unknown types. */
  readonly open: boolean;
}

/** One field of a record schema. */
export interface FieldSchema {
  readonly name: string;
  /** A scalar's expression type, or `object` (described by `schema` when known) or `array`. */
  readonly type: ExprType | 'object' | 'array';
  readonly schema?: RecordSchema;
  /** The field may be NULL (or absent from a record). */
  readonly nullable?: boolean;
}

/** What a CAST converts to; each SQL type name maps to one of these. */
export type CastTarget = 'integer' | 'double' | 'string' | 'boolean' | 'timestamp';

/** Numeric operators. */
export type ArithmeticOp = '+' | '-' | '*' | '/' | '%';
/** Comparison operators; `!=` is parsed as `<>`. */
export type ComparisonOp = '=' | '<>' | '<' | '<=' | '>' | '>=';
/** Every binary operator; `||` concatenates, `and` and `or` are three-valued logic. */
export type BinaryOp = ArithmeticOp | ComparisonOp | '||' | 'and' | 'or';

/** A constant: number, string, boolean or NULL. An INTERVAL literal is a number of milliseconds. */
export interface LiteralExpr {
  kind: 'literal';
  value: number | string | boolean | null;
  start: number;
  end: number;
}

/** A top-level field of the record, by its case-sensitive name. */
export interface FieldExpr {
  kind: 'field';
  name: string;
  start: number;
  end: number;
}

/** `object.name`: a property of a nested object. */
export interface MemberExpr {
  kind: 'member';
  object: Expr;
  name: string;
  start: number;
  end: number;
}

/** `object[index]`: an array element (0-based) or a map entry. */
export interface IndexExpr {
  kind: 'index';
  object: Expr;
  index: Expr;
  start: number;
  end: number;
}

/** `-operand`, `+operand` or `NOT operand`. */
export interface UnaryExpr {
  kind: 'unary';
  op: '-' | '+' | 'not';
  operand: Expr;
  start: number;
  end: number;
}

/** `left op right`. */
export interface BinaryExpr {
  kind: 'binary';
  op: BinaryOp;
  left: Expr;
  right: Expr;
  start: number;
  end: number;
}

/** `operand IS [NOT] NULL | TRUE | FALSE`. */
export interface IsExpr {
  kind: 'is';
  operand: Expr;
  test: 'null' | 'true' | 'false';
  negated: boolean;
  start: number;
  end: number;
}

/** `operand [NOT] BETWEEN low AND high`. */
export interface BetweenExpr {
  kind: 'between';
  operand: Expr;
  low: Expr;
  high: Expr;
  negated: boolean;
  start: number;
  end: number;
}

/** `operand [NOT] IN (list…)`. */
export interface InExpr {
  kind: 'in';
  operand: Expr;
  list: Expr[];
  negated: boolean;
  start: number;
  end: number;
}

/** `operand [NOT] LIKE | ILIKE pattern [ESCAPE escape]`; `escape` is null when not written. */
export interface LikeExpr {
  kind: 'like';
  operand: Expr;
  pattern: Expr;
  escape: Expr | null;
  caseInsensitive: boolean;
  negated: boolean;
  start: number;
  end: number;
}

/** One `WHEN condition THEN result` of a CASE (for the simple form, `condition` is the value compared). */
export interface CaseWhen {
  condition: Expr;
  result: Expr;
}

/** `CASE [operand] WHEN … THEN … [ELSE otherwise] END`; `operand` is set for the simple form. */
export interface CaseExpr {
  kind: 'case';
  operand: Expr | null;
  whens: CaseWhen[];
  otherwise: Expr | null;
  start: number;
  end: number;
}

/** `CAST(operand AS type)` or `operand::type`. */
export interface CastExpr {
  kind: 'cast';
  operand: Expr;
  target: CastTarget;
  start: number;
  end: number;
}

/**
 * A function call, scalar or aggregate. `name` is lower-cased; `star` is `count(*)` (then `args`
 * is empty); `distinct` is `count(DISTINCT x)`. Special forms are normalized:
 * `extract(hour FROM ts)` has args `['hour', ts]`, `position(a IN b)` has args `[a, b]`,
 * `substring(s FROM a FOR b)` has args `[s, a, b]`.
 */
export interface CallExpr {
  kind: 'call';
  name: string;
  args: Expr[];
  distinct: boolean;
  star: boolean;
  start: number;
  end: number;
}

/** Any expression node. */
export type Expr =
  | LiteralExpr
  | FieldExpr
  | MemberExpr
  | IndexExpr
  | UnaryExpr
  | BinaryExpr
  | IsExpr
  | BetweenExpr
  | InExpr
  | LikeExpr
  | CaseExpr
  | CastExpr
  | CallExpr;
