/**
 * Fuses the `filter` and `map` steps the planner writes one after another (a view's projection,
 * then the query's filter and projection over it; Nexmark's DDL computing a column for every
 * event) into as few steps as a hand-written YAML pipeline has: a filter whose input is a
 * projection moves before it (its columns replaced by what the projection computes them from),
 * two filters in a row become one (`a AND b`), and two maps in a row one map (the later one's
 * columns replaced by the earlier one's expressions), so a column no one reads is never computed.
 *
 * Only steps read by nothing else are fused, and only where an expression is not computed twice:
 * a filter moves before a projection, or a map into the one before it, when each column it reads
 * is a copy of a field (`bid.auction`, `price`) or, for maps, an expression it reads once. Maps
 * and filters keep no state, so their ids may change hands: the step that stays downstream keeps
 * the downstream id, and what read it still does. As Flink's optimizer, this drops the
 * computation of unread columns: a record on which such an expression would fail is no longer a
 * dead letter, and one a moved filter drops is counted as filtered rather than failed.
 */

import { childrenOf, type Expr, formatExpression, mapChildren, parseExpression } from '@sluice/core';
import { type MapConfig, mapConfig, type Step, whereOf } from './plan-steps.ts';

/** What each output column of a map is, as an expression over the map's input. */
function columnsOf(map: MapConfig): Map<string, Expr> {
  const columns = new Map<string, Expr>();
  for (const name of map.select) columns.set(name, { kind: 'field', name, start: 0, end: 0 });
  for (const [name, text] of Object.entries(map.fields)) columns.set(name, parseExpression(text));
  return columns;
}

/** A copy of a field or of a member of one: free to compute again. */
function isCopy(e: Expr): boolean {
  return e.kind === 'field' || (e.kind === 'member' && isCopy(e.object));
}

/** The field references of `e`. */
function fieldNames(e: Expr, out: string[] = []): string[] {
  if (e.kind === 'field') out.push(e.name);
  for (const c of childrenOf(e)) fieldNames(c, out);
  return out;
}

/**
 * `e` with each field replaced by the expression of that column; undefined when it reads a
 * column the map does not give (the step would fail on every record: left for the plan check).
 */
function substitute(e: Expr, columns: ReadonlyMap<string, Expr>): Expr | undefined {
  let missing = false;
  const visit = (x: Expr): Expr => {
    if (x.kind === 'field') {
      const column = columns.get(x.name);
      if (column === undefined) missing = true;
      return column ?? x;
    }
    return mapChildren(x, visit);
  };
  const out = visit(e);
  return missing ? undefined : out;
}

function and(a: string, b: string): string {
  return formatExpression({
    kind: 'binary',
    op: 'and',
    left: parseExpression(a),
    right: parseExpression(b),
    start: 0,
    end: 0,
  });
}

/**
 * Gives each reader of a shared map its own copy when every reader is a filter that would move
 * before it (each column the filter reads a copy of a field): the copies then fuse one by one,
 * so each table of a source read through shared computed columns filters first and computes its
 * columns for its own records only. Nexmark's `datagen` table computes `dateTime` with a CASE for
 * every event, and q3, q4, q9 and q20 read both its `auction` and its `bid` (or `person`) views:
 * the CASE ran for every event before either view's filter, where now it runs after (and
 * `implied.ts` decides it). Flink's optimizer gets there by pushing each view's filter into its
 * own scan of the source.
 */
function unshareMaps(steps: Step[], sinks: readonly { readonly input: string }[]): void {
  for (const map of [...steps]) {
    const config = mapConfig(map);
    if (config === undefined || map.inputs.length !== 1 || sinks.some((k) => k.input === map.id)) continue;
    const readers = steps.filter((s) => s.inputs.includes(map.id));
    if (readers.length < 2) continue;
    const columns = columnsOf(config);
    const moves = (reader: Step) => {
      const where = whereOf(reader);
      if (where === undefined || reader.inputs.length !== 1) return false;
      return fieldNames(parseExpression(where)).every((n) => {
        const column = columns.get(n);
        return column !== undefined && isCopy(column);
      });
    };
    if (!readers.every(moves)) continue;
    const at = steps.indexOf(map);
    for (const [k, reader] of readers.entries()) {
      if (k === 0) continue;
      const id = uniqueId(`${map.id}-${k + 1}`, steps);
      steps.splice(at + k, 0, { ...map, id });
      const r = steps.indexOf(reader);
      steps[r] = { ...reader, inputs: [id] };
    }
  }
}

