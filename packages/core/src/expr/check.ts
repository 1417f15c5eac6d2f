/**
 * The type checker: infers the static type of every node, rejects what can never work (with
 * PLAN_TYPE_ERROR or EXPR_UNKNOWN_FUNCTION), and records what the code generator may rely on.
 */

import { timestampOf } from './civil.ts';
import { castAllowed, castFunctions, castNames, castResultTypes } from './conversion-functions.ts';
import { failAt, withArticle } from './failure.ts';
import { formatExpression } from './format.ts';
import { type FunctionSpec, literalString, type ParamKind } from './function-spec.ts';
import { aggregateNames, callableNames, lookupFunction } from './functions.ts';
import { compileRegex } from './regex.ts';
import { closest } from './suggest.ts';
import { comparable, family, isNumeric, unify } from './type-rules.ts';
import type { CallExpr, CastExpr, Expr, ExprType, FieldSchema, RecordSchema } from './types.ts';

/**
 * What the checker knows of a node: `type` is its static type; `runtime` is the type its non-null
 * values are guaranteed to have at runtime (`any` when a record could put anything there, as
 * field values are never trusted).
 */
export interface NodeInfo {
  readonly type: ExprType;
  readonly runtime: ExprType;
}

/** The checker's results for one expression. */
export interface Checked {
  readonly root: Expr;
  readonly info: ReadonlyMap<Expr, NodeInfo>;
  /** Top-level fields read, in order of first appearance. */
  readonly fields: readonly string[];
  /** String literals compared with a timestamp, to be used as these epoch-ms values. */
  readonly timestampLiterals: ReadonlyMap<Expr, number>;
}

const MIN_MAX_HINT: { readonly [name: string]: string } = {
  min: '; for the smaller of several values in one record use least()',
  max: '; for the larger of several values in one record use greatest()',
};

function typeError(node: Expr, message: string): never {
  return failAt('PLAN_TYPE_ERROR', node.start, message);
}

const BOOLEAN: NodeInfo = { type: 'boolean', runtime: 'boolean' };
const NUMBER: NodeInfo = { type: 'number', runtime: 'number' };
const STRING: NodeInfo = { type: 'string', runtime: 'string' };
const UNKNOWN: NodeInfo = { type: 'any', runtime: 'any' };

/** Where the fields of a schema come from, for messages: `the record`, `bid`. */
function fieldOf(schema: RecordSchema, name: string, where: string, node: Expr): FieldSchema | undefined {
  for (const f of schema.fields) if (f.name === name) return f;
  if (schema.open) return undefined;
  const names = schema.fields.map((f) => f.name);
  const guess = closest(name, names);
  return typeError(
    node,
    `${where} has no field '${name}'${guess === undefined ? '' : `; did you mean '${guess}'?`} (its fields: ${names.join(', ')})`,
  );
}

/** The expression type a field reads as. */
function typeOfField(f: FieldSchema | undefined): ExprType {
  if (f === undefined || f.type === 'object' || f.type === 'array') return 'any';
  return f.type;
}

class Checker {
  readonly fieldTypes: { readonly [field: string]: ExprType };
  readonly schema: RecordSchema | undefined;
  readonly info = new Map<Expr, NodeInfo>();
  readonly fields: string[] = [];
  readonly timestampLiterals = new Map<Expr, number>();
  /** Nodes that read an object whose schema is known. */
  readonly objects = new Map<Expr, RecordSchema>();

  constructor(fieldTypes: { readonly [field: string]: ExprType }, schema: RecordSchema | undefined) {
    this.fieldTypes = fieldTypes;
    this.schema = schema;
  }

  /** The field `name` of `schema` read at `node`: its type, remembering a nested object's schema. */
  readField(node: Expr, schema: RecordSchema, name: string, where: string): ExprType {
    const f = fieldOf(schema, name, where, node);
    if (f?.type === 'object' && f.schema !== undefined) this.objects.set(node, f.schema);
    return typeOfField(f);
  }

  check(e: Expr): NodeInfo {
    const result = this.infer(e);
    this.info.set(e, result);
    return result;
  }

