/**
 * Code generation for the predicates BETWEEN, IN and LIKE.
 */

import { type Codegen, type Operand, runtimeTypeOf, seq } from './codegen.ts';
import { failAt } from './failure.ts';
import { likeMatcher } from './regex.ts';
import { family } from './type-rules.ts';
import type { BetweenExpr, InExpr, LikeExpr } from './types.ts';

/** Code for `x [NOT] BETWEEN low AND high`: `x >= low AND x <= high` with x evaluated once. */
export function genBetween(g: Codegen, e: BetweenExpr): string {
  const column = e.start + 1;
  const x = g.operand(e.operand);
  const lo = g.operand(e.low);
  const hi = g.operand(e.high);
  const setups = [x.setup, lo.setup, hi.setup];
  if (x.constant && x.value === null) return seq(setups, 'null');
  const ge = g.compare('>=', x, lo, column);
  const le = g.compare('<=', x, hi, column);
  let body: string;
  if (lo.constant && hi.constant && lo.value !== null && hi.value !== null) {
    body = `${ge} && ${le}`;
  } else {
    const p = g.temp();
    const q = g.temp();
    const pCode = lo.constant ? (lo.value === null ? 'null' : ge) : `${lo.ref} === null ? null : ${ge}`;
    const qCode = hi.constant ? (hi.value === null ? 'null' : le) : `${hi.ref} === null ? null : ${le}`;
    body = `(${p} = ${pCode}, ${q} = ${qCode}, ${p} === false || ${q} === false ? false : ${p} === null || ${q} === null ? null : true)`;
  }
  const result = seq(setups, g.nullGuard([x], body));
  return e.negated ? g.not3(result) : result;
}

/**
 * Code for `x [NOT] IN (list)`: TRUE on a match, else NULL when x or an item is NULL, else FALSE.
 * A long list of constants of one kind becomes a Set lookup.
 */
export function genIn(g: Codegen, e: InExpr): string {
  const column = e.start + 1;
  const x = g.operand(e.operand);
  if (x.constant && x.value === null) return seq([x.setup], 'null');
  const consts = e.list.map((item) => g.constValue(item));
  const values = consts.map((c) => c?.value);
  const kinds = new Set(values.map((v) => family(runtimeTypeOf(v))));
  let body: string;
  if (
    consts.every((c) => c !== undefined) &&
    kinds.size === 1 &&
    !kinds.has(undefined) &&
    values.length > 6
  ) {
    const kind = [...kinds][0] ?? 'number';
    const set = g.constant(new Set(values));
    const fail = `$compareError("IN", ${x.ref}, ${g.valueSource(values[0])}, ${column})`;
    body = g.guarded([g.notKind(x, kind)], fail, `${set}.has(${x.ref})`);
  } else {
    const sawNull = g.temp();
    const tests = e.list.map((item) => {
      const o = g.operand(item);
      if (o.constant) return o.value === null ? `(${sawNull} = true, false)` : g.compare('=', x, o, column);
      return `((${o.setup}) === null ? (${sawNull} = true, false) : ${g.compare('=', x, o, column)})`;
    });
    body = `((${sawNull} = false, ${tests.join(' || ')}) ? true : ${sawNull} ? null : false)`;
  }
  const result = seq([x.setup], g.nullGuard([x], body));
  return e.negated ? g.not3(result) : result;
}

/** Code for `[NOT] LIKE | ILIKE`; a constant pattern is compiled once, outside the evaluated function. */
export function genLike(g: Codegen, e: LikeExpr): string {
  const column = e.start + 1;
  const op = e.caseInsensitive ? 'ILIKE' : 'LIKE';
  const s = g.operand(e.operand);
  const escapeChar = e.escape === null ? '\\' : String(g.constValue(e.escape)?.value ?? '');
  const pattern = g.constValue(e.pattern);
  const fail = (o: Operand) => `$needs(${JSON.stringify(op)}, "a string", ${o.ref}, ${column})`;
  let body: string;
  let p: Operand | undefined;
  if (pattern !== undefined) {
    if (pattern.value === null) return seq([s.setup], 'null');
    const m = likeMatcher(String(pattern.value), escapeChar, e.caseInsensitive);
    if (typeof m === 'string') return failAt('PLAN_TYPE_ERROR', e.pattern.start, m);
    const text = m.kind === 'regex' ? '' : JSON.stringify(m.text);
    const test =
      m.kind === 'regex'
        ? `${g.constant(m.regex)}.test(${s.ref})`
        : m.kind === 'equals'
          ? `${s.ref} === ${text}`
          : m.kind === 'prefix'
            ? `${s.ref}.startsWith(${text})`
            : m.kind === 'suffix'
              ? `${s.ref}.endsWith(${text})`
              : `${s.ref}.includes(${text})`;
    body = g.guarded([g.notKind(s, 'string')], fail(s), e.negated ? `!(${test})` : test);
  } else {
    p = g.operand(e.pattern);
    const test = `$likeTest($likeMatcher(${p.ref}, ${JSON.stringify(escapeChar)}, ${e.caseInsensitive}), ${s.ref})`;
    body = g.guarded(
      [g.notKind(s, 'string')],
      fail(s),
      g.guarded([g.notKind(p, 'string')], fail(p), e.negated ? `!${test}` : test),
    );
  }
  return seq([s.setup, p?.setup ?? ''], g.nullGuard(p === undefined ? [s] : [s, p], body));
}
