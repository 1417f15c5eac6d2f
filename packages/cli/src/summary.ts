/**
 * What the final line of `sluice run` says about records a pipeline dropped on purpose.
 */

import type { JobMetrics, Plan } from '@sluice/core';

/**
 * The records the steps filtered: one total where every stream has one reader, or per step
 * where the pipeline forks — a record read by two branches and filtered on both counts once on
 * each, so a total could exceed the records read (`filtered: 400000` of 200,000 in).
 */
export function filteredSummary(
  plan: Plan,
  metrics: Pick<JobMetrics, 'filtered' | 'steps'>,
): number | { [step: string]: number } {
  const readers = new Map<string, number>();
  const read = (ref: string) => readers.set(ref, (readers.get(ref) ?? 0) + 1);
  for (const step of plan.steps) for (const ref of step.inputs) read(ref);
  for (const sink of plan.sinks) read(sink.input);
  if (![...readers.values()].some((n) => n > 1)) return metrics.filtered;
  const byStep: { [step: string]: number } = {};
  for (const [id, c] of Object.entries(metrics.steps)) if (c.filtered > 0) byStep[id] = c.filtered;
  return byStep;
}
