/**
 * GROUP BY and what follows it: the `aggregate` step (with the window of a window table
 * function), HAVING's `filter` after it, and SELECT DISTINCT's `deduplicate`.
 */

import {
  type Expr,
  formatDuration,
  formatExpression,
  formatName,
  isAggregateCall,
  mapChildren,
} from '@sluice/core';
import type { Select } from './ast.ts';
import { isIntegral, isIntegralAvg, truncated } from './integral.ts';
import { fieldsOf, type OutputColumn } from './projection.ts';
import type { QueryPlanner, Relation } from './query-planner.ts';

/** The bounds of a window table function's rows, which a window aggregation groups by. */
export const WINDOW_COLUMNS = ['window_start', 'window_end'];
/** Flink's time attribute of a window result: its last millisecond. */
export const WINDOW_TIME = 'window_time';

/**
 * Flink's cascading window aggregation: a GROUP BY over a window aggregate's results (`input`)
 * whose keys include the columns holding both bounds of the results' windows (Nexmark q5's
 * `SELECT max(num), starttime, endtime FROM CountBids GROUP BY starttime, endtime`). Each result
 * has its window's last millisecond as event time, and no two TUMBLE, HOP or CUMULATE windows
 * share an end, so a tumbling window as long as the windows' slide (step) holds the results of
 * one window each: grouped in it by the same keys, the aggregate gives each group's final row
 * once, when the watermark passes the window's end — the last row the GROUP BY without a window
 * would have updated to. Returns that tumbling window's size, or undefined when `q` is not of
 * that form.
 */
export function cascadedWindow(q: Select, input: Relation): string | undefined {
  const windowed = input.windowed;
  if (windowed === undefined || input.updating !== undefined || q.groupBy === undefined) return undefined;
  const grouped = new Set<string>();
  for (const g of q.groupBy) {
    const bound = g.expr.kind === 'field' ? windowed.bounds.get(g.expr.name) : undefined;
    if (bound !== undefined) grouped.add(bound);
  }
  if (!WINDOW_COLUMNS.every((b) => grouped.has(b))) return undefined;
  return formatDuration(windowed.window.slide ?? windowed.window.size);
}

/**
 * `SELECT DISTINCT`: a `deduplicate` keeping the first row of each combination of all the
 * columns, so a row passes the first time it occurs. Rows equal in every column are one row,
 * so which of them arrives first does not matter, and processing time keeps the output
 * append-only without waiting for a watermark.
 */
export function planDistinct(
  p: QueryPlanner,
  q: Select,
  id: string,
  input: string,
  output: readonly OutputColumn[],
  updating: boolean,
): string {
  if (updating)
    p.fail(
      q.start,
      'SELECT DISTINCT over an updating result (a GROUP BY without a window, or a regular join) is not supported yet: its rows can be retracted',
    );
  const step = `${id}-distinct`;
  p.addStep({
    id: step,
    type: 'deduplicate',
    inputs: [input],
    config: { key: output.map((c) => formatName(c.name)), keep: 'first', time: 'processing' },
  });
  p.locate(step, '', q.start);
  return step;
}

/**
 * The `aggregate` step of a GROUP BY; returns its output columns as the SELECT names them.
 * `cascaded`: the tumbling window of a cascading window aggregation (see `cascadedWindow`).
 */
