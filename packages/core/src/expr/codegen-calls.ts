/**
 * Code generation for function calls: strict functions through their implementation, special
 * forms (coalesce, ifnull, nullif, if, concat, greatest, least, now) written out inline.
 */

import { timestampOf } from './civil.ts';
import { type Codegen, type Operand, seq } from './codegen.ts';
import { failAt } from './failure.ts';
import type { FunctionSpec, ParamKind } from './function-spec.ts';
import { lookupFunction } from './functions.ts';
import { compileRegex } from './regex.ts';
import { text } from './runtime.ts';
import { family } from './type-rules.ts';
import type { CallExpr, Expr } from './types.ts';

const EXPECTED: { readonly [kind in ParamKind]: string } = {
  number: 'a number',
  integer: 'a whole number',
  string: 'a string',
  boolean: 'a boolean',
  timestamp: 'a timestamp',
  unit: 'a unit name',
  scalar: 'a number, string or boolean',
  any: 'a value',
  regex: 'a pattern string',
  flags: 'a flags string',
};

function coalesce(g: Codegen, args: readonly Expr[]): string {
  let code = '';
  for (let i = 0; i < args.length; i++) {
    const c = g.constValue(args[i]);
    if (c !== undefined) {
      if (c.value === null) continue;
      return `(${code}${g.valueSource(c.value)})`;
    }
    if (i === args.length - 1) return `(${code}${g.gen(args[i], true)})`;
    const t = g.temp();
    code += `(${t} = ${g.gen(args[i], true)}) !== null ? ${t} : `;
  }
  return `(${code}null)`;
}

function nullif(g: Codegen, e: CallExpr): string {
  const a = g.operand(e.args[0], true);
  const b = g.operand(e.args[1], true);
  const equal = g.compare('=', a, b, e.start + 1);
  return seq(
    [a.setup, b.setup],
    `(${a.ref} === null || ${b.ref} === null ? ${a.ref} : ${equal} ? null : ${a.ref})`,
  );
}

function concat(g: Codegen, args: readonly Expr[]): string {
  const ops = args.map((a) => g.operand(a));
  const parts = ops.map((o) => {
    if (o.constant) return JSON.stringify(o.value === null ? '' : text(o.value));
    return o.runtime === 'string' ? `(${o.ref} === null ? "" : ${o.ref})` : `$textOrEmpty(${o.ref})`;
  });
  const body = parts.length === 1 ? `"" + ${parts[0]}` : parts.join(' + ');
  return seq(
    ops.map((o) => o.setup),
    `(${body})`,
  );
}

function extreme(g: Codegen, e: CallExpr): string {
  const helper = e.name === 'greatest' ? '$greatest' : '$least';
  let code = g.gen(e.args[0]);
  for (const arg of e.args.slice(1)) code = `${helper}(${code}, ${g.gen(arg)}, ${e.start + 1})`;
  return code;
}

/** Code that passes operand `o` as a `kind` argument, checking it at runtime when needed. */
function argument(g: Codegen, fn: string, kind: ParamKind, o: Operand, position: number, node: Expr): string {
  const fail = `$argError(${JSON.stringify(fn)}, ${position}, ${JSON.stringify(EXPECTED[kind])}, ${o.ref})`;
  switch (kind) {
    case 'number':
    case 'string':
    case 'boolean':
      return g.guarded([g.notKind(o, kind)], fail, o.ref);
    case 'integer':
      if (o.constant) {
        if (!Number.isInteger(o.value))
          failAt('PLAN_TYPE_ERROR', node.start, `${fn}() argument ${position} must be a whole number`);
        return o.ref;
      }
      return g.guarded([g.notKind(o, 'number'), `!Number.isInteger(${o.ref})`], fail, o.ref);
    case 'unit':
      if (o.constant) return JSON.stringify(String(o.value).toLowerCase());
      return g.guarded([g.notKind(o, 'string')], fail, `${o.ref}.toLowerCase()`);
    case 'timestamp': {
      if (o.constant) {
        const ms = timestampOf(o.value);
        if (Number.isNaN(ms))
          failAt('PLAN_TYPE_ERROR', node.start, `${fn}() argument ${position} is not a timestamp`);
        return g.valueSource(ms);
      }
      if (family(o.runtime) === 'number') return o.ref;
      return `$timestampArg(${JSON.stringify(fn)}, ${position}, ${o.ref})`;
    }
    case 'scalar':
      return family(o.runtime) !== undefined
        ? o.ref
        : g.guarded([`typeof ${o.ref} === 'object'`], fail, o.ref);
    default:
      return o.ref;
  }
}