/** `id`, or `id-2`, `id-3`, … when a step has it already. */
function uniqueId(id: string, steps: readonly Step[]): string {
  let out = id;
  for (let n = 2; steps.some((s) => s.id === out); n++) out = `${id}-${n}`;
  return out;
}

/** Fuses the plan's steps in place; see the file comment. */
export function fuseSteps(steps: Step[], sinks: readonly { readonly input: string }[]): void {
  unshareMaps(steps, sinks);
  const readers = (id: string) =>
    steps.filter((s) => s.inputs.includes(id)).length + sinks.filter((k) => k.input === id).length;
  for (let changed = true; changed; ) {
    changed = false;
    for (const [i, step] of steps.entries()) {
      if (step.inputs.length !== 1) continue;
      const at = steps.findIndex((s) => s.id === step.inputs[0]);
      if (at < 0) continue;
      const before = steps[at];
      if (before.inputs.length !== 1 || readers(before.id) !== 1) continue;
      const fused = fuse(step, before);
      if (fused === undefined) continue;
      steps[i] = fused.step;
      if (fused.before === undefined) steps.splice(at, 1);
      else steps[at] = fused.before;
      changed = true;
      break;
    }
  }
}

/**
 * `step` fused with `before`, the one step it reads: the step that replaces it, and the one that
 * replaces `before` (undefined: `before` goes); undefined when they do not fuse.
 */
function fuse(step: Step, before: Step): { step: Step; before?: Step } | undefined {
  const where = whereOf(step);
  const earlier = whereOf(before);
  if (where !== undefined && earlier !== undefined)
    return { step: { ...step, config: { where: and(earlier, where) }, inputs: [...before.inputs] } };
  const map = mapConfig(before);
  if (map === undefined) return undefined;
  const columns = columnsOf(map);
  if (where !== undefined) {
    const condition = parseExpression(where);
    if (!fieldNames(condition).every((n) => columns.has(n) && isCopy(columns.get(n) as Expr)))
      return undefined;
    const moved = substitute(condition, columns);
    if (moved === undefined) return undefined;
    // The filter goes first, under the map's id; the map follows under the filter's.
    return {
      before: { ...before, type: step.type, config: { where: formatExpression(moved) } },
      step: { ...step, type: before.type, config: before.config },
    };
  }
  const later = mapConfig(step);
  if (later === undefined) return undefined;
  const texts: [string, Expr][] = [
    ...later.select.map((n): [string, Expr] => [n, { kind: 'field', name: n, start: 0, end: 0 }]),
    ...Object.entries(later.fields).map(([n, t]): [string, Expr] => [n, parseExpression(t)]),
  ];
  const reads = new Map<string, number>();
  for (const [, e] of texts) for (const n of fieldNames(e)) reads.set(n, (reads.get(n) ?? 0) + 1);
  for (const [n, count] of reads) {
    const column = columns.get(n);
    if (column === undefined || (count > 1 && !isCopy(column))) return undefined;
  }
  const output = texts.map(([n, e]): [string, Expr] => [n, substitute(e, columns) as Expr]);
  // Leading columns that are the input's fields of the same names stay `select`, the rest `fields`.
  let lead = 0;
  while (lead < output.length) {
    const [n, e] = output[lead];
    if (e.kind !== 'field' || e.name !== n) break;
    lead++;
  }
  const config = {
    select: output.slice(0, lead).map(([n]) => n),
    fields: Object.fromEntries(output.slice(lead).map(([n, e]) => [n, formatExpression(e)])),
  };
  return { step: { ...step, config, inputs: [...before.inputs] } };
}
