/**
 * Code generation: turns a checked syntax tree into the source of one JavaScript function.
 *
 * Every node becomes a JavaScript expression whose value is the SQL value (null for NULL, never
 * undefined). Intermediate values go to local temporaries `tN`, so evaluation allocates nothing
 * beyond what the functions themselves return. Nothing from the expression text is spliced into
 * the source: names and strings are embedded with JSON.stringify, numbers are re-serialized from
 * their parsed values, other constants (regular expressions, sets) are passed in as `cN`, and
 * functions are referenced as `fN` from a table this module controls.
 */

import type { Checked } from './check.ts';
import { genCall } from './codegen-calls.ts';
import { genBetween, genIn, genLike } from './codegen-predicates.ts';
import { formatExpression } from './format.ts';
import type { FunctionImpl } from './function-spec.ts';
import { lookupFunction } from './functions.ts';
import { family } from './type-rules.ts';
import type { CaseExpr, CastExpr, Expr, ExprType } from './types.ts';
import { childrenOf } from './walk.ts';

/** A value the generated code can refer to: a literal or a temporary, with the code that sets it. */
export interface Operand {
  readonly ref: string;
  /** Code that computes the temporary; empty for a constant. */
  readonly setup: string;
  readonly constant: boolean;
  /** The constant's value (only when `constant`). */
  readonly value: unknown;
  /** Guaranteed runtime type of non-null values. */
  readonly runtime: ExprType;
}

/** Evaluates a constant subtree at compile time; returns undefined when it throws. */
export type Folder = (e: Expr) => { value: unknown } | undefined;

const COMPARE_JS: { readonly [op: string]: string } = {
  '=': '===',
  '<>': '!==',
  '<': '<',
  '<=': '<=',
  '>': '>',
  '>=': '>=',
};

const CAST_HELPERS = {
  integer: '$castInteger',
  double: '$castDouble',
  string: '$castString',
  boolean: '$castBoolean',
  timestamp: '$castTimestamp',
} as const;

/** JavaScript source for a JSON-like value: a literal where one is exact, otherwise undefined. */
function literalSource(value: unknown): string | undefined {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' && Number.isFinite(value) && !Object.is(value, -0)) {
    return value < 0 ? `(${String(value)})` : String(value);
  }
  return undefined;
}

/** The runtime type of a constant value. */
export function runtimeTypeOf(value: unknown): ExprType {
  if (value === null) return 'null';
  const t = typeof value;
  return t === 'number' || t === 'string' || t === 'boolean' ? t : 'any';
}

/** `(a, b, expr)` without empty parts. */
export function seq(setups: readonly string[], expr: string): string {
  const parts = setups.filter((s) => s !== '');
  return parts.length === 0 ? expr : `(${parts.join(', ')}, ${expr})`;
}

/** Generates the code of one expression; see the module comment. */
export class Codegen {
  readonly checked: Checked;
  readonly constants: unknown[] = [];
  readonly impls: FunctionImpl[] = [];
  readonly fold: Folder | undefined;
  temps = 0;
  readonly #folded = new Map<Expr, { value: unknown } | undefined>();
  readonly #foldable = new Map<Expr, boolean>();

  /** Whether every field the record lacks reads as NULL (not only under IS NULL, coalesce, …). */
  readonly missingAsNull: boolean;

  constructor(checked: Checked, fold: Folder | undefined, missingAsNull = false) {
    this.checked = checked;
    this.fold = fold;
    this.missingAsNull = missingAsNull;
  }

  /** A fresh local temporary. */
  temp(): string {
    return `t${this.temps++}`;
  }

  /** Passes a value to the generated code as a constant `cN`. */
  constant(value: unknown): string {
    this.constants.push(value);
    return `c${this.constants.length - 1}`;
  }

  /** Passes a function implementation to the generated code as `fN`. */
  impl(fn: FunctionImpl): string {
    let i = this.impls.indexOf(fn);
    if (i < 0) i = this.impls.push(fn) - 1;
    return `f${i}`;
  }