  expectNumeric(e: Expr, what: string): void {
    const t = this.check(e).type;
    if (t === 'null' || t === 'any' || isNumeric(t)) return;
    const hint =
      what === 'operator +' && t === 'string'
        ? '; use || to concatenate strings'
        : t === 'string'
          ? `; convert it with CAST(${formatExpression(e)} AS DOUBLE)`
          : '';
    typeError(e, `${what} needs numbers, but ${formatExpression(e)} is ${withArticle(t)}${hint}`);
  }

  expectType(e: Expr, wanted: 'string' | 'boolean', what: string): void {
    const t = this.check(e).type;
    if (t === 'null' || t === 'any' || t === wanted) return;
    const hint = wanted === 'string' ? `; convert it with CAST(${formatExpression(e)} AS VARCHAR)` : '';
    typeError(
      e,
      `${what} needs ${withArticle(wanted)}, but ${formatExpression(e)} is ${withArticle(t)}${hint}`,
    );
  }

  /** Checks that `a` and `b` may be compared; a string literal against a timestamp becomes epoch ms. */
  expectComparable(a: Expr, b: Expr, what: string): void {
    const ta = this.info.get(a)?.type ?? this.check(a).type;
    const tb = this.check(b).type;
    if (ta === 'timestamp' && tb === 'string') this.coerceTimestamp(b);
    else if (tb === 'timestamp' && ta === 'string') this.coerceTimestamp(a);
    else if (!comparable(ta, tb)) {
      typeError(
        b,
        `${what} cannot compare ${formatExpression(a)} (${withArticle(ta)}) with ${formatExpression(b)} (${withArticle(tb)}); convert one side with CAST`,
      );
    }
  }

  coerceTimestamp(e: Expr): void {
    if (e.kind !== 'literal' || typeof e.value !== 'string') return;
    const ms = timestampOf(e.value);
    if (Number.isNaN(ms)) {
      typeError(e, `'${e.value}' is not a timestamp; write ISO-8601 text such as '2024-05-01T12:00:00Z'`);
    }
    this.timestampLiterals.set(e, ms);
  }

  infer(e: Expr): NodeInfo {
    switch (e.kind) {
      case 'literal': {
        const t: ExprType = e.value === null ? 'null' : (typeof e.value as ExprType);
        return { type: t, runtime: t };
      }
      case 'field': {
        if (!this.fields.includes(e.name)) this.fields.push(e.name);
        if (this.schema !== undefined)
          return { type: this.readField(e, this.schema, e.name, 'the record'), runtime: 'any' };
        const t = Object.hasOwn(this.fieldTypes, e.name) ? this.fieldTypes[e.name] : 'any';
        return { type: t, runtime: 'any' };
      }
      case 'member':
      case 'index': {
        const t = this.check(e.object).type;
        if (family(t) !== undefined) {
          typeError(e, `${formatExpression(e.object)} is ${withArticle(t)}, so it has no fields or elements`);
        }
        const nested = this.objects.get(e.object);
        if (e.kind === 'member' && nested !== undefined)
          return { type: this.readField(e, nested, e.name, formatExpression(e.object)), runtime: 'any' };
        if (e.kind === 'index') {
          const ti = this.check(e.index).type;
          if (ti === 'boolean')
            typeError(e.index, 'an index must be a number (array) or a string (object entry)');
        }
        return UNKNOWN;
      }
      case 'unary':
        if (e.op === 'not') {
          this.expectType(e.operand, 'boolean', 'NOT');
          return BOOLEAN;
        }
        this.expectNumeric(e.operand, `unary ${e.op}`);
        return NUMBER;
      case 'binary':
        return this.binary(e.op, e.left, e.right);
      case 'is':
        if (e.test === 'null') this.check(e.operand);
        else this.expectType(e.operand, 'boolean', `IS ${e.negated ? 'NOT ' : ''}${e.test.toUpperCase()}`);
        return BOOLEAN;
      case 'between':
        this.check(e.operand);
        this.expectComparable(e.operand, e.low, 'BETWEEN');
        this.expectComparable(e.operand, e.high, 'BETWEEN');
        return BOOLEAN;
      case 'in':
        this.check(e.operand);
        for (const item of e.list) this.expectComparable(e.operand, item, 'IN');
        return BOOLEAN;
      case 'like': {
        const op = e.caseInsensitive ? 'ILIKE' : 'LIKE';
        this.expectType(e.operand, 'string', op);
        this.expectType(e.pattern, 'string', `the ${op} pattern`);
        if (e.escape !== null) {
          const escapeChar = literalString(e.escape);
          if (escapeChar === undefined || escapeChar.length > 1) {
            typeError(
              e.escape,
              "ESCAPE needs a string literal of one character (or '' for none), e.g. ESCAPE '!'",
            );
          }
          this.check(e.escape);
        }
        return BOOLEAN;
      }
      case 'case':
        return this.caseExpr(e);
      case 'cast':
        return this.cast(e);
      case 'call':
        return this.call(e);
    }
  }

