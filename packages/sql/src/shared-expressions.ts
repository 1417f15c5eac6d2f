/**
 * Common subexpressions of a filter and the projection after it, computed once (Nexmark q21:
 * `WHERE REGEXP_EXTRACT(url, …) IS NOT NULL OR …` and `CASE … ELSE REGEXP_EXTRACT(url, …) END`,
 * where RE2 is most of the query's time). A function call the projection computes that the filter
 * evaluates on every record it tests — not under the right-hand side of AND or OR, a CASE branch
 * or a lazy function's arguments — becomes a field computed by a `map` before the filter, and the
 * filter and the projection read the field. The filter's conjuncts before the first that computes
 * it stay before that map, so it computes nothing on records they drop, and it computes nothing
 * the filter did not: a record on which the call fails was a dead letter of the filter before and
 * is one of the map now. The projection names its columns (`select`), so the field goes no further.
 */

import { childrenOf, type Expr, formatExpression, mapChildren, parseExpression } from '@sluice/core';
import { conjuncts, type Step } from './plan-steps.ts';

/** Functions that evaluate some arguments only on some records. */
const LAZY = new Set(['coalesce', 'if', 'ifnull', 'nvl', 'nullif']);

/**
 * Built-in functions costly enough to share and deterministic: the same arguments give the same
 * result (a user-defined function may not, and `now()` does not).
 */
const COSTLY = new Set([
  'regexp_extract',
  'regexp_like',
  'regexp_replace',
  'json_value',
  'split_index',
  'split_part',
]);

function andOf(parts: readonly Expr[]): Expr {
  return parts.reduce((left, right) => ({ kind: 'binary', op: 'and', left, right, start: 0, end: 0 }));
}

/** Whether `e` is worth sharing: a call of a costly deterministic function that reads a field. */
function shareable(e: Expr): boolean {
  if (e.kind !== 'call' || e.star || e.distinct || !COSTLY.has(e.name)) return false;
  const reads = (x: Expr): boolean => x.kind === 'field' || childrenOf(x).some(reads);
  return reads(e);
}

/** The texts of the shareable calls `e` evaluates whenever it is evaluated. */
function alwaysEvaluated(e: Expr, out: Set<string>): Set<string> {
  if (shareable(e)) out.add(formatExpression(e));
  if (e.kind === 'binary' && (e.op === 'and' || e.op === 'or')) return alwaysEvaluated(e.left, out);
  if (e.kind === 'case') {
    alwaysEvaluated(e.operand ?? e.whens[0].condition, out);
    return out;
  }
  if (e.kind === 'call' && LAZY.has(e.name)) {
    if (e.args.length > 0) alwaysEvaluated(e.args[0], out);
    return out;
  }
  for (const c of childrenOf(e)) alwaysEvaluated(c, out);
  return out;
}

/** The texts of the shareable calls anywhere in `e`. */
function calls(e: Expr, out: Set<string>): Set<string> {
  if (shareable(e)) out.add(formatExpression(e));
  for (const c of childrenOf(e)) calls(c, out);
  return out;
}

/** `e` with each call whose text `names` maps replaced by that field. */
function replaced(e: Expr, names: ReadonlyMap<string, string>): Expr {
  const name = e.kind === 'call' ? names.get(formatExpression(e)) : undefined;
  if (name !== undefined) return { kind: 'field', name, start: e.start, end: e.end };
  return mapChildren(e, (c) => replaced(c, names));
}

function fieldNames(e: Expr, out: Set<string>): Set<string> {
  if (e.kind === 'field') out.add(e.name);
  for (const c of childrenOf(e)) fieldNames(c, out);
  return out;
}

/**
 * Rewrites each filter and the projection reading it alone (`select` and `fields`) so that the
 * calls both compute are computed once; returns whether it changed anything. In place.
 */
export function shareExpressions(steps: Step[], sinks: readonly { readonly input: string }[]): boolean {
  const readers = (id: string) =>
    steps.filter((s) => s.inputs.includes(id)).length + sinks.filter((k) => k.input === id).length;
  const ids = new Set(steps.map((s) => s.id));
  let changed = false;
  for (let i = 0; i < steps.length; i++) {
    const map = steps[i];
    const c = map.config as { select?: unknown; fields?: unknown; drop?: unknown };
    if (map.type !== 'map' || map.inputs.length !== 1 || !Array.isArray(c.select)) continue;
    if (Array.isArray(c.drop) && c.drop.length > 0) continue;
    const at = steps.findIndex((s) => s.id === map.inputs[0]);
    if (at < 0) continue;
    const filter = steps[at];
    const fc = filter.config as { where?: unknown };
    const where = fc.where;
    if (filter.type !== 'filter' || typeof where !== 'string' || Object.keys(fc).length !== 1) continue;
    if (filter.inputs.length !== 1 || readers(filter.id) !== 1) continue;
    const fields = Object.entries((c.fields ?? {}) as { [name: string]: string }).map(
      ([n, t]): [string, Expr] => [n, parseExpression(t)],
    );
    const computed = new Set<string>();
    for (const [, e] of fields) calls(e, computed);
    const parts = conjuncts(parseExpression(where));
    // The first conjunct that always computes a call the projection computes too.
    let first = -1;
    let shared: string[] = [];
    for (const [j, part] of parts.entries()) {
      shared = [...alwaysEvaluated(part, new Set())].filter((t) => computed.has(t));
      if (shared.length > 0) {
        first = j;
        break;
      }
    }
    if (first < 0) continue;
    const used = new Set<string>(c.select as string[]);
    for (const part of parts) fieldNames(part, used);
    for (const [n, e] of fields) fieldNames(e, used.add(n));
    const names = new Map<string, string>();
    let n = 0;
    for (const text of shared) {
      let name = `_shared_${++n}`;
      while (used.has(name)) name = `_shared_${++n}`;
      names.set(text, name);
    }
    const unique = (id: string) => {
      let out = id;
      for (let k = 2; ids.has(out); k++) out = `${id}-${k}`;
      ids.add(out);
      return out;
    };
    const before = parts.slice(0, first);
    const after = parts.slice(first).map((p) => replaced(p, names));
    const sharing: Step = {
      id: unique(`${filter.id}-shared`),
      type: 'map',
      inputs: before.length > 0 ? [filter.id] : [...filter.inputs],
      config: { fields: Object.fromEntries([...names].map(([text, name]) => [name, text])) },
    };
    const rest: Step = {
      id: before.length > 0 ? unique(`${filter.id}-rest`) : filter.id,
      type: 'filter',
      inputs: [sharing.id],
      config: { where: formatExpression(andOf(after)) },
    };
    const projection: Step = {
      ...map,
      inputs: [rest.id],
      config: {
        ...c,
        fields: Object.fromEntries(fields.map(([f, e]) => [f, formatExpression(replaced(e, names))])),
      },
    };
    steps[i] = projection;
    if (before.length > 0) {
      steps[at] = { ...filter, config: { where: formatExpression(andOf(before)) } };
      steps.splice(at + 1, 0, sharing, rest);
    } else steps.splice(at, 1, sharing, rest);
    changed = true;
    i = -1;
  }
  return changed;
}
