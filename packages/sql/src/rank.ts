/**
 * Flink's ROW_NUMBER() patterns: top-N and deduplication over a subquery that numbers its rows,
 * planned to the engine's `top_n` and `deduplicate` steps, or — partitioned by a window's bounds —
 * to `window_top_n` (Flink's window top-N and window deduplication).
 */

import { type Expr, formatExpression, formatName } from '@sluice/core';
import type { Over, Select, SelectItem, TableRef } from './ast.ts';
import { isRowNumber } from './over.ts';
import { fieldsOf, hasAggregate, type Target } from './projection.ts';
import type { QueryPlanner, Relation } from './query-planner.ts';

const WINDOW_BOUNDS = ['window_start', 'window_end'] as const;

/**
 * Flink's top-N and deduplication: `SELECT … FROM (SELECT …, ROW_NUMBER() OVER (PARTITION BY k
 * ORDER BY o) AS rn FROM t) WHERE rn <= N`. Ordered by the event-time column or PROCTIME()
 * alone, with `rn = 1` and the row number not selected, it is a `deduplicate` (ASC keeps the
 * first row, DESC the last); otherwise a `top_n`, which writes the row number into `rn` when
 * the outer query selects it (so rows whose rank moves are updated, as in Flink).
 */
export function planRank(
  p: QueryPlanner,
  outer: Select,
  ref: TableRef,
  id: string,
  target: Target | undefined,
): Relation {
  const inner = ref.query as Select;
  const items = inner.items ?? [];
  const overs = items.filter((i) => i.over !== undefined && isRowNumber(i.expr));
  if (overs.length > 1) p.fail(overs[1].expr.start, 'a query can hold one ROW_NUMBER() OVER (…)');
  const item = overs[0];
  let over = item.over as Over;
  if (item.alias === undefined)
    p.fail(item.expr.start, 'name the row number with AS, e.g. ROW_NUMBER() OVER (…) AS rn');
  const rn = item.alias.text;
  if (
    inner.groupBy !== undefined ||
    items.some((i) => i.over === undefined && hasAggregate(i.expr)) ||
    inner.distinct
  )
    p.fail(
      inner.start,
      'ROW_NUMBER() ranks the rows of a query without GROUP BY or DISTINCT: aggregate in a view or subquery first, and rank its rows',
    );
  const rest = items.filter((i) => i !== item);
  const plain: Select = inner.starWith
    ? (() => {
        if (rest.length > 0)
          p.fail(
            rest[0].expr.start,
            'with SELECT *, ROW_NUMBER() … list no other column: list them all instead of *',
          );
        const { items: _, starWith: __, ...others } = inner;
        return others;
      })()
    : { ...inner, items: rest };
  const input = p.query(plain, `${id}-${ref.name.text}`);
  if (input.updating)
    p.fail(
      over.start,
      `ROW_NUMBER() ranks an append-only stream, and this one is updating: ${input.updating.reason}`,
    );
  if (inner.from.kind === 'join') over = joinedOver(p, over, plain.items ?? [], input.columns);
  const where = `the query of ROW_NUMBER()`;
  for (const k of over.partitionBy) p.checkColumns(k.expr, input.columns, where);
  for (const o of over.orderBy)
    if (!(o.expr.kind === 'call' && o.expr.name === 'proctime')) p.checkColumns(o.expr, input.columns, where);
  if (outer.where === undefined)
    p.fail(
      outer.start,
      `ROW_NUMBER() is planned as top-N or deduplication: keep the first rows with WHERE ${rn} <= N (or ${rn} = 1)`,
    );
  const n = rowLimit(p, outer.where.expr, rn);
  const selected =
    outer.items === undefined ||
    outer.items.some((i) => fieldsOf(i.expr).some((f) => f.kind === 'field' && f.name === rn));
  const term = over.orderBy.length === 1 ? over.orderBy[0] : undefined;
  const proctime = over.orderBy.find((o) => o.expr.kind === 'call' && o.expr.name === 'proctime');
  const byTime =
    term !== undefined &&
    (term === proctime || (term.expr.kind === 'field' && term.expr.name === input.timeColumn));
  const key = over.partitionBy.length > 0 ? { key: over.partitionBy.map((p) => p.text) } : {};
  let step: string;
  let columns = input.columns;
  // Flink's window top-N (and window deduplication): partitioned by the window's bounds, one
  // final result per window when it closes, its state dropped as windows pass.
  const bound = (k: { expr: Expr }) =>
    k.expr.kind === 'field' && (k.expr.name === 'window_start' || k.expr.name === 'window_end');
  const windowed =
    proctime === undefined &&
    WINDOW_BOUNDS.every((b) => input.columns.includes(b)) &&
    WINDOW_BOUNDS.every((b) => over.partitionBy.some((k) => k.expr.kind === 'field' && k.expr.name === b));
  const orderBy = over.orderBy.map((o) => (o.descending ? `${o.text} DESC` : o.text));
  if (windowed) {
    step = `${id}-window-top-n`;
    const others = over.partitionBy.filter((k) => !bound(k));
    // Window deduplication keeping the last row: of two rows at one time, the later arrival (Flink).
    const last = byTime && term.descending && n === 1;
    const config = {
      ...(others.length > 0 ? { key: others.map((k) => k.text) } : {}),
      order_by: orderBy,
      n,
      ...(selected ? { rank_field: rn } : {}),
      ...(last ? { ties: 'later' } : {}),
    };
    p.addStep({ id: step, type: 'window_top_n', inputs: [input.ref], config });
  } else if (byTime && n === 1 && !selected) {
    step = `${id}-deduplicate`;
    const config = {
      ...key,
      keep: term.descending ? 'last' : 'first',
      time: term === proctime ? 'processing' : 'event',
    };
    p.addStep({ id: step, type: 'deduplicate', inputs: [input.ref], config });
  } else {
    if (proctime !== undefined)
      p.fail(
        proctime.expr.start,
        `ORDER BY PROCTIME() is planned for deduplication only: ORDER BY PROCTIME() alone, WHERE ${rn} = 1, and ${rn} not selected`,
      );
    step = `${id}-top-n`;
    const config = { ...key, order_by: orderBy, n, ...(selected ? { rank_field: rn } : {}) };
    p.addStep({ id: step, type: 'top_n', inputs: [input.ref], config });
  }
  if (selected && !step.endsWith('-deduplicate')) {
    // The step writes the rank last; the query has it where ROW_NUMBER() stands.
    const at = inner.starWith ? input.columns.length : items.indexOf(item);
    columns = [...input.columns.slice(0, at), rn, ...input.columns.slice(at)];
    if (at < input.columns.length)
      step = p.project(
        columns.map((c) => ({ name: c, copies: c, text: formatName(c), start: item.expr.start })),
        `${id}-rank`,
        step,
      );
  }
  p.locate(step, '', over.start);
  const ranked: Relation = {
    ref: step,
    columns,
    ...(input.timeColumn ? { timeColumn: input.timeColumn } : {}),
    fromSource: false,
  };
  const { where: _, ...around } = outer;
  return p.withRelation(ref.name.text, ranked, () =>
    p.select({ ...around, from: { kind: 'table', name: ref.name } }, id, target),
  );
}

