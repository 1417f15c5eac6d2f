/**
 * `ORDER BY` and `LIMIT` after a query, in the forms Flink 2.x runs on a stream:
 *
 * - `ORDER BY time [, …]` without LIMIT, the time attribute first and ascending (Flink's temporal
 *   sort): in event time a `sort` step — each row waits for the watermark, rows of one time
 *   ordered by the further terms — append-only; late rows go to the late output. In processing
 *   time (a `PROCTIME()` column) rows already come in that order, so nothing is planned (Flink
 *   orders the rows of one millisecond by the further terms; Sluice keeps their arrival order).
 *   Any other first term is refused with Flink's message.
 * - `ORDER BY terms LIMIT n`: the top-N of the whole result (Flink's SortLimit, a rank without a
 *   partition): a `top_n` step without a key, an updating result.
 * - `LIMIT n` alone: the first n rows (Flink's Limit), a `limit` step, append-only.
 *
 * ORDER BY names output columns of the query (its aliases, or the columns it selects).
 */

import { formatName } from '@sluice/core';
import type { Select } from './ast.ts';
import type { Target } from './projection.ts';
import type { QueryPlanner, Relation } from './query-planner.ts';

/** The output column each name of the query's select list (alias, or the column selected) is, by position. */
function outputNames(q: Select, relation: Relation): Map<string, string> {
  const names = new Map<string, string>();
  for (const c of relation.columns) names.set(c, c);
  if (q.items === undefined || q.starWith) return names;
  q.items.forEach((item, i) => {
    const name = item.alias?.text ?? (item.expr.kind === 'field' ? item.expr.name : undefined);
    const column = relation.columns[i];
    if (name !== undefined && column !== undefined) names.set(name, column);
  });
  return names;
}

/** Plans query `q` (which has ORDER BY or LIMIT) as `id`; see the file comment. */
export function planOrderLimit(p: QueryPlanner, q: Select, id: string, target: Target | undefined): Relation {
  const { orderBy, limit, orderByStart, ...rest } = q;
  const relation = p.query(rest, id, target);
  const at = orderByStart ?? limit?.start ?? q.start;
  if (relation.updating !== undefined)
    p.fail(
      at,
      `${orderBy ? 'ORDER BY' : 'LIMIT'} takes an append-only result, and this one is updating: ${relation.updating.reason}`,
    );
  const names = outputNames(rest, relation);
  const terms = (orderBy ?? []).map((term) => {
    if (term.expr.kind !== 'field')
      p.fail(
        term.expr.start,
        `ORDER BY takes columns of the query's result (a column or an alias of its select list), not ${term.text}: compute it in the select list and order by its alias`,
      );
    const column = names.get(term.expr.name);
    if (column === undefined)
      return p.fail(
        term.expr.start,
        p.unknown(
          'column',
          term.expr.name,
          [...names.keys()],
          "the query's result (ORDER BY names its columns)",
        ),
      );
    return { column, descending: term.descending, start: term.expr.start };
  });
  const orderText = (t: { column: string; descending: boolean }) =>
    `${formatName(t.column)}${t.descending ? ' DESC' : ''}`;
  if (limit !== undefined) {
    if (terms.length === 0) {
      const step = `${id}-limit`;
      p.addStep({ id: step, type: 'limit', inputs: [relation.ref], config: { n: limit.n } });
      p.locate(step, '', limit.start);
      p.locate(step, 'n', limit.start);
      return { ...relation, ref: step };
    }
    const step = `${id}-top`;
    p.addStep({
      id: step,
      type: 'top_n',
      inputs: [relation.ref],
      config: { order_by: terms.map(orderText), n: limit.n },
    });
    p.locate(step, '', at);
    for (const [i, t] of terms.entries()) p.locate(step, `order_by[${i}]`, t.start);
    // An updating result, which the plan check follows from the step's changelog (as for a
    // GROUP BY's): a sink that takes only appends is refused there, at the ORDER BY.
    return { ref: step, columns: relation.columns, fromSource: false };
  }
  const [first, ...later] = terms;
  const event = first.column === relation.timeColumn;
  const processing = first.column === relation.procTimeColumn;
  if ((!event && !processing) || first.descending) {
    const time = relation.timeColumn ?? relation.procTimeColumn;
    p.fail(
      first.start,
      `Sort on a non-time-attribute field is not supported (as in Flink): a streaming ORDER BY without LIMIT sorts by a time attribute ascending first${time ? ` — ORDER BY ${formatName(time)} [, …]` : ', and this query has none (a WATERMARK FOR column passed through unchanged, or a PROCTIME() column)'}; to keep the first rows by another order, add LIMIT n (a top-N)`,
    );
  }
  if (processing) return relation;
  const step = `${id}-sort`;
  p.addStep({
    id: step,
    type: 'sort',
    inputs: [relation.ref],
    config: later.length > 0 ? { order_by: later.map(orderText) } : {},
  });
  p.locate(step, '', at);
  for (const [i, t] of later.entries()) p.locate(step, `order_by[${i}]`, t.start);
  return { ...relation, ref: step };
}
