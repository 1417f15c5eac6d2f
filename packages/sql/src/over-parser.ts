/**
 * The OVER clause after a select item — `ROW_NUMBER() OVER (…)` or `agg(x) OVER (…)` with a ROWS
 * or RANGE frame — and the query's `WINDOW w AS (…)` clause that `OVER w` names.
 */

import { type Expr, isAggregateCall, type Token } from '@sluice/core';
import type { Name, Over, OverFrame, SelectItem } from './ast.ts';
import { describe } from './parser-words.ts';
import type { QueryParser } from './query-parser.ts';

const FRAME_END =
  'on a stream a frame ends at the current row, as in Flink: write ROWS|RANGE BETWEEN … PRECEDING AND CURRENT ROW';

/** `OVER (…)` or `OVER w` after the select item `fn`. */
export function parseOver(p: QueryParser, fn: Expr): Over {
  const over = p.expectKeyword('OVER', 'after the function');
  const start = over.start;
  const rowNumber = fn.kind === 'call' && fn.name === 'row_number' && fn.args.length === 0 && !fn.star;
  if (fn.kind !== 'call')
    p.fail(
      over.start,
      'OVER follows an aggregate call or ROW_NUMBER() itself: compute an expression of OVER aggregates in a query around this one',
    );
  if (!rowNumber && !isAggregateCall(fn))
    p.notYet(
      over,
      'OVER after anything but an aggregate call or ROW_NUMBER() (RANK, DENSE_RANK, LAG, LEAD and the like)',
    );
  if (!p.isOp('('))
    return { partitionBy: [], orderBy: [], window: p.name('a window name or ( after OVER'), start };
  return overSpec(p, start, rowNumber);
}

/**
 * The parenthesized part of an OVER clause or a WINDOW clause's definition: `([w] [PARTITION BY
 * …] ORDER BY … [frame])`. `rowNumber`: after ROW_NUMBER(), which takes no frame.
 */
function overSpec(p: QueryParser, start: number, rowNumber: boolean): Over {
  const open = p.expect('(', 'after OVER: OVER (PARTITION BY key ORDER BY column …)');
  let window: Name | undefined;
  const t = p.peek();
  if (
    (t.kind === 'word' || t.kind === 'quoted') &&
    !['PARTITION', 'ORDER', 'ROWS', 'RANGE'].includes(t.kind === 'word' ? t.upper : '')
  )
    window = p.name('a window name');
  const partitionBy: { expr: Expr; text: string }[] = [];
  if (p.acceptWord('PARTITION')) {
    p.expectKeyword('BY', 'after PARTITION');
    do {
      if (partitionBy.length > 0) p.pos++;
      partitionBy.push(p.expression());
    } while (p.isOp(','));
  }
  const orderBy: Over['orderBy'][number][] = [];
  if (window === undefined || p.isWord('ORDER')) {
    p.expectKeyword(
      'ORDER',
      'in OVER (…): an OVER window needs ORDER BY (the time column, for an aggregate)',
    );
    p.expectKeyword('BY', 'after ORDER');
    do {
      if (orderBy.length > 0) p.pos++;
      const term = p.expression();
      const descending = p.acceptWord('DESC');
      if (!descending) p.acceptWord('ASC');
      if (p.isWord('NULLS')) p.notYet(p.peek(), 'NULLS FIRST/LAST (NULL ranks last)');
      orderBy.push({ ...term, descending });
    } while (p.isOp(','));
  }
  let frame: OverFrame | undefined;
  if (p.isWord('ROWS') || p.isWord('RANGE')) {
    if (rowNumber)
      p.fail(p.peek().start, 'ROW_NUMBER() numbers every row of its partition: it takes no frame');
    frame = parseFrame(p);
  }
  p.expect(')', `to close the OVER opened at ${p.where(open.start)}`);
  return { partitionBy, orderBy, ...(frame ? { frame } : {}), ...(window ? { window } : {}), start };
}

