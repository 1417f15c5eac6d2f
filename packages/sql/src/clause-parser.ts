/**
 * Clauses of a query the statement parser reads through these functions: `ORDER BY … LIMIT n`
 * after a query, and `LATERAL TABLE(f(…))` after a table in FROM.
 */

import type { Expr } from '@sluice/core';
import type { LateralTable, Name, Select, TableRef } from './ast.ts';
import { describe } from './parser-words.ts';
import type { QueryParser } from './query-parser.ts';

/** `[ORDER BY term [ASC|DESC], …] [LIMIT n | FETCH FIRST n ROWS ONLY]` after a query. */
export function parseOrderLimit(
  p: QueryParser,
): { orderBy?: NonNullable<Select['orderBy']>; limit?: Select['limit']; start: number } | undefined {
  const start = p.peek().start;
  let orderBy: { expr: Expr; text: string; descending: boolean }[] | undefined;
  if (p.acceptWord('ORDER')) {
    p.expectKeyword('BY', 'after ORDER');
    orderBy = [];
    do {
      if (orderBy.length > 0) p.pos++;
      const term = p.expression();
      const descending = p.acceptWord('DESC');
      if (!descending) p.acceptWord('ASC');
      if (p.isWord('NULLS')) p.notYet(p.peek(), 'NULLS FIRST/LAST in ORDER BY (NULL sorts last)');
      orderBy.push({ ...term, descending });
    } while (p.isOp(','));
  }
  let limit: Select['limit'];
  const at = p.peek();
  if (p.acceptWord('LIMIT')) limit = { n: rowCount(p, 'LIMIT'), start: at.start };
  else if (p.acceptWord('FETCH')) {
    if (!p.acceptWord('FIRST')) p.expectKeyword('NEXT', 'after FETCH: FETCH FIRST n ROWS ONLY');
    limit = { n: rowCount(p, 'FETCH FIRST'), start: at.start };
    if (!p.acceptWord('ROWS')) p.expectKeyword('ROW', 'after FETCH FIRST n: ROWS ONLY');
    p.expectKeyword('ONLY', 'after FETCH FIRST n ROWS');
  }
  if (p.isWord('OFFSET')) p.notYet(p.peek(), 'OFFSET');
  if (orderBy === undefined && limit === undefined) return undefined;
  return { ...(orderBy ? { orderBy } : {}), ...(limit ? { limit } : {}), start };
}

/** The row count after LIMIT or FETCH FIRST: a positive integer. */
function rowCount(p: QueryParser, what: string): number {
  const t = p.peek();
  if (t.kind === 'number' && Number.isSafeInteger(t.value) && t.value > 0) {
    p.pos++;
    return t.value;
  }
  return p.fail(t.start, `${what} takes a positive whole number of rows, found ${describe(t)}`);
}

/**
 * Consumes what joins a LATERAL TABLE to the table before it — `,`, `CROSS JOIN`, `[INNER]
 * JOIN`, `LEFT [OUTER] JOIN` — when LATERAL follows, and says how; undefined (consuming
 * nothing) otherwise.
 */
export function lateralJoin(p: QueryParser): { left: boolean; on: boolean } | undefined {
  const forms: readonly [readonly string[], { left: boolean; on: boolean }][] = [
    [['CROSS', 'JOIN'], { left: false, on: false }],
    [['JOIN'], { left: false, on: true }],
    [['INNER', 'JOIN'], { left: false, on: true }],
    [['LEFT', 'JOIN'], { left: true, on: true }],
    [['LEFT', 'OUTER', 'JOIN'], { left: true, on: true }],
  ];
  if (p.isOp(',') && p.isWord('LATERAL', 1)) {
    p.pos++;
    return { left: false, on: false };
  }
  for (const [words, how] of forms)
    if (words.every((w, i) => p.isWord(w, i)) && p.isWord('LATERAL', words.length)) {
      p.pos += words.length;
      return how;
    }
  return undefined;
}

/** `LATERAL TABLE(f(args)) [AS] alias[(c, …)] [ON TRUE]` after `left` joined as `how` says. */
export function parseLateralTable(
  p: QueryParser,
  left: TableRef,
  how: { left: boolean; on: boolean },
): LateralTable {
  const start = p.expectKeyword('LATERAL', 'before TABLE(f(…))').start;
  p.expectKeyword('TABLE', 'after LATERAL: LATERAL TABLE(f(…))');
  const open = p.expect('(', 'after LATERAL TABLE');
  const fn = p.name('the name of a table function in LATERAL TABLE(…)');
  p.expect('(', `after ${fn.text}: LATERAL TABLE(${fn.text}(…))`);
  const args: { expr: Expr; text: string }[] = [];
  if (!p.isOp(')'))
    do {
      if (args.length > 0) p.pos++;
      args.push(p.expression());
    } while (p.isOp(','));
  p.expect(')', `to close the arguments of ${fn.text}`);
  p.expect(')', `to close LATERAL TABLE( opened at ${p.where(open.start)}`);
  const alias = p.alias();
  let columns: Name[] | undefined;
  if (alias !== undefined && p.isOp('(')) {
    p.pos++;
    columns = [];
    do {
      if (columns.length > 0) p.pos++;
      columns.push(p.name(`a column name in ${alias.text}(…)`));
    } while (p.isOp(','));
    p.expect(')', `to close the column names of ${alias.text}`);
  }
  if (how.on) {
    p.expectKeyword('ON', 'after a JOIN LATERAL TABLE(…): ON TRUE');
    const on = p.expression();
    if (!(on.expr.kind === 'literal' && on.expr.value === true))
      p.fail(
        on.expr.start,
        'a join of LATERAL TABLE(…) takes ON TRUE, as in Flink: filter the rows it gives in WHERE',
      );
  }
  const next = p.peek();
  if (p.joinType() !== undefined || p.isOp(','))
    p.notYet(next, 'a join after LATERAL TABLE(…) (join in a view, then read the view)');
  return {
    kind: 'lateral',
    table: left,
    fn,
    args,
    ...(alias ? { alias } : {}),
    ...(columns ? { columns } : {}),
    left: how.left,
    start,
  };
}