function regexArgument(
  g: Codegen,
  fn: string,
  spec: FunctionSpec,
  pattern: Operand,
  flags: Operand | undefined,
  node: Expr,
): string {
  const global = spec.globalFlag === true;
  if (pattern.constant && (flags === undefined || flags.constant)) {
    const re = compileRegex(
      fn,
      String(pattern.value),
      flags === undefined ? '' : String(flags.value),
      global,
    );
    if (typeof re === 'string') return failAt('PLAN_TYPE_ERROR', node.start, re);
    return g.constant(re);
  }
  const p = argument(g, fn, 'string', pattern, spec.params.indexOf('regex') + 1, node);
  const f =
    flags === undefined ? '""' : argument(g, fn, 'string', flags, spec.params.indexOf('flags') + 1, node);
  return `$regex(${JSON.stringify(fn)}, ${p}, ${f}, ${global})`;
}

/** A strict call; a number-returning function that gives ±Infinity or NaN throws NUMBER_OUT_OF_RANGE. */
function strictCall(g: Codegen, spec: FunctionSpec, e: CallExpr): string {
  const ops = e.args.map((a) => g.operand(a));
  const setups = ops.map((o) => o.setup);
  if (ops.some((o) => o.constant && o.value === null)) return seq(setups, 'null');
  const kinds = e.args.map((_, i) => spec.params[Math.min(i, spec.params.length - 1)]);
  const flagsAt = kinds.indexOf('flags');
  const flags = flagsAt < 0 ? undefined : ops[flagsAt];
  const args: string[] = [];
  ops.forEach((o, i) => {
    const kind = kinds[i];
    if (kind === 'regex') args.push(regexArgument(g, e.name, spec, o, flags, e.args[i]));
    else if (kind !== 'flags') args.push(argument(g, e.name, kind, o, i + 1, e.args[i]));
  });
  if (spec.impl === undefined) return failAt('INTERNAL', e.start, `${spec.name}() has no implementation`);
  let call = `${g.impl(spec.impl)}(${args.join(', ')})`;
  if (spec.returns === 'number') {
    const t = g.temp();
    call = `((${t} = ${call}) === null || ${t} - ${t} === 0 ? ${t} : $callRange(${JSON.stringify(spec.name)}, ${t}))`;
  }
  return seq(setups, g.nullGuard(ops, call));
}

/** Code for a call of a scalar function (the checker has already rejected anything else). */
export function genCall(g: Codegen, e: CallExpr): string {
  const spec = lookupFunction(e.name);
  if (spec === undefined) return failAt('EXPR_UNKNOWN_FUNCTION', e.start, `unknown function ${e.name}()`);
  switch (spec.name) {
    case 'coalesce':
    case 'ifnull':
      return coalesce(g, e.args);
    case 'nullif':
      return nullif(g, e);
    case 'if':
      return `(${g.boolCode(e.args[0], 'if()')} === true ? ${g.gen(e.args[1])} : ${g.gen(e.args[2])})`;
    case 'concat':
      return concat(g, e.args);
    case 'greatest':
    case 'least':
      return extreme(g, e);
    case 'now':
      return '$clock.now()';
    default:
      return strictCall(g, spec, e);
  }
}