/**
 * The OVER clause of a ROW_NUMBER() over a join (Nexmark q9: `PARTITION BY A.id ORDER BY B.price
 * DESC`) in the join's output columns: `t.col` is the column of the select item that reads it
 * (its alias, as `B.dateTime AS bid_dateTime`), or `col` when `t.*` is selected.
 */
function joinedOver(
  p: QueryPlanner,
  over: Over,
  items: readonly SelectItem[],
  columns: readonly string[],
): Over {
  const term = <T extends { expr: Expr; text: string }>(x: T): T => {
    const e = x.expr;
    if (e.kind !== 'member' || e.object.kind !== 'field') return x;
    const qualifier = e.object.name;
    const text = formatExpression(e);
    const item = items.find((i) => i.star === undefined && formatExpression(i.expr) === text);
    const name =
      item !== undefined
        ? (item.alias?.text ?? e.name)
        : items.some((i) => i.star?.text === qualifier)
          ? e.name
          : undefined;
    if (name === undefined || !columns.includes(name))
      return p.fail(
        e.start,
        `ROW_NUMBER() over a join ranks by the columns its query selects: select ${text} (or ${qualifier}.*) in it`,
      );
    return { ...x, expr: { kind: 'field', name, start: e.start, end: e.end }, text: formatName(name) };
  };
  return { ...over, partitionBy: over.partitionBy.map(term), orderBy: over.orderBy.map(term) };
}

/** N of `rn <= N`, `rn < N + 1` or `rn = 1` (either side), the only filters of a row number planned. */
export function rowLimit(p: QueryPlanner, e: Expr, rn: string): number {
  const shape = `write WHERE ${rn} <= N (top-N) or WHERE ${rn} = 1`;
  if (e.kind === 'binary') {
    const flipped: { [op: string]: string } = { '<=': '>=', '<': '>', '=': '=', '>=': '<=', '>': '<' };
    const [op, column, bound] =
      e.left.kind === 'field' && e.left.name === rn
        ? [e.op, e.left, e.right]
        : e.right.kind === 'field' && e.right.name === rn
          ? [flipped[e.op], e.right, e.left]
          : [undefined, undefined, undefined];
    if (
      column !== undefined &&
      bound.kind === 'literal' &&
      typeof bound.value === 'number' &&
      Number.isInteger(bound.value)
    ) {
      const n =
        op === '<='
          ? bound.value
          : op === '<'
            ? bound.value - 1
            : op === '=' && bound.value === 1
              ? 1
              : undefined;
      if (n !== undefined && n >= 1) return n;
    }
  }
  return p.fail(
    e.start,
    `the filter of a row number must keep its first rows: ${shape}, and filter other columns in a query around it`,
  );
}
