/**
 * Steps that stand for other steps (`StepSpec.expand`, SQL's `sql` step) are replaced by the
 * steps they stand for before a plan is resolved. Each is expanded knowing its inputs: the plan
 * upstream of it — its sources and the steps it reads, directly or not — is resolved on its own,
 * so the expansion gets each input's schema and the field a source read its event time from.
 * Steps are expanded in the order they run, so what an expanding step reads is already expanded.
 */

import { SluiceError } from '../errors.ts';
import type { Registry } from '../registry.ts';
import { validateConfig } from './config.ts';
import type { Plan, PlanStep } from './plan.ts';
import { refId } from './plan.ts';
import { UNKNOWN_SCHEMA } from './schema.ts';

/**
 * `plan` with every expanding step replaced by its steps, or `plan` itself when it has none;
 * `resolve` resolves the plan upstream of each. Throws what the expansion or that resolution throws.
 */
export function expandSteps(
  plan: Plan,
  registry: Registry,
  resolve: (p: Plan) => Plan,
  order: (steps: readonly PlanStep[]) => PlanStep[],
): Plan {
  let current = plan;
  for (;;) {
    if (!current.steps.some((s) => registry.step(s.type)?.expand !== undefined)) return current;
    let ordered: PlanStep[];
    try {
      ordered = order(current.steps);
    } catch {
      return current; // a cycle: resolution reports it
    }
    const ids = new Set([...current.sources.map((s) => s.id), ...current.steps.map((s) => s.id)]);
    const step = ordered.find((s) => registry.step(s.type)?.expand !== undefined);
    // A missing input is resolution's to report, as for any step.
    if (step === undefined || !step.inputs.every((i) => ids.has(refId(i)))) return current;
    current = expandOne(current, step, registry, resolve);
  }
}

function expandOne(plan: Plan, step: PlanStep, registry: Registry, resolve: (p: Plan) => Plan): Plan {
  const spec = registry.step(step.type)!;
  const config = validateConfig<unknown>(spec.config, step.config);
  if (!config.ok) {
    const issue = config.issues[0];
    throw new SluiceError('CONFIG_INVALID', issue.message, { step: step.id, path: issue.path || undefined });
  }
  // The plan upstream of the step, each input read by a sink of its own so that it resolves.
  const upstream = new Set<string>();
  const visit = (ref: string) => {
    const id = refId(ref);
    if (upstream.has(id)) return;
    upstream.add(id);
    for (const input of plan.steps.find((s) => s.id === id)?.inputs ?? []) visit(input);
  };
  for (const input of step.inputs) visit(input);
  const { deadLetter: _dead, lateOutput: _late, ...rest } = plan;
  const resolved = resolve({
    ...rest,
    steps: plan.steps.filter((s) => upstream.has(s.id)),
    sources: plan.sources.filter((s) => upstream.has(s.id)),
    sinks: step.inputs.map((input, i) => ({
      id: `${step.id}$input${i}`,
      type: 'discard',
      input,
      config: {},
    })),
  });
  const inputTimeFields = step.inputs.map(
    (input) => resolved.sources.find((s) => s.id === input)?.eventTime?.field,
  );
  const steps = spec.expand!(config.value, {
    step: step.id,
    inputs: step.inputs,
    inputSchemas: step.inputs.map((input) => resolved.schemas?.[input] ?? UNKNOWN_SCHEMA),
    inputTimeFields,
    registry,
  });
  if (!steps.some((s) => s.id === step.id))
    throw new SluiceError('INTERNAL', `step '${step.id}' (${step.type}) expanded to no step of its id`, {
      step: step.id,
    });
  const at = plan.steps.indexOf(step);
  return { ...plan, steps: [...plan.steps.slice(0, at), ...steps, ...plan.steps.slice(at + 1)] };
}
