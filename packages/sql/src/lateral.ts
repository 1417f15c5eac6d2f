/**
 * `LATERAL TABLE(f(args))` after a table (a comma, `CROSS JOIN`, or `[LEFT] JOIN … ON TRUE`): a
 * `table_function` step calling the table function `f` defined from TypeScript
 * (`defineTableFunction`) for each row, whose output is the row's columns followed by the
 * function's (named by `AS s(c, …)`, else the function's own names); the query is then planned
 * over that output, with `t.col` and `s.col` read as plain columns.
 */

import { type Expr, formatExpression, mapChildren, tableFunction } from '@sluice/core';
import type { LateralTable, Select, SelectItem } from './ast.ts';
import type { Target } from './projection.ts';
import type { QueryPlanner, Relation } from './query-planner.ts';

/** `e` with `q.col` read as `col` for each qualifier `q` of `qualifiers`. */
function unqualified(e: Expr, qualifiers: ReadonlySet<string>): Expr {
  if (e.kind === 'member' && e.object.kind === 'field' && qualifiers.has(e.object.name))
    return { kind: 'field', name: e.name, start: e.start, end: e.end };
  return mapChildren(e, (c) => unqualified(c, qualifiers));
}

/** A clause's expression and text with its qualifiers dropped (its text made again when they were there). */
function clause<T extends { readonly expr: Expr; readonly text: string }>(
  c: T,
  qualifiers: ReadonlySet<string>,
): T {
  const expr = unqualified(c.expr, qualifiers);
  return expr === c.expr ? c : { ...c, expr, text: formatExpression(expr) };
}

/** Plans query `q` whose FROM is `from`; see the file comment. */
export function planLateral(
  p: QueryPlanner,
  q: Select,
  from: LateralTable,
  id: string,
  target: Target | undefined,
): Relation {
  const fn = tableFunction(from.fn.text);
  if (fn === undefined)
    return p.fail(
      from.fn.start,
      `table function '${from.fn.text}' is not defined: define it from TypeScript before compiling the script, with defineTableFunction({ name: '${from.fn.text.toLowerCase()}', columns: ['…'], params: ${from.args.length}, impl: (…) => rows }) from @sluice/core`,
    );
  if (from.args.length !== fn.params)
    p.fail(
      from.fn.start,
      `table function ${from.fn.text}() takes ${fn.params} argument(s), and this call gives ${from.args.length}`,
    );
  const columns = from.columns?.map((c) => c.text) ?? [...fn.columns];
  if (columns.length !== fn.columns.length)
    p.fail(
      from.columns?.[0]?.start ?? from.start,
      `table function ${from.fn.text}() gives ${fn.columns.length} column(s) (${fn.columns.join(', ')}); name as many in ${from.alias?.text ?? 's'}(…)`,
    );
  const input = p.relation(from.table.name);
  const table = (from.table.alias ?? from.table.name).text;
  const qualifiers = new Set([table, ...(from.alias ? [from.alias.text] : [])]);
  const where = `'${table}'`;
  const args = from.args.map((a) => clause(a, qualifiers));
  for (const a of args) p.checkColumns(a.expr, input.columns, where);
  for (const [i, c] of columns.entries())
    if (input.columns.includes(c))
      p.fail(
        from.columns?.[i]?.start ?? from.start,
        `'${c}' is a column of ${where} too: name the function's columns apart with AS ${from.alias?.text ?? 's'}(…)`,
      );
  const step = `${id}-lateral`;
  p.addStep({
    id: step,
    type: 'table_function',
    inputs: [input.ref],
    config: {
      function: fn.name.toLowerCase(),
      args: args.map((a) => a.text),
      columns,
      join: from.left ? 'left' : 'inner',
    },
  });
  p.locate(step, '', from.start);
  p.locate(step, 'function', from.fn.start);
  for (const [i, a] of from.args.entries()) p.locate(step, `args[${i}]`, a.expr.start);
  const relation: Relation = {
    ref: step,
    columns: [...input.columns, ...columns],
    ...(input.timeColumn ? { timeColumn: input.timeColumn } : {}),
    ...(input.procTimeColumn ? { procTimeColumn: input.procTimeColumn } : {}),
    fromSource: false,
  };
  const items = q.items?.map((item): SelectItem => {
    if (item.star !== undefined)
      p.fail(
        item.expr.start,
        `${item.text} is not supported after LATERAL TABLE: list the columns, or write *`,
      );
    return clause(item, qualifiers);
  });
  const name = { text: `${id}_lateral`, start: from.start };
  return p.withRelation(name.text, relation, () =>
    p.select(
      {
        ...q,
        from: { kind: 'table', name },
        ...(items ? { items } : {}),
        ...(q.where ? { where: clause(q.where, qualifiers) } : {}),
        ...(q.groupBy ? { groupBy: q.groupBy.map((g) => clause(g, qualifiers)) } : {}),
        ...(q.having ? { having: clause(q.having, qualifiers) } : {}),
      },
      id,
      target,
    ),
  );
}
