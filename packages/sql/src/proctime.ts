/**
 * `pt AS PROCTIME()` among a CREATE TABLE's columns: Flink's processing-time attribute, the wall
 * clock when a row is read. The table's `<table>-columns` map computes it as `now()`, and reads of
 * the table carry it as their processing-time column, so that `OVER (ORDER BY pt)`, windows over
 * `DESCRIPTOR(pt)` and `FOR SYSTEM_TIME AS OF t.pt` take it as they take a view's PROCTIME().
 */

import type { CreateTable } from './ast.ts';
import type { JoinPlanner } from './query-planner.ts';

/** The table's `AS PROCTIME()` column, if any; refuses two of them and a WATERMARK on one, as Flink does. */
export function procTimeColumnOf(p: Pick<JoinPlanner, 'fail'>, t: CreateTable): string | undefined {
  const columns = t.columns.filter(
    (c) => c.computed?.expr.kind === 'call' && c.computed.expr.name === 'proctime',
  );
  for (const c of columns) {
    const e = c.computed?.expr;
    if (e?.kind === 'call' && e.args.length > 0) p.fail(e.start, 'PROCTIME() takes no arguments');
  }
  if (columns.length > 1)
    p.fail(
      columns[1].name.start,
      `table '${t.name.text}' has two PROCTIME() columns ('${columns[0].name.text}' and '${columns[1].name.text}'); a table has one processing-time attribute`,
    );
  const column = columns[0]?.name.text;
  if (column !== undefined && t.watermark?.column.text === column)
    p.fail(
      t.watermark.column.start,
      `'${column}' is a processing-time attribute (PROCTIME()); a WATERMARK is declared on an event-time column`,
    );
  return column;
}
