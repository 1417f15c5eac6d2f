/**
 * Flink's OVER aggregates — `SELECT …, agg(x) OVER (PARTITION BY k ORDER BY ts ROWS|RANGE
 * BETWEEN … PRECEDING AND CURRENT ROW) FROM t` — planned to the engine's `over_aggregate` step,
 * then the query's select list over its output.
 */

import { type Expr, formatDuration, formatName } from '@sluice/core';
import type { Over, Select, SelectItem } from './ast.ts';
import { hasAggregate, type Target } from './projection.ts';
import type { QueryPlanner, Relation } from './query-planner.ts';

/** Whether `e` is `ROW_NUMBER()`, whose OVER is planned as top-N or deduplication. */
export function isRowNumber(e: Expr): boolean {
  return e.kind === 'call' && e.name === 'row_number' && e.args.length === 0;
}

/** Whether a query holds an OVER aggregate (an OVER after anything but ROW_NUMBER()). */
export function hasOverAggregate(q: Select): boolean {
  return (q.items ?? []).some((i) => i.over !== undefined && !isRowNumber(i.expr));
}

/** The window as text, to tell whether two OVER clauses are the same. */
function windowText(o: Over): string {
  return JSON.stringify([
    o.partitionBy.map((k) => k.text),
    o.orderBy.map((t) => [t.text, t.descending]),
    o.frame === undefined ? ['range', 'unbounded'] : [o.frame.unit, o.frame.preceding],
  ]);
}

/**
 * Plans a query with OVER aggregates: its WHERE, an `over_aggregate` step adding each aggregate
 * as a hidden column, then the select list over that (the aggregates read from their columns).
 */
export function planOver(p: QueryPlanner, q: Select, id: string, target: Target | undefined): Relation {
  const items = q.items ?? [];
  const overs = items.filter((i) => i.over !== undefined && !isRowNumber(i.expr));
  const first = overs[0].over as Over;
  const rowNumber = items.find((i) => i.over !== undefined && isRowNumber(i.expr));
  if (rowNumber !== undefined)
    p.fail(
      rowNumber.expr.start,
      'ROW_NUMBER() and OVER aggregates in one query: compute the aggregates in a view or subquery, and number its rows in the query over it',
    );
  if (q.groupBy !== undefined)
    p.fail(
      q.groupBy[0].expr.start,
      'OVER aggregates give one row per input row, so a query with GROUP BY cannot hold them: group in a view or subquery, and aggregate over its rows',
    );
  const plain = items.find((i) => i.over === undefined && hasAggregate(i.expr));
  if (plain !== undefined)
    p.fail(
      plain.expr.start,
      'an aggregate without OVER in a query with OVER aggregates: give it the same OVER window, or group in a view',
    );
  if (q.having !== undefined)
    p.fail(
      q.having.expr.start,
      'HAVING filters groups, and a query with OVER aggregates has none: filter in a query around it',
    );
  if (q.from.kind !== 'table')
    p.fail(
      first.start,
      'OVER aggregates read a table, view or subquery: put the window table function, join or model in a view, and aggregate over its rows',
    );
  for (const o of overs.slice(1))
    if (windowText(o.over as Over) !== windowText(first))
      p.fail(
        (o.over as Over).start,
        'the OVER aggregates of a query share one window on a stream, as in Flink: give them the same PARTITION BY, ORDER BY and frame (e.g. WINDOW w AS (…) and OVER w)',
      );
  const name = q.from.name;
  const where = `'${name.text}'`;
  const input = p.relation(name);
  if (input.updating)
    p.fail(
      first.start,
      `OVER aggregates take an append-only stream, and this one is updating: ${input.updating.reason}`,
    );
  const time = orderTime(p, first, input, where);
  for (const k of first.partitionBy) p.checkColumns(k.expr, input.columns, where);
  let ref = input.ref;
  if (q.where !== undefined) {
    p.checkColumns(q.where.expr, input.columns, where);
    if (hasAggregate(q.where.expr))
      p.fail(
        q.where.expr.start,
        'WHERE cannot hold an aggregate: filter the OVER aggregates in a query around this one',
      );
    const step = `${id}-where`;
    p.addStep({ id: step, type: 'filter', inputs: [ref], config: { where: q.where.text } });
    p.locate(step, '', q.where.expr.start);
    p.locate(step, 'where', q.where.expr.start);
    ref = step;
  }
  // Each aggregate in a column of its own that no input column is called, read by the select list.
  let prefix = '_over';
  while (input.columns.some((c) => c.startsWith(prefix))) prefix = `_${prefix}`;
  const fields: { [column: string]: string } = {};
  const step = `${id}-over`;
  const hidden = new Map<SelectItem, string>();
  const taken = new Set(input.columns);
  for (const item of overs) {
    p.checkColumns(item.expr, input.columns, where);
    // Named after its alias (or the INSERT's column) where that names no other column, as a YAML
    // pipeline would write it.
    const starred = q.items === undefined || q.starWith ? input.columns.length : 0;
    const alias = item.alias?.text ?? target?.columns[starred + items.indexOf(item)];
    const column =
      alias !== undefined && !taken.has(alias) && !alias.startsWith(prefix)
        ? alias
        : `${prefix}${hidden.size + 1}`;
    taken.add(column);
    hidden.set(item, column);
    fields[column] = item.text;
  }
  const frame = first.frame;
  const config = {
    ...(first.partitionBy.length > 0 ? { key: first.partitionBy.map((k) => k.text) } : {}),
    ...(time === 'processing' ? { time } : {}),
    ...(frame === undefined
      ? {}
      : frame.unit === 'rows'
        ? { rows: frame.preceding }
        : { range: frame.preceding === 'unbounded' ? 'unbounded' : formatDuration(frame.preceding) }),
    fields,
  };
  p.addStep({ id: step, type: 'over_aggregate', inputs: [ref], config });
  p.locate(step, '', first.start);
  if (frame !== undefined) p.locate(step, frame.unit, frame.start);
  for (const [item, column] of hidden) p.locate(step, `fields.${column}`, item.expr.start);
  const over: Relation = {
    ref: step,
    columns: [...input.columns, ...hidden.values()],
    ...(input.timeColumn !== undefined ? { timeColumn: input.timeColumn } : {}),
    ...(input.procTimeColumn !== undefined ? { procTimeColumn: input.procTimeColumn } : {}),
    fromSource: input.fromSource,
  };
  // `*` stands for the input's columns, not the hidden ones.
  const star: SelectItem[] =
    q.items === undefined || q.starWith ? input.columns.map((c) => column(c, q.start)) : [];
  const selected = items.map((item, i): SelectItem => {
    const at = hidden.get(item);
    if (at === undefined) return item;
    const alias = item.alias ?? {
      text: p.nameOf(item.expr, star.length + i, target),
      start: item.expr.start,
    };
    return { ...column(at, item.expr.start, item.expr.end), alias };
  });
  const { where: _, starWith: __, ...rest } = q;
  return p.withRelation(name.text, over, () =>
    p.select({ ...rest, items: [...star, ...selected], from: { kind: 'table', name } }, id, target),
  );
}