  binary(op: string, left: Expr, right: Expr): NodeInfo {
    switch (op) {
      case 'and':
      case 'or':
        this.expectType(left, 'boolean', op.toUpperCase());
        this.expectType(right, 'boolean', op.toUpperCase());
        return BOOLEAN;
      case '||':
        this.check(left);
        this.check(right);
        return STRING;
      case '+':
      case '-':
      case '*':
      case '/':
      case '%': {
        this.expectNumeric(left, `operator ${op}`);
        this.expectNumeric(right, `operator ${op}`);
        const l = this.info.get(left)?.type;
        const r = this.info.get(right)?.type;
        const shifted =
          (op === '+' && ((l === 'timestamp' && r === 'number') || (l === 'number' && r === 'timestamp'))) ||
          (op === '-' && l === 'timestamp' && r === 'number');
        if (shifted) return { type: 'timestamp', runtime: 'number' };
        return NUMBER;
      }
      default:
        this.check(left);
        this.expectComparable(left, right, `operator ${op}`);
        return BOOLEAN;
    }
  }

  caseExpr(e: Expr & { kind: 'case' }): NodeInfo {
    if (e.operand !== null) this.check(e.operand);
    const results: Expr[] = [];
    for (const w of e.whens) {
      if (e.operand === null) this.expectType(w.condition, 'boolean', 'CASE WHEN');
      else this.expectComparable(e.operand, w.condition, 'CASE');
      results.push(w.result);
    }
    if (e.otherwise !== null) results.push(e.otherwise);
    return this.unifyArgs(results, 'CASE branches');
  }

  unifyArgs(args: readonly Expr[], what: string): NodeInfo {
    const infos = args.map((a) => this.info.get(a) ?? this.check(a));
    const type = unify(infos.map((i) => i.type));
    if (type === undefined) {
      const known = [...new Set(infos.map((i) => i.type).filter((t) => family(t) !== undefined))];
      typeError(
        args[0],
        `${what} have different types (${known.join(' and ')}); convert them to one type with CAST`,
      );
    }
    return { type, runtime: unify(infos.map((i) => i.runtime)) ?? 'any' };
  }

  cast(e: CastExpr): NodeInfo {
    const from = this.check(e.operand).type;
    if (!castAllowed(from, e.target)) {
      typeError(e, `cannot cast ${withArticle(from)} to ${castNames[e.target]}`);
    }
    if (e.operand.kind === 'literal' && e.operand.value !== null) {
      try {
        castFunctions[e.target](e.operand.value);
      } catch (err) {
        typeError(e, (err as Error).message);
      }
    }
    const t = castResultTypes[e.target];
    return { type: t, runtime: t };
  }

