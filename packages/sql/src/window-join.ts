/**
 * Flink's window join: two window table functions' rows joined on their windows' bounds and a
 * key (`FROM (SELECT * FROM TABLE(TUMBLE(TABLE l, DESCRIPTOR(t), size))) L JOIN (… r …) R ON
 * L.window_start = R.window_start AND L.window_end = R.window_end AND L.k = R.k`), planned as
 * the `join` step with `window`: each input's records as they are (the step puts them in their
 * windows), each window's pairs written once when the watermark passes its end, and its state
 * dropped then. The bounds the query reads (`L.window_start`, …) are the pair's; an outer join's
 * missing side reads them as NULL, as in Flink.
 */

import { type Expr, formatDuration, formatName } from '@sluice/core';
import { WINDOW_COLUMNS, WINDOW_TIME } from './aggregate.ts';
import type { JoinTable, Select, SelectItem, TableRef, WindowTable } from './ast.ts';
import { conjuncts } from './plan-steps.ts';
import { fieldsOf, hasAggregate } from './projection.ts';
import type { QueryPlanner, Relation } from './query-planner.ts';

/** A bound of a window table function's rows. */
export type Bound = 'window_start' | 'window_end' | 'window_time';

const BOUNDS: readonly string[] = [...WINDOW_COLUMNS, WINDOW_TIME];
const FUNCTIONS = { tumbling: 'TUMBLE', hopping: 'HOP', session: 'SESSION', cumulative: 'CUMULATE' } as const;

/** An input written as a window table function's rows (a subquery, common table or view). */
interface WindowView {
  readonly window: WindowTable;
  /** The columns the query reads the bounds by (`window_start`, or an alias) → the bound. */
  readonly bounds: ReadonlyMap<string, Bound>;
  /** The same query over the table itself: its records without windows, less the bounds. */
  readonly rows: Select;
  readonly plan: (q: Select, id: string) => Relation;
}

/** The inputs of a window join, planned, and the step's `window`. */
export interface WindowJoin {
  /** Each input's records; its columns include the bounds the query reads. */
  readonly relations: readonly [Relation, Relation];
  readonly bounds: readonly [ReadonlyMap<string, Bound>, ReadonlyMap<string, Bound>];
  readonly window: { readonly [key: string]: string };
  /** Offset of the left input's window table function. */
  readonly at: number;
  /** The conjuncts of ON that equate the bounds (the step's `window` does it). */
  readonly equalities: ReadonlySet<Expr>;
}

/**
 * `ref` as a window table function's rows: a query of `TABLE(TUMBLE|HOP|CUMULATE|SESSION(…))`
 * without grouping, that selects the bounds as they are (if at all) and filters on other
 * columns. Anything else (undefined) is joined as a table.
 */
function windowView(p: QueryPlanner, ref: TableRef): WindowView | undefined {
  const view = p.viewQuery(ref.name);
  const q = view?.select;
  if (q === undefined || view === undefined || q.from.kind !== 'window') return undefined;
  if (q.unionAll || q.with || q.distinct || q.groupBy || q.having) return undefined;
  const readsBound = (e: Expr) => fieldsOf(e).some((f) => f.kind === 'field' && BOUNDS.includes(f.name));
  if (q.where && readsBound(q.where.expr)) return undefined;
  const bounds = new Map<string, Bound>();
  const items: SelectItem[] = [];
  for (const item of q.items ?? []) {
    if (item.over !== undefined || hasAggregate(item.expr)) return undefined;
    const e = item.expr;
    if (e.kind === 'field' && BOUNDS.includes(e.name))
      bounds.set(item.alias?.text ?? e.name, e.name as Bound);
    else if (readsBound(e)) return undefined;
    else items.push(item);
  }
  if (q.items === undefined || q.starWith) for (const b of BOUNDS) bounds.set(b, b as Bound);
  const from: TableRef = { kind: 'table', name: q.from.table };
  const rows: Select = { ...q, from, ...(q.items === undefined ? {} : { items }) };
  return { window: q.from, bounds, rows, plan: view.plan };
}

function describe(w: WindowTable): string {
  const f = FUNCTIONS[w.type];
  const size = formatDuration(w.size);
  if (w.type === 'hopping') return `${f} with slide ${formatDuration(w.slide ?? w.size)} and size ${size}`;
  if (w.type === 'cumulative')
    return `${f} with step ${formatDuration(w.slide ?? w.size)} and max_size ${size}`;
  return w.type === 'session' ? `${f} with gap ${size}` : `${f} with size ${size}`;
}

function windowConfig(w: WindowTable): { [key: string]: string } {
  const size = formatDuration(w.size);
  const step = formatDuration(w.slide ?? w.size);
  if (w.type === 'hopping') return { type: 'hopping', size, slide: step };
  if (w.type === 'cumulative') return { type: 'cumulative', size, step };
  return { type: 'tumbling', size };
}

/**
 * The window join `join` is, when both inputs are window table functions' rows and ON equates a
 * bound of each (undefined otherwise: a join as any other); then its inputs are planned, as
 * `<id>-<input name>`. Fails when ON does not equate both window_start and window_end, or when
 * the two windows differ (Flink requires both).
 */
