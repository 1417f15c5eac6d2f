/**
 * Which columns the planner knows to be integers, for Flink's AVG of an integer column: an
 * integer too, the mean truncated toward zero (Flink's AVG returns its argument's type). Known
 * are the INT-family columns of a CREATE TABLE (and their ROW members, by dotted path: `bid.price`)
 * and what copies them through views, subqueries and joins, integer literals, COUNT, and MIN,
 * MAX, SUM, FIRST, LAST and AVG of a known integer. Anything else is not known to be one (an
 * expression, a CAST, a computed column): its AVG stays a double.
 */

import type { Expr } from '@sluice/core';
import type { ColumnDef } from './ast.ts';

const INTEGER_TYPE = /^(TINYINT|SMALLINT|INT|INTEGER|BIGINT)$/i;

/** The top-level `name TYPE` pairs of a `ROW<…>` type's body (nested brackets kept whole). */
function rowMembers(body: string): [string, string][] {
  const members: [string, string][] = [];
  let depth = 0;
  let part = '';
  const push = () => {
    const m = /^\s*`?([A-Za-z_][A-Za-z0-9_]*)`?\s+(.+?)\s*$/s.exec(part);
    if (m) members.push([m[1], m[2]]);
    part = '';
  };
  for (const c of body) {
    if (c === '<' || c === '(') depth++;
    else if (c === '>' || c === ')') depth--;
    if (c === ',' && depth === 0) push();
    else part += c;
  }
  push();
  return members;
}

function collect(path: string, type: string, out: Set<string>): void {
  const t = type.trim().replace(/\s+NOT\s+NULL$/i, '');
  if (INTEGER_TYPE.test(t)) out.add(path);
  const row = /^ROW\s*[<(](.*)[>)]$/is.exec(t);
  if (row) for (const [name, inner] of rowMembers(row[1])) collect(`${path}.${name}`, inner, out);
}

/** The integer columns of a CREATE TABLE, ROW members by dotted path. */
export function integralColumns(columns: readonly ColumnDef[]): Set<string> {
  const out = new Set<string>();
  for (const c of columns) if (!c.computed && !c.metadata) collect(c.name.text, c.type, out);
  return out;
}

/** The dotted path `e` reads (`bid.price`), or undefined when it is no field or member access. */
function pathOf(e: Expr): string | undefined {
  if (e.kind === 'field') return e.name;
  if (e.kind === 'member') {
    const object = pathOf(e.object);
    return object === undefined ? undefined : `${object}.${e.name}`;
  }
  return undefined;
}

const KEEPS_TYPE = new Set(['min', 'max', 'sum', 'first', 'last', 'avg']);

/** Whether `e` is known to give an integer, over input columns `integral`. */
export function isIntegral(e: Expr, integral: ReadonlySet<string> | undefined): boolean {
  if (e.kind === 'literal') return typeof e.value === 'number' && Number.isInteger(e.value);
  if (e.kind === 'call') {
    if (e.name === 'count') return true;
    return KEEPS_TYPE.has(e.name) && e.args.length === 1 && isIntegral(e.args[0], integral);
  }
  const path = pathOf(e);
  return path !== undefined && integral?.has(path) === true;
}

/** `avg(x)` of an integer `x`, whose result the projection truncates toward zero. */
export function isIntegralAvg(e: Expr, integral: ReadonlySet<string> | undefined): boolean {
  return e.kind === 'call' && e.name === 'avg' && e.args.length === 1 && isIntegral(e.args[0], integral);
}

/** The expression text that truncates `field` (a double) toward zero, NULL staying NULL. */
export function truncated(field: string): string {
  return `CASE WHEN ${field} < 0 THEN ceil(${field}) ELSE floor(${field}) END`;
}