/** `ROWS|RANGE [BETWEEN] bound [AND CURRENT ROW]`. */
function parseFrame(p: QueryParser): OverFrame {
  const word = p.next();
  const unit = word.upper === 'ROWS' ? 'rows' : 'range';
  const between = p.acceptWord('BETWEEN');
  const preceding = parseBound(p, unit);
  if (between) {
    p.expectKeyword('AND', 'between the bounds of the frame');
    const end = p.peek();
    if (!(p.acceptWord('CURRENT') && p.acceptWord('ROW')))
      p.fail(end.start, `${FRAME_END} (found ${describe(end)})`);
  }
  return { unit, preceding, start: word.start };
}

/** `UNBOUNDED PRECEDING`, `n PRECEDING` (ROWS), `INTERVAL … PRECEDING` (RANGE) or `CURRENT ROW` (0). */
function parseBound(p: QueryParser, unit: 'rows' | 'range'): number | 'unbounded' {
  const t = p.peek();
  if (p.acceptWord('CURRENT')) {
    p.expectKeyword('ROW', 'after CURRENT');
    return 0;
  }
  let preceding: number | 'unbounded';
  if (p.acceptWord('UNBOUNDED')) preceding = 'unbounded';
  else if (unit === 'range') {
    if (!p.isWord('INTERVAL'))
      p.fail(
        t.start,
        `a RANGE frame over time reaches back an interval, e.g. RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW; found ${describe(t)}`,
      );
    const { expr } = p.expression();
    if (expr.kind !== 'literal' || typeof expr.value !== 'number' || expr.value < 0)
      p.fail(t.start, `the frame's interval must be a constant of 0 or more, e.g. INTERVAL '1' HOUR`);
    preceding = expr.value;
  } else {
    const { expr } = p.expression();
    if (
      expr.kind !== 'literal' ||
      typeof expr.value !== 'number' ||
      !Number.isInteger(expr.value) ||
      expr.value < 0
    )
      p.fail(
        t.start,
        `a ROWS frame reaches back a whole number of rows, e.g. ROWS BETWEEN 5 PRECEDING AND CURRENT ROW`,
      );
    preceding = expr.value;
  }
  const where = p.peek();
  if (p.isWord('FOLLOWING')) p.fail(where.start, FRAME_END);
  p.expectKeyword('PRECEDING', 'after the start of the frame');
  return preceding;
}

/** `WINDOW w AS (…) [, w2 AS (…)]` after a query's other clauses: the named windows by name. */
export function parseWindowClause(p: QueryParser): Map<string, Over> {
  const windows = new Map<string, Over>();
  const start = (p.next() as Token).start;
  do {
    if (windows.size > 0) p.pos++;
    const name = p.name('a window name after WINDOW');
    if (windows.has(name.text)) p.fail(name.start, `the WINDOW clause names '${name.text}' twice`);
    p.expectKeyword('AS', 'after the window name');
    windows.set(name.text, overSpec(p, start, false));
  } while (p.isOp(','));
  return windows;
}

/**
 * The select items with each `OVER w` (and `OVER (w …)`) replaced by the window `w` of the
 * WINDOW clause; fails at a name it does not define.
 */
export function resolveWindows(
  p: QueryParser,
  items: readonly SelectItem[],
  windows: ReadonlyMap<string, Over>,
): SelectItem[] {
  return items.map((item) => {
    const over = item.over;
    if (over?.window === undefined) return item;
    const named = windows.get(over.window.text);
    if (named === undefined)
      return p.fail(
        over.window.start,
        windows.size === 0
          ? `'${over.window.text}' names no window: define it after the query's WHERE, GROUP BY and HAVING with WINDOW ${over.window.text} AS (PARTITION BY … ORDER BY …)`
          : `'${over.window.text}' names no window of the WINDOW clause, which defines ${[...windows.keys()].join(', ')}`,
      );
    if (over.partitionBy.length > 0)
      p.fail(over.partitionBy[0].expr.start, `window '${over.window.text}' has its PARTITION BY already`);
    if (over.orderBy.length > 0 && named.orderBy.length > 0)
      p.fail(over.orderBy[0].expr.start, `window '${over.window.text}' has its ORDER BY already`);
    const frame = over.frame ?? named.frame;
    return {
      ...item,
      over: {
        partitionBy: named.partitionBy,
        orderBy: over.orderBy.length > 0 ? over.orderBy : named.orderBy,
        ...(frame ? { frame } : {}),
        start: over.start,
      },
    };
  });
}