export function planWindowInputs(p: QueryPlanner, join: JoinTable, id: string): WindowJoin | undefined {
  if (join.asOf !== undefined || join.comma) return undefined;
  const refs = [join.left, join.right] as const;
  const views = refs.map((r) => windowView(p, r));
  const [left, right] = views;
  if (left === undefined || right === undefined) return undefined;
  const qualifiers = refs.map((r) => r.alias?.text ?? r.name.text);
  const equalities = boundEqualities(
    p,
    join,
    qualifiers,
    [left.bounds, right.bounds],
    [left.window, right.window],
  );
  if (equalities === undefined) return undefined;
  const relations = views.map((v, i) => {
    const w = (v as WindowView).window;
    const base = p.relation(w.table);
    if (base.procTimeColumn !== undefined && base.procTimeColumn === w.timeColumn.text)
      p.fail(
        w.start,
        `a window join is planned over event-time windows: DESCRIPTOR(${w.timeColumn.text}) is a PROCTIME() column`,
      );
    p.checkEventWindow(w, base, `'${w.table.text}'`);
    // `SELECT *` of the table: its records as they are; else the query's filter and columns.
    const { rows } = v as WindowView;
    const planned =
      rows.items === undefined && rows.where === undefined
        ? base
        : (v as WindowView).plan(rows, `${id}-${refs[i].name.text}`);
    const { windowed: _, ...records } = planned;
    const bounds = [...(v as WindowView).bounds.keys()].filter((b) => !planned.columns.includes(b));
    return { ...records, columns: [...planned.columns, ...bounds] };
  });
  return {
    relations: [relations[0], relations[1]],
    bounds: [left.bounds, right.bounds],
    window: windowConfig(left.window),
    at: left.window.start,
    equalities,
  };
}

/**
 * The conjuncts of ON that equate a window bound of each input (`bounds`: each input's columns
 * that are bounds), when there are any (undefined when none: no window join). Fails unless
 * they equate window_start with window_start and window_end with window_end, over the same
 * TUMBLE, HOP or CUMULATE windows.
 */
function boundEqualities(
  p: QueryPlanner,
  join: JoinTable,
  qualifiers: readonly string[],
  bounds: readonly [ReadonlyMap<string, Bound>, ReadonlyMap<string, Bound>],
  windows: readonly [WindowTable, WindowTable],
): Set<Expr> | undefined {
  const boundOf = (e: Expr): { side: number; bound: Bound } | undefined => {
    if (e.kind !== 'member' || e.object.kind !== 'field') return undefined;
    const side = qualifiers.indexOf(e.object.name);
    const bound = bounds[side]?.get(e.name);
    return bound === undefined ? undefined : { side, bound };
  };
  const column = (side: 0 | 1, bound: string) =>
    `${qualifiers[side]}.${[...bounds[side]].find(([, b]) => b === bound)?.[0] ?? bound}`;
  const equated = new Set<Bound>();
  const equalities = new Set<Expr>();
  for (const c of conjuncts(join.on.expr)) {
    if (c.kind !== 'binary' || c.op !== '=') continue;
    const [a, b] = [boundOf(c.left), boundOf(c.right)];
    if (a === undefined || b === undefined || a.side === b.side) continue;
    if (a.bound !== b.bound)
      p.fail(
        c.start,
        `a window join equates each bound with the same bound of the other input: ${column(0, 'window_start')} = ${column(1, 'window_start')} AND ${column(0, 'window_end')} = ${column(1, 'window_end')}`,
      );
    equated.add(a.bound);
    equalities.add(c);
  }
  if (equated.size === 0) return undefined;
  const missing = WINDOW_COLUMNS.find((b) => !equated.has(b as Bound));
  if (missing !== undefined)
    p.fail(
      join.on.expr.start,
      `a window join's ON equates both bounds of the windows (as Flink requires): add ${column(0, missing)} = ${column(1, missing)}`,
    );
  for (const w of windows)
    if (w.type === 'session')
      p.fail(
        w.start,
        'a window join takes TUMBLE, HOP or CUMULATE windows: SESSION windows are formed per key and input, so the two inputs would not share them',
      );
  const [lw, rw] = windows;
  if (lw.type !== rw.type || lw.size !== rw.size || (lw.slide ?? lw.size) !== (rw.slide ?? rw.size))
    p.fail(
      rw.start,
      `a window join joins rows of the same windows, and the two inputs' windows differ: ${describe(lw)} on '${qualifiers[0]}', ${describe(rw)} on '${qualifiers[1]}'; give both the same window table function`,
    );
  return equalities;
}

/**
 * Nexmark q8's form: two window aggregates' results (each with the window it was computed over,
 * `Relation.windowed`) joined on their bounds. Each result's event time is its window's last
 * millisecond, and results of the same windows have the same end; a tumbling window join as long
 * as the windows' slide (step) puts each end in a window of its own, so it joins the results of
 * the same windows. Undefined when the join is not of that form.
 */
export function resultsWindow(
  p: QueryPlanner,
  join: JoinTable,
  relations: readonly [Relation, Relation],
): Omit<WindowJoin, 'relations' | 'bounds'> | undefined {
  if (join.asOf !== undefined || join.comma) return undefined;
  const [left, right] = relations.map((r) => r.windowed);
  if (left === undefined || right === undefined) return undefined;
  const qualifiers = [join.left, join.right].map((r) => r.alias?.text ?? r.name.text);
  const equalities = boundEqualities(
    p,
    join,
    qualifiers,
    [left.bounds, right.bounds],
    [left.window, right.window],
  );
  if (equalities === undefined) return undefined;
  const size = formatDuration(left.window.slide ?? left.window.size);
  return { window: { type: 'tumbling', size }, at: left.window.start, equalities };
}

/**
 * What the join step reads for bound `bound` of input `ref`: the pair's bound; NULL where that
 * input may be missing (`nullable`) and is.
 */
export function boundText(bound: Bound, ref: string, nullable: boolean): string {
  const base = bound === 'window_time' ? '(window_end - 1)' : bound;
  return nullable ? `CASE WHEN ${formatName(ref)} IS NULL THEN NULL ELSE ${base} END` : base;
}
