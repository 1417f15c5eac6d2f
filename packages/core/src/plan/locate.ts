/**
 * Mapping config paths back to positions in the pipeline file, for errors found after loading
 * (e.g. an expression that does not compile).
 */

import type { ErrorLocation } from '../errors.ts';
import { concatPath, joinPath, parentPath } from './config-path.ts';
import type { Plan } from './plan.ts';

/**
 * Location of `path` (e.g. `steps[1].fields.region`) in the file the plan came from, or of its
 * closest ancestor with a known location; undefined when the plan has no locations.
 */
export function locate(plan: Plan, path: string): ErrorLocation | undefined {
  const locations = plan.locations;
  if (locations === undefined) return undefined;
  for (let p: string | undefined = path; p !== undefined; p = parentPath(p)) {
    if (Object.hasOwn(locations, p)) return locations[p];
  }
  return undefined;
}

/**
 * Path of the source, step or sink with id `id` (`sources.orders`, `steps[1]`, `sinks.out`),
 * optionally extended by a `path` relative to its config (`fields.region`). Steps are numbered
 * in plan order, which for a plan from YAML is the file's order.
 */
export function componentPath(plan: Plan, id: string, path = ''): string | undefined {
  let base: string | undefined;
  if (plan.sources.some((s) => s.id === id)) base = joinPath('sources', id);
  else if (plan.sinks.some((s) => s.id === id)) base = joinPath('sinks', id);
  else {
    const index = plan.steps.findIndex((s) => s.id === id);
    if (index >= 0) base = joinPath('steps', index);
  }
  return base === undefined ? undefined : concatPath(base, path);
}

/** Location of `path` inside the config of component `id`, e.g. `locateIn(plan, 'normalized', 'fields.region')`. */
export function locateIn(plan: Plan, id: string, path: string): ErrorLocation | undefined {
  const full = componentPath(plan, id, path);
  return full === undefined ? undefined : locate(plan, full);
}
