/**
 * The function table: every scalar function by name and alias, the aggregate names, and the
 * reference docs derived from the same specs.
 */

import { aggregateDocs } from '../aggregate/registry.ts';
import { calendarFunctions } from './calendar-functions.ts';
import { conditionalFunctions } from './conditional-functions.ts';
import { castDoc, conversionFunctions } from './conversion-functions.ts';
import { flinkFunctions } from './flink-functions.ts';
import type { FunctionDoc, FunctionSpec } from './function-spec.ts';
import { mathFunctions } from './math-functions.ts';
import { stringFunctions } from './string-functions.ts';
import { timeFunctions } from './time-functions.ts';
import type { Expr } from './types.ts';

const specs: readonly FunctionSpec[] = [
  ...stringFunctions,
  ...mathFunctions,
  ...timeFunctions,
  ...calendarFunctions,
  ...flinkFunctions,
  ...conditionalFunctions,
  ...conversionFunctions,
];

const byName = new Map<string, FunctionSpec>();
for (const spec of specs) {
  for (const name of [spec.name, ...(spec.aliases ?? [])]) byName.set(name, spec);
}

/** Names of the aggregate functions, which parse anywhere but only evaluate in an aggregate step. */
export const aggregateNames: ReadonlySet<string> = new Set(aggregateDocs.map((d) => d.name));

/** The scalar function called `name` (lower-case, aliases included), or undefined. */
export function lookupFunction(name: string): FunctionSpec | undefined {
  return byName.get(name);
}

/** Every callable name, scalar and aggregate, for "did you mean" suggestions. */
export function callableNames(): Iterable<string> {
  return [...byName.keys(), ...aggregateNames];
}

/**
 * Whether `e` is a call of an aggregate function (count, sum, avg, min, max, first, last,
 * approx_count_distinct, percentile, percentile_cont, percentile_disc). Only the node itself is
 * inspected, not its arguments.
 */
export function isAggregateCall(e: Expr): boolean {
  return e.kind === 'call' && aggregateNames.has(e.name);
}

/** Reference entries of every scalar function and of CAST, sorted by category and name. */
export const functionDocs: readonly FunctionDoc[] = [
  ...specs.map(({ name, signature, summary, category }) => ({ name, signature, summary, category })),
  castDoc,
].sort((a, b) => a.category.localeCompare(b.category) || a.name.localeCompare(b.name));