/** A select item reading column `name`. */
function column(name: string, start: number, end = start): SelectItem {
  return { expr: { kind: 'field', name, start, end }, text: formatName(name) };
}

/** Whether the window is ordered by event time or processing time; fails for any other order. */
function orderTime(p: QueryPlanner, over: Over, input: Relation, where: string): 'event' | 'processing' {
  const shape =
    input.timeColumn !== undefined ? `ORDER BY ${formatName(input.timeColumn)}` : 'ORDER BY PROCTIME()';
  if (over.orderBy.length !== 1)
    p.fail(
      over.orderBy.length === 0 ? over.start : over.orderBy[1].expr.start,
      `an OVER window on a stream is ordered by one time attribute, as in Flink: ${shape}`,
    );
  const term = over.orderBy[0];
  const e = term.expr;
  const processing =
    (e.kind === 'call' && e.name === 'proctime' && e.args.length === 0) ||
    (e.kind === 'field' && e.name === input.procTimeColumn);
  const event = e.kind === 'field' && e.name === input.timeColumn;
  if (!processing && !event)
    p.fail(
      e.start,
      input.timeColumn !== undefined
        ? `an OVER window on a stream is ordered by a time attribute, as in Flink: ${shape} (the event time of ${where}, its WATERMARK FOR) or a PROCTIME() column`
        : `an OVER window on a stream is ordered by a time attribute, and ${where} has no event time: declare WATERMARK FOR <column> AS <column> - INTERVAL 'n' SECOND in its CREATE TABLE, or order by PROCTIME()`,
    );
  if (term.descending)
    p.fail(
      e.start,
      `an OVER window on a stream is ordered by ascending time, as in Flink: ${shape} (or ASC)`,
    );
  return processing ? 'processing' : 'event';
}