export function planAggregate(
  p: QueryPlanner,
  q: Select,
  id: string,
  input: string,
  windowed: boolean,
  target: { columns: readonly string[] } | undefined,
  processing = false,
  cascaded?: string,
  integral?: ReadonlySet<string>,
): { ref: string; output: OutputColumn[]; columns: string[] } {
  if (q.items === undefined)
    return p.fail(q.start, 'SELECT * cannot be grouped: list the GROUP BY columns and the aggregates');
  const keys: string[] = [];
  const groupWindow = new Set<string>();
  const step = `${id}-aggregate`;
  (q.groupBy ?? []).forEach((g) => {
    if (g.expr.kind !== 'field')
      p.fail(
        g.expr.start,
        'GROUP BY takes columns; to group by a computed value, compute it in a view first',
      );
    // Over a window table function its bounds are the window's; elsewhere (a view of window
    // results) they are columns like any other.
    if (windowed && (WINDOW_COLUMNS.includes(g.expr.name) || g.expr.name === WINDOW_TIME))
      groupWindow.add(g.expr.name);
    else {
      p.locate(step, `key[${keys.length}]`, g.expr.start);
      keys.push(g.expr.name);
    }
  });
  const window = q.from.kind === 'window' ? q.from : undefined;
  if (window && !WINDOW_COLUMNS.every((c) => groupWindow.has(c)))
    p.fail(
      q.groupBy?.[0]?.expr.start ?? q.start,
      'a window aggregation groups by window_start and window_end: add both to GROUP BY',
    );
  const passing = [...keys, ...(windowed ? WINDOW_COLUMNS : [])];
  const fields: { [name: string]: string } = {};
  /** The fields the select list computes, by their expression's canonical text. */
  const computed = new Map<string, string>();
  const output: OutputColumn[] = [];
  for (const [position, item] of q.items.entries()) {
    const e = item.expr;
    if (e.kind === 'field' && passing.includes(e.name)) {
      output.push({
        name: item.alias?.text ?? e.name,
        copies: e.name,
        text: item.text,
        start: e.start,
        ...(integral?.has(e.name) ? { integral: true } : {}),
      });
      continue;
    }
    if (windowed && e.kind === 'field' && e.name === WINDOW_TIME) {
      // window_time is window_end - 1 ms, the event time the aggregate gives each result;
      // the projection after the aggregate computes it.
      output.push({ name: item.alias?.text ?? WINDOW_TIME, text: 'window_end - 1', start: e.start });
      continue;
    }
    for (const f of fieldsOf(e, [], true))
      if (f.kind === 'field' && f.name === WINDOW_TIME)
        p.fail(f.start, 'window_time can be selected as a column of its own only (it is window_end - 1)');
      else if (f.kind === 'field' && !passing.includes(f.name))
        p.fail(
          f.start,
          `column '${f.name}' is neither in GROUP BY nor inside an aggregate such as first(${f.name})`,
        );
    const name = item.alias?.text ?? p.nameOf(e, position, target);
    if (passing.includes(name) || Object.hasOwn(fields, name))
      p.fail(item.alias?.start ?? e.start, `the query gives two columns named '${name}'; rename one with AS`);
    fields[name] = item.text;
    computed.set(formatExpression(e), name);
    p.locate(step, `fields.${name}`, e.start);
    // Flink's AVG of an integer is an integer: the mean truncated toward zero (by the projection).
    if (isIntegralAvg(e, integral))
      output.push({ name, text: truncated(formatName(name)), start: e.start, integral: true });
    else
      output.push({
        name,
        copies: name,
        text: formatName(name),
        start: e.start,
        ...(isIntegral(e, integral) ? { integral: true } : {}),
      });
  }
  // GROUP BY with no aggregate (the groups themselves, as Nexmark q8 asks): the step needs one
  // field, so it counts the rows, and the projection after it drops the count.
  if (Object.keys(fields).length === 0 && q.having === undefined) {
    let name = '_rows';
    while (passing.includes(name)) name = `_${name}`;
    fields[name] = 'count(*)';
  }
  const config: { [key: string]: unknown } = { ...(keys.length > 0 ? { key: keys } : {}), fields };
  if (window) {
    if (window.type === 'session') {
      // The engine keeps the sessions of each aggregate key, Flink those of each PARTITION BY
      // key: the two agree when they are the same columns.
      const partition = (window.partitionBy ?? []).map((c) => c.text);
      if (partition.length !== keys.length || !partition.every((c) => keys.includes(c)))
        p.fail(
          q.groupBy?.[0]?.expr.start ?? q.start,
          `a SESSION window aggregation groups by the session's PARTITION BY columns (${partition.length > 0 ? partition.join(', ') : 'none'}) and window_start, window_end; GROUP BY ${keys.length > 0 ? keys.join(', ') : 'no other column'} would split or merge the sessions`,
        );
    }
    config.window =
      window.type === 'tumbling'
        ? { type: 'tumbling', size: formatDuration(window.size) }
        : window.type === 'hopping'
          ? {
              type: 'hopping',
              size: formatDuration(window.size),
              slide: formatDuration(window.slide ?? window.size),
            }
          : window.type === 'session'
            ? { type: 'session', gap: formatDuration(window.size) }
            : {
                type: 'cumulative',
                size: formatDuration(window.size),
                step: formatDuration(window.slide ?? window.size),
              };
    // A window over a PROCTIME() column: fired by the clock, each row in the window of the
    // moment it is read.
    if (processing) config.time = 'processing';
    p.locate(step, 'window', window.start);
  } else if (cascaded !== undefined) config.window = { type: 'tumbling', size: cascaded };
  p.addStep({ id: step, type: 'aggregate', inputs: [input], config });
  p.locate(step, '', q.start);
  const ref = q.having ? having(p, q.having.expr, id, step, passing, fields, computed) : step;
  return { ref, output, columns: [...passing, ...Object.keys(fields)] };
}

/**
 * HAVING: a `filter` after the aggregate. Each aggregate call of the condition is a field the
 * select list computes already, or one the aggregate computes for it (named `_having_<n>`,
 * dropped by the projection after); the filter reads those fields and the GROUP BY columns.
 */
export function having(
  p: QueryPlanner,
  condition: Expr,
  id: string,
  input: string,
  passing: readonly string[],
  fields: { [name: string]: string },
  computed: ReadonlyMap<string, string>,
): string {
  for (const f of fieldsOf(condition, [], true))
    if (f.kind === 'field' && !passing.includes(f.name))
      p.fail(
        f.start,
        `HAVING reads column '${f.name}', which is neither in GROUP BY nor inside an aggregate such as max(${f.name})`,
      );
  const aggregate = `${id}-aggregate`;
  let n = 0;
  const replace = (e: Expr): Expr => {
    if (!isAggregateCall(e)) return mapChildren(e, replace);
    const same = computed.get(formatExpression(e));
    if (same !== undefined) return { kind: 'field', name: same, start: e.start, end: e.end };
    let name = `_having_${++n}`;
    while (Object.hasOwn(fields, name) || passing.includes(name)) name = `_having_${++n}`;
    fields[name] = formatExpression(e);
    p.locate(aggregate, `fields.${name}`, e.start);
    return { kind: 'field', name, start: e.start, end: e.end };
  };
  const where = formatExpression(replace(condition));
  const step = `${id}-having`;
  p.addStep({ id: step, type: 'filter', inputs: [input], config: { where } });
  p.locate(step, '', condition.start);
  p.locate(step, 'where', condition.start);
  return step;
}