  /** Source for a constant value: a literal when exact, else a `cN` reference. */
  valueSource(value: unknown): string {
    return literalSource(value) ?? this.constant(value);
  }

  /** Whether `e` depends on neither the record nor the clock, so it can be folded. */
  foldable(e: Expr): boolean {
    let result = this.#foldable.get(e);
    if (result === undefined) {
      if (e.kind === 'field') result = false;
      else if (e.kind === 'call' && lookupFunction(e.name)?.volatile === true) result = false;
      else result = childrenOf(e).every((c) => this.foldable(c));
      this.#foldable.set(e, result);
    }
    return result;
  }

  /** The compile-time value of `e` when it is constant (a literal or a foldable subtree). */
  constValue(e: Expr): { value: unknown } | undefined {
    if (e.kind === 'literal') {
      const ms = this.checked.timestampLiterals.get(e);
      return { value: ms ?? e.value };
    }
    if (this.fold === undefined || !this.foldable(e)) return undefined;
    if (!this.#folded.has(e)) this.#folded.set(e, this.fold(e));
    return this.#folded.get(e);
  }

  /** The guaranteed runtime type of `e`'s non-null values. */
  runtime(e: Expr): ExprType {
    const c = this.constValue(e);
    if (c !== undefined) return runtimeTypeOf(c.value);
    return this.checked.info.get(e)?.runtime ?? 'any';
  }

  /** `e` as an operand: its constant value, or a temporary set by `setup`. */
  operand(e: Expr, missingAsNull = false): Operand {
    const c = this.constValue(e);
    if (c !== undefined) {
      return {
        ref: this.valueSource(c.value),
        setup: '',
        constant: true,
        value: c.value,
        runtime: runtimeTypeOf(c.value),
      };
    }
    const t = this.temp();
    return {
      ref: t,
      setup: `${t} = ${this.gen(e, missingAsNull)}`,
      constant: false,
      value: undefined,
      runtime: this.runtime(e),
    };
  }

  /** `(a === null || b === null ? null : body)` over the operands that can be null. */
  nullGuard(ops: readonly Operand[], body: string): string {
    if (ops.some((o) => o.constant && o.value === null)) return 'null';
    const tests = ops.filter((o) => !o.constant).map((o) => `${o.ref} === null`);
    return tests.length === 0 ? body : `(${tests.join(' || ')} ? null : ${body})`;
  }

  /** The condition under which `o` is not of `kind` at runtime, or undefined when it always is. */
  notKind(o: Operand, kind: 'number' | 'string' | 'boolean'): string | undefined {
    return family(o.runtime) === kind ? undefined : `typeof ${o.ref} !== '${kind}'`;
  }

  /** `(cond1 || cond2 ? fail : body)`, or just body when there is nothing to check. */
  guarded(conditions: readonly (string | undefined)[], fail: string, body: string): string {
    const conds = conditions.filter((c) => c !== undefined);
    return conds.length === 0 ? body : `(${conds.join(' || ')} ? ${fail} : ${body})`;
  }

  /** Code for `e` as a boolean or null, with a runtime check when its type is not guaranteed. */
  boolCode(e: Expr, what: string): string {
    const code = this.gen(e);
    const r = this.runtime(e);
    return r === 'boolean' || r === 'null' ? code : `$bool(${code}, ${JSON.stringify(what)}, ${e.start + 1})`;
  }

  /** Code comparing two non-null operands with `op`, throwing when their kinds differ. */
  compare(op: string, a: Operand, b: Operand, column: number): string {
    const fa = family(a.runtime);
    const fb = family(b.runtime);
    const body = `${a.ref} ${COMPARE_JS[op]} ${b.ref}`;
    const fail = `$compareError(${JSON.stringify(op)}, ${a.ref}, ${b.ref}, ${column})`;
    if (fa !== undefined && fa === fb) return body;
    if (fa !== undefined) return this.guarded([`typeof ${b.ref} !== '${fa}'`], fail, body);
    if (fb !== undefined) return this.guarded([`typeof ${a.ref} !== '${fb}'`], fail, body);
    return this.guarded([`typeof ${a.ref} !== typeof ${b.ref} || typeof ${a.ref} === 'object'`], fail, body);
  }

  /** Three-valued NOT of code yielding true, false or null. */
  not3(code: string): string {
    const t = this.temp();
    return `((${t} = ${code}) === null ? null : !${t})`;
  }

  /** Code for `e`. With `missingAsNull`, a missing field reads as NULL instead of throwing. */
  gen(e: Expr, missingAsNull = false): string {
    missingAsNull ||= this.missingAsNull;
    if (e.kind !== 'literal') {
      const c = this.constValue(e);
      if (c !== undefined) return this.valueSource(c.value);
    }
    switch (e.kind) {
      case 'literal':
        return this.valueSource(this.constValue(e)?.value ?? null);
      case 'field': {
        const t = this.temp();
        const onMissing = missingAsNull ? 'null' : `$missing(${JSON.stringify(formatExpression(e))})`;
        return `((${t} = ${this.read('r', e.name)}) === undefined ? ${onMissing} : ${t})`;
      }
      case 'member': {
        const o = this.temp();
        const v = this.temp();
        const onMissing = missingAsNull ? 'null' : `$missing(${JSON.stringify(formatExpression(e))})`;
        const notObject = `$notObject(${o}, ${JSON.stringify(formatExpression(e.object))}, ${JSON.stringify(e.name)})`;
        return `((${o} = ${this.gen(e.object, missingAsNull)}) === null ? null : typeof ${o} !== 'object' || Array.isArray(${o}) ? ${notObject} : (${v} = ${this.read(o, e.name)}) === undefined ? ${onMissing} : ${v})`;
      }
      case 'index': {
        const o = this.operand(e.object, missingAsNull);
        const i = this.operand(e.index);
        const body = `$index(${o.ref}, ${i.ref}, ${JSON.stringify(formatExpression(e))})`;
        return seq([o.setup, i.setup], this.nullGuard([o, i], body));
      }
      case 'unary': {
        if (e.op === 'not') {
          const t = this.temp();
          return `((${t} = ${this.boolCode(e.operand, 'NOT')}) === null ? null : !${t})`;
        }
        const o = this.operand(e.operand);
        const fail = `$arithError(${JSON.stringify(`unary ${e.op}`)}, ${o.ref}, 0, ${e.start + 1})`;
        const body = this.guarded([this.notKind(o, 'number')], fail, e.op === '-' ? `-${o.ref}` : o.ref);
        return seq([o.setup], this.nullGuard([o], body));
      }
      case 'binary':
        return this.binary(e);
      case 'is': {
        const op = e.negated ? '!==' : '===';
        if (e.test === 'null') return `(${this.gen(e.operand, true)} ${op} null)`;
        const what = `IS ${e.negated ? 'NOT ' : ''}${e.test.toUpperCase()}`;
        return `(${this.boolCode(e.operand, what)} ${op} ${e.test})`;
      }
      case 'between':
        return genBetween(this, e);
      case 'in':
        return genIn(this, e);
      case 'like':
        return genLike(this, e);
      case 'case':
        return this.caseExpr(e);
      case 'cast':
        return this.cast(e);
      case 'call':
        return genCall(this, e);
    }
  }

  /** Code reading `name` of `object`; names that plain objects inherit are read as own properties only. */
  read(object: string, name: string): string {
    const key = JSON.stringify(name);
    return name in Object.prototype ? `$own(${object}, ${key})` : `${object}[${key}]`;
  }

  /**
   * Code for arithmetic, comparison, `||`, AND and OR (the last two short-circuit from the left).
   * Arithmetic that gives ±Infinity or NaN throws NUMBER_OUT_OF_RANGE (`x - x === 0` holds for
   * exactly the finite numbers).
   */
  binary(e: Expr & { kind: 'binary' }): string {
    const column = e.start + 1;
    if (e.op === 'and' || e.op === 'or') {
      const a = this.temp();
      const b = this.temp();
      const what = e.op.toUpperCase();
      const left = this.boolCode(e.left, what);
      const right = this.boolCode(e.right, what);
      const decisive = e.op === 'and' ? 'false' : 'true';
      const otherwise = e.op === 'and' ? 'true' : 'false';
      return `((${a} = ${left}) === ${decisive} ? ${decisive} : (${b} = ${right}) === ${decisive} ? ${decisive} : ${a} === null || ${b} === null ? null : ${otherwise})`;
    }
    const l = this.operand(e.left);
    const r = this.operand(e.right);
    const setups = [l.setup, r.setup];
    if ((l.constant && l.value === null) || (r.constant && r.value === null)) return seq(setups, 'null');
    let body: string;
    if (e.op === '||') {
      body = `${this.textOf(l)} + ${this.textOf(r)}`;
    } else if (COMPARE_JS[e.op] !== undefined) {
      body = this.compare(e.op, l, r, column);
    } else {
      const fail = `$arithError(${JSON.stringify(e.op)}, ${l.ref}, ${r.ref}, ${column})`;
      const t = this.temp();
      const range = `$arithRange(${JSON.stringify(e.op)}, ${l.ref}, ${r.ref}, ${t}, ${column})`;
      body = `((${t} = ${l.ref} ${e.op} ${r.ref}) - ${t} === 0 ? ${t} : ${range})`;
      if ((e.op === '/' || e.op === '%') && !(r.constant && r.value !== 0)) {
        body = `(${r.ref} === 0 ? $divZero(${JSON.stringify(e.op)}, ${e.right.start + 1}) : ${body})`;
      }
      body = this.guarded([this.notKind(l, 'number'), this.notKind(r, 'number')], fail, body);
    }
    return seq(setups, this.nullGuard([l, r], body));
  }

  /** Code for the text of a non-null operand, for `||`. */
  textOf(o: Operand): string {
    if (o.constant) return JSON.stringify(typeof o.value === 'string' ? o.value : String(o.value));
    return o.runtime === 'string' ? o.ref : `$text(${o.ref})`;
  }

  /** Code for CASE: conditions are tested in order and only the chosen result is evaluated. */
  caseExpr(e: CaseExpr): string {
    const otherwise = e.otherwise === null ? 'null' : this.gen(e.otherwise);
    if (e.operand === null) {
      const branches = e.whens.map(
        (w) => `${this.boolCode(w.condition, 'CASE WHEN')} === true ? ${this.gen(w.result)} : `,
      );
      return `(${branches.join('')}${otherwise})`;
    }
    const column = e.start + 1;
    const x = this.operand(e.operand);
    if (x.constant && x.value === null) return seq([x.setup], otherwise);
    const branches = e.whens.map((w) => {
      const o = this.operand(w.condition);
      const test = o.constant
        ? o.value === null
          ? 'false'
          : this.compare('=', x, o, column)
        : `(${o.setup}) !== null && ${this.compare('=', x, o, column)}`;
      const guard = x.constant ? '' : `${x.ref} !== null && `;
      return `${guard}${test} ? ${this.gen(w.result)} : `;
    });
    return seq([x.setup], `(${branches.join('')}${otherwise})`);
  }

  /** Code for CAST, skipped when the value already has the target type. */
  cast(e: CastExpr): string {
    const o = this.operand(e.operand);
    const fam = family(o.runtime);
    const same =
      (e.target === 'double' && fam === 'number') ||
      (e.target === 'string' && fam === 'string') ||
      (e.target === 'boolean' && fam === 'boolean');
    const body = same ? o.ref : `${CAST_HELPERS[e.target]}(${o.ref})`;
    return seq([o.setup], this.nullGuard([o], body));
  }
}
