/**
 * Decides the CASE branches a filter has already decided. A map whose one input is a filter sees
 * only records on which the filter's condition is true, so each `column = literal` conjunct of it
 * holds there: a `WHEN column = literal` of the map's expressions is then true or false for every
 * record the map sees, and a CASE whose branches are all decided is just the branch taken.
 *
 * This is what Nexmark's DDL asks of a planner: its tables compute `dateTime` with
 * `CASE WHEN event_type = 0 THEN person.dateTime WHEN event_type = 1 THEN auction.dateTime ELSE
 * bid.dateTime END` for every event, and each view (`bid`, `auction`, `person`) selects it after
 * `WHERE event_type = …`; after fusing (`fuse.ts`) the view's filter and the query's projection are
 * adjacent, and the projection's `dateTime` becomes `bid.dateTime` — what a hand-written pipeline
 * reads. (Flink's optimizer does the like by simplifying expressions under the predicates it has
 * pulled up.)
 *
 * Only equalities of a field (or a member of one) with a non-null number, string or boolean
 * literal are used, and only to decide comparisons of the same field with a literal of the same
 * kind; anything else stays as written.
 */

import { type Expr, formatExpression, mapChildren, type Plan, parseExpression } from '@sluice/core';

type Step = Plan['steps'][number];
type Known = ReadonlyMap<string, number | string | boolean>;

/** A field or a member of one, as a key; undefined for any other expression. */
function pathOf(e: Expr): string | undefined {
  if (e.kind === 'field') return e.name;
  if (e.kind === 'member') {
    const object = pathOf(e.object);
    return object === undefined ? undefined : `${object}.${e.name}`;
  }
  return undefined;
}

/** The `path = literal` conjuncts of a condition. */
function equalities(
  e: Expr,
  out = new Map<string, number | string | boolean>(),
): Map<string, number | string | boolean> {
  if (e.kind === 'binary' && e.op === 'and') {
    equalities(e.left, out);
    equalities(e.right, out);
  } else if (e.kind === 'binary' && e.op === '=') {
    const pair = comparison(e.left, e.right) ?? comparison(e.right, e.left);
    if (pair !== undefined) out.set(pair.path, pair.value);
  }
  return out;
}

function comparison(side: Expr, other: Expr): { path: string; value: number | string | boolean } | undefined {
  const path = pathOf(side);
  if (path === undefined || other.kind !== 'literal' || other.value === null) return undefined;
  return { path, value: other.value };
}

/** Whether `path = value` is true or false where `known` holds; undefined when it is not decided. */
function decide(path: string | undefined, value: Expr, known: Known): boolean | undefined {
  if (path === undefined || value.kind !== 'literal' || value.value === null) return undefined;
  const held = known.get(path);
  if (held === undefined || typeof held !== typeof value.value) return undefined;
  return held === value.value;
}

/** A WHEN condition decided by `known` (searched form: `path = literal`; simple form: the operand's path). */
function decideWhen(condition: Expr, operand: string | null | undefined, known: Known): boolean | undefined {
  if (operand !== null) return decide(operand, condition, known);
  if (condition.kind !== 'binary' || condition.op !== '=') return undefined;
  return (
    decide(pathOf(condition.left), condition.right, known) ??
    decide(pathOf(condition.right), condition.left, known)
  );
}

const NULL: Expr = { kind: 'literal', value: null, start: 0, end: 0 };

/** `e` with the CASE branches `known` decides taken or dropped; `e` itself when it decides none. */
export function simplifyCases(e: Expr, known: Known): Expr {
  let decided = 0;
  const visit = (x: Expr): Expr => {
    const inner = mapChildren(x, visit);
    if (inner.kind !== 'case') return inner;
    const operand = inner.operand === null ? null : pathOf(inner.operand);
    const whens: typeof inner.whens = [];
    for (const when of inner.whens) {
      const taken = decideWhen(when.condition, operand, known);
      if (taken !== undefined) decided++;
      if (taken === false) continue;
      if (taken === true) {
        // Taken whenever no undecided branch before it is: the rest can never be.
        if (whens.length === 0) return when.result;
        return { ...inner, whens, otherwise: when.result };
      }
      whens.push(when);
    }
    if (whens.length === 0) return inner.otherwise ?? NULL;
    return { ...inner, whens };
  };
  const out = visit(e);
  return decided === 0 ? e : out;
}

/**
 * Simplifies, in place, the fields of each map that reads a filter alone (see the file comment);
 * whether it changed any.
 */
export function simplifyUnderFilters(steps: Step[]): boolean {
  let any = false;
  for (const [i, step] of steps.entries()) {
    if (step.type !== 'map' || step.inputs.length !== 1) continue;
    const filter = steps.find((s) => s.id === step.inputs[0]);
    const where = filter?.type === 'filter' ? (filter.config as { where?: unknown }).where : undefined;
    if (typeof where !== 'string') continue;
    const known = equalities(parseExpression(where));
    const config = step.config as { fields?: { [name: string]: unknown } };
    if (known.size === 0 || config.fields === undefined) continue;
    let changed = false;
    const fields: { [name: string]: unknown } = {};
    for (const [name, text] of Object.entries(config.fields)) {
      const before = typeof text === 'string' ? parseExpression(text) : undefined;
      const after = before === undefined ? before : simplifyCases(before, known);
      fields[name] = after === before || after === undefined ? text : formatExpression(after);
      changed ||= after !== before;
    }
    if (changed) steps[i] = { ...step, config: { ...config, fields } };
    any ||= changed;
  }
  return any;
}
