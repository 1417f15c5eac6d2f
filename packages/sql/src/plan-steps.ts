/**
 * Reading the steps the planner writes, for its passes over a plan (fusion, shared expressions,
 * column pruning, joins): a `map` of `select` and `fields` only, a `filter` of `where` only, and
 * the conjuncts of a condition.
 */

import type { Expr, Plan } from '@sluice/core';

export type Step = Plan['steps'][number];

export interface MapConfig {
  readonly select: readonly string[];
  readonly fields: { readonly [name: string]: string };
}

/** A map the planner wrote: `select` and `fields` (and an empty `drop`), nothing else. */
export function mapConfig(step: Step): MapConfig | undefined {
  if (step.type !== 'map') return undefined;
  const c = step.config as { select?: unknown; fields?: unknown; drop?: unknown };
  if (!Array.isArray(c.select) || (Array.isArray(c.drop) && c.drop.length > 0)) return undefined;
  if (Object.keys(c).some((k) => k !== 'select' && k !== 'fields' && k !== 'drop')) return undefined;
  return { select: c.select as string[], fields: (c.fields ?? {}) as { [name: string]: string } };
}

/** The condition of a filter the planner wrote (`where` only); undefined for any other step. */
export function whereOf(step: Step): string | undefined {
  if (step.type !== 'filter') return undefined;
  const c = step.config as { where?: unknown };
  return Object.keys(c).length === 1 && typeof c.where === 'string' ? c.where : undefined;
}

/** The conjuncts of an AND chain. */
export function conjuncts(e: Expr): Expr[] {
  return e.kind === 'binary' && e.op === 'and' ? [...conjuncts(e.left), ...conjuncts(e.right)] : [e];
}