  call(e: CallExpr): NodeInfo {
    if (aggregateNames.has(e.name)) {
      typeError(
        e,
        `${e.name}() is an aggregate; use it in an aggregate step's fields${MIN_MAX_HINT[e.name] ?? ''}`,
      );
    }
    const spec = lookupFunction(e.name);
    if (spec === undefined) {
      const match = closest(e.name, callableNames());
      const hint =
        match === undefined ? 'see the function reference for the full list' : `did you mean ${match}()?`;
      failAt('EXPR_UNKNOWN_FUNCTION', e.start, `unknown function ${e.name}(); ${hint}`);
    }
    if (e.distinct)
      typeError(
        e,
        `DISTINCT is only allowed in aggregate calls such as count(DISTINCT x), not in ${e.name}()`,
      );
    if (e.star) typeError(e, `'*' is only allowed in count(*), not in ${e.name}()`);
    const n = e.args.length;
    const max = spec.variadic ? Number.POSITIVE_INFINITY : spec.params.length;
    if (n < spec.required || n > max) {
      const expected =
        spec.required === max
          ? `${max} argument${max === 1 ? '' : 's'}`
          : max === Number.POSITIVE_INFINITY
            ? `at least ${spec.required} argument${spec.required === 1 ? '' : 's'}`
            : `${spec.required} to ${max} arguments`;
      typeError(e, `${e.name}() takes ${expected}, got ${n}: ${spec.signature}`);
    }
    e.args.forEach((arg, i) => {
      this.argument(e, spec, arg, i);
    });
    spec.check?.(e.args);
    this.checkRegex(e, spec);
    if (spec.returns !== 'unify') return { type: spec.returns, runtime: spec.returns };
    return this.unifyArgs(e.args.slice(spec.unifyFrom ?? 0), `the arguments of ${e.name}()`);
  }

  argument(call: CallExpr, spec: FunctionSpec, arg: Expr, i: number): void {
    const kind: ParamKind = spec.params[Math.min(i, spec.params.length - 1)];
    const t = this.check(arg).type;
    const at = `${call.name}() argument ${i + 1}`;
    switch (kind) {
      case 'number':
      case 'integer':
        this.expectNumeric(arg, at);
        if (
          kind === 'integer' &&
          arg.kind === 'literal' &&
          typeof arg.value === 'number' &&
          !Number.isInteger(arg.value)
        ) {
          typeError(arg, `${at} must be a whole number, got ${arg.value}`);
        }
        return;
      case 'string':
      case 'unit':
      case 'regex':
      case 'flags':
        this.expectType(arg, 'string', at);
        return;
      case 'boolean':
        this.expectType(arg, 'boolean', at);
        return;
      case 'timestamp':
        if (t === 'boolean')
          typeError(arg, `${at} needs a timestamp, but ${formatExpression(arg)} is a boolean`);
        if (arg.kind === 'literal' && typeof arg.value === 'string' && Number.isNaN(timestampOf(arg.value))) {
          typeError(
            arg,
            `${at}: '${arg.value}' is not a timestamp; write ISO-8601 text such as '2024-05-01T12:00:00Z'`,
          );
        }
        return;
      default:
        return;
    }
  }

  checkRegex(e: CallExpr, spec: FunctionSpec): void {
    const p = spec.params.indexOf('regex');
    if (p < 0) return;
    const pattern = literalString(e.args[p]);
    const f = spec.params.indexOf('flags');
    const flags = f < 0 || e.args[f] === undefined ? '' : literalString(e.args[f]);
    if (pattern === undefined || flags === undefined) return;
    const re = compileRegex(e.name, pattern, flags, spec.globalFlag === true);
    if (typeof re === 'string') typeError(e.args[p], re);
  }
}

/**
 * Type-checks `root` against the known top-level field types, or against the records' schema
 * when given: then a field a closed schema does not have, at any depth, is a PLAN_TYPE_ERROR
 * naming the fields it has. Throws PLAN_TYPE_ERROR for a mismatch that no record could fix,
 * EXPR_UNKNOWN_FUNCTION for an unknown function.
 */
export function checkExpression(
  root: Expr,
  fieldTypes: { readonly [field: string]: ExprType } = {},
  schema?: RecordSchema,
): Checked {
  const checker = new Checker(fieldTypes, schema);
  checker.check(root);
  return {
    root,
    info: checker.info,
    fields: checker.fields,
    timestampLiterals: checker.timestampLiterals,
  };
}
