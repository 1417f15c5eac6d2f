/**
 * Filter push-down into a join's inputs: a conjunct of WHERE that reads the columns of one side
 * only is evaluated on that side's rows before the join, as Flink's planner pushes filters into
 * join inputs (FlinkFilterJoinRule). The result is the same: a conjunct of one side holds for a
 * joined pair exactly when it holds for that side's row. What changes is the cost: rows that
 * could never be written are not kept in the join's state and never meet the other side
 * (Nexmark q3 keeps only the category-10 auctions and the persons of three states).
 *
 * Only where the result cannot change: the conjunct reads no other side's column, calls no
 * aggregate and no volatile function (`now()`, whose value depends on when it runs), and the
 * side is one whose every row the join's output keeps in step with its matches — either side of
 * an inner join, the left of a LEFT JOIN, the right of a RIGHT JOIN. Filtering the padded side
 * of an outer join would turn its NULL-padded rows into matches of nothing; FULL JOIN pads both.
 */

import { childrenOf, type Expr, isVolatileFunction } from '@sluice/core';
import type { JoinTable } from './ast.ts';
import { hasAggregate } from './projection.ts';

/** What push-down needs of the join's scope: which side a column reference reads. */
export interface SideOf {
  /** The side a column reference reads (0 left, 1 right), or undefined when `e` is no column reference. */
  column(e: Expr): { readonly side: 0 | 1 } | undefined;
}

/** The conjuncts of one WHERE split by where they are evaluated. */
export interface PushedFilters {
  /** Per side, the conjuncts evaluated on its rows before the join. */
  readonly sides: readonly [readonly Expr[], readonly Expr[]];
  /** The conjuncts evaluated on the joined pairs, in their order. */
  readonly after: readonly Expr[];
}

/** Splits `filters` (WHERE's conjuncts) into those pushed into each side of `join` and the rest. */
export function pushFilters(join: JoinTable, scope: SideOf, filters: readonly Expr[]): PushedFilters {
  const open: readonly [boolean, boolean] = [
    join.type === 'inner' || join.type === 'left',
    join.type === 'inner' || join.type === 'right',
  ];
  const sides: [Expr[], Expr[]] = [[], []];
  const after: Expr[] = [];
  for (const f of filters) {
    const read = pure(f) ? sidesRead(f, scope) : undefined;
    const side = read?.size === 1 ? [...read][0] : undefined;
    if (side !== undefined && open[side]) sides[side].push(f);
    else after.push(f);
  }
  return { sides, after };
}

/** Whether `e` calls no aggregate and no volatile function. */
function pure(e: Expr): boolean {
  if (hasAggregate(e)) return false;
  if (e.kind === 'call' && isVolatileFunction(e.name)) return false;
  return childrenOf(e).every(pure);
}

/** The sides whose columns `e` reads. */
function sidesRead(e: Expr, scope: SideOf, into = new Set<0 | 1>()): Set<0 | 1> {
  const c = scope.column(e);
  if (c !== undefined) {
    into.add(c.side);
    return into;
  }
  for (const child of childrenOf(e)) sidesRead(child, scope, into);
  return into;
}
