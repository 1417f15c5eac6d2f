/**
 * Plan resolution: the checks every plan passes before it runs, whatever front end made it.
 *
 * Ids are unique, inputs exist, types are registered, steps form no cycle, every config
 * validates against its component spec (defaults applied), every step and sink takes the
 * changelog mode of its input (`changelog-check.ts`), every expression parses (once: the plan
 * carries the trees, `expressions.ts`) and type-checks against its input's schema (`schema.ts`),
 * and every upsert sink writes an updating stream under the key that identifies its rows
 * (`keys.ts`; the plan carries each stream's key).
 * Problems are reported together, each pointing to the file, line and column the plan came from
 * when it has `locations`.
 */

import { ConfigErrors, SluiceError } from '../errors.ts';
import type { Registry } from '../registry.ts';
import { type ChangelogMode, type ComponentSpec, sideOutputsOf } from '../spec.ts';
import { checkChangelogs } from './changelog-check.ts';
import { validateConfig } from './config.ts';
import { didYouMean } from './config-suggest.ts';
import { expandSteps } from './expand.ts';
import { parsePlanExpressions } from './expressions.ts';
import { inferKeys } from './keys.ts';
import { componentPath, locate } from './locate.ts';
import { pipelineNameProblem } from './pipeline-name.ts';
import {
  type Plan,
  type PlanOutput,
  type PlanSink,
  type PlanSource,
  type PlanStep,
  parseStreamRef,
  refId,
} from './plan.ts';
import { inferSchemas } from './schema.ts';

/** Pipeline-level paths an error without a step may point to. */
const PLAN_PATH = /^(?:name|settings(?:\..+)?)$/;

/**
 * Adds the file location to an error that names a step and a path inside its config, or, with
 * no step, a pipeline-level path (`name`, `settings.checkpoint.dir`).
 */
export function withLocation(plan: Plan, err: SluiceError): SluiceError {
  if (err.file !== undefined) return err;
  if (err.step === undefined) {
    const loc = err.path !== undefined && PLAN_PATH.test(err.path) ? locate(plan, err.path) : undefined;
    return loc ? new SluiceError(err.code, err.message, { ...loc, path: err.path, cause: err.cause }) : err;
  }
  const special =
    err.step === '$dead_letter' ? 'dead_letter' : err.step === '$late_output' ? 'late_output' : undefined;
  const base = special ?? componentPath(plan, err.step);
  if (base === undefined) return err;
  const loc = locate(plan, err.path ? `${base}.${err.path}` : base);
  if (!loc) return err;
  return new SluiceError(err.code, err.message, { ...loc, step: err.step, path: err.path, cause: err.cause });
}

/**
 * Runs `create` (a component factory) and gives any SluiceError it throws without a step the id
 * `id`, so that `withLocation` can point at the option in the pipeline file.
 */
export function inComponent<T>(id: string, create: () => T): T {
  try {
    return create();
  } catch (err) {
    if (!(err instanceof SluiceError) || err.step !== undefined) throw err;
    const { file, line, column, path, cause } = err;
    throw new SluiceError(err.code, err.message, { file, line, column, path, step: id, cause });
  }
}

/**
 * Orders step ids so every step comes after its inputs; throws the ids on a cycle.
 * `inputs` maps a step id to what it reads (ids, or side outputs `<step>.<port>`; sources are
 * left out).
 */
export function topologicalOrder(
  ids: readonly string[],
  inputs: ReadonlyMap<string, readonly string[]>,
): string[] {
  const order: string[] = [];
  const state = new Map<string, 1 | 2>();
  const visit = (id: string, path: string[]): string[] | undefined => {
    const s = state.get(id);
    if (s === 2) return undefined;
    if (s === 1) return [...path.slice(path.indexOf(id)), id];
    state.set(id, 1);
    for (const ref of inputs.get(id) ?? []) {
      const input = refId(ref);
      if (!inputs.has(input)) continue;
      const cycle = visit(input, [...path, id]);
      if (cycle) return cycle;
    }
    state.set(id, 2);
    order.push(id);
    return undefined;
  };
  for (const id of ids) {
    const cycle = visit(id, []);
    if (cycle) throw cycle;
  }
  return order;
}

/**
 * The steps of a plan with every step after the steps it reads (its inputs' order otherwise):
 * the order schemas, keys and changelog modes are worked out in and watermarks travel in.
 * Throws the ids of a cycle, as {@link topologicalOrder} does.
 */
export function stepsInOrder<S extends { readonly id: string; readonly inputs: readonly string[] }>(
  steps: readonly S[],
): S[] {
  const byId = new Map(steps.map((s) => [s.id, s]));
  return topologicalOrder(
    steps.map((s) => s.id),
    new Map(steps.map((s) => [s.id, s.inputs])),
  ).map((id) => byId.get(id)!);
}

interface Problem {
  code: SluiceError['code'];
  message: string;
  /** Absent for a problem of the pipeline itself (its `name`). */
  step?: string;
  path: string;
}

/**
 * Checks a plan and returns it with every step that stands for others (`StepSpec.expand`) replaced
 * by them, every config validated and defaulted, its expressions parsed
 * (`PlanStep.expressions`, …), its schemas (`Plan.schemas`) and its keys (`Plan.keys`); throws
 * on problems.
 */
export function resolvePlan(given: Plan, registry: Registry): Plan {
  let plan: Plan;
  try {
    plan = expandSteps(given, registry, (p) => resolvePlan(p, registry), stepsInOrder);
  } catch (err) {
    throw err instanceof SluiceError && !(err instanceof ConfigErrors) ? withLocation(given, err) : err;
  }
  const problems: Problem[] = [];
  const badName = pipelineNameProblem(plan.name);
  if (badName !== undefined) problems.push({ code: 'CONFIG_INVALID', message: badName, path: 'name' });
  const ids = new Set<string>();
  const claim = (id: string, what: string) => {
    if (ids.has(id))
      problems.push({
        code: 'PLAN_DUPLICATE_ID',
        message: `${what} id '${id}' is used twice`,
        step: id,
        path: 'id',
      });
    ids.add(id);
  };
  for (const s of plan.sources) claim(s.id, 'source');
  for (const s of plan.steps) claim(s.id, 'step');
  for (const s of plan.sinks) claim(s.id, 'sink');

  const check = <T extends { readonly config: unknown }>(
    id: string,
    item: T,
    spec: ComponentSpec | undefined,
    kind: ComponentSpec['kind'],
    type: string,
  ): T => {
    if (!spec) {
      problems.push({
        code: 'PLAN_UNKNOWN_TYPE',
        message: `unknown ${kind} type '${type}'; known ${kind} types: ${registry.types(kind).join(', ')}`,
        step: id,
        path: 'type',
      });
      return item;
    }
    const result = validateConfig<unknown>(spec.config, item.config);
    if (result.ok) return { ...item, config: result.value };
    for (const issue of result.issues) {
      problems.push({ code: 'CONFIG_INVALID', message: issue.message, step: id, path: issue.path });
    }
    return item;
  };

  const sources: PlanSource[] = plan.sources.map((s) =>
    check(s.id, s, registry.source(s.type), 'source', s.type),
  );
  const steps: PlanStep[] = plan.steps.map((s) => {
    for (const input of s.inputs) {
      const from = refId(input);
      if (!ids.has(from) || plan.sinks.some((k) => k.id === from)) {
        problems.push({
          code: 'PLAN_MISSING_INPUT',
          message: `reads '${input}', which is no source or step`,
          step: s.id,
          path: 'input',
        });
      }
    }
    return check(s.id, s, registry.step(s.type), 'step', s.type);
  });
  const sinks: PlanSink[] = plan.sinks.map((s) => {
    if (!ids.has(refId(s.input))) {
      problems.push({
        code: 'PLAN_MISSING_INPUT',
        message: `reads '${s.input}', which is no source or step`,
        step: s.id,
        path: 'input',
      });
    }
    return check(s.id, s, registry.sink(s.type), 'sink', s.type);
  });
  if (problems.length === 0) problems.push(...checkPorts(steps, sinks, registry));
  const output = (id: string, o: PlanOutput | undefined) =>
    o ? check(id, o, registry.sink(o.type), 'sink', o.type) : undefined;
  const deadLetter = output('$dead_letter', plan.deadLetter);
  const lateOutput = output('$late_output', plan.lateOutput);

  if (problems.length === 0) {
    try {
      stepsInOrder(plan.steps);
    } catch (cycle) {
      const ids = cycle as string[];
      problems.push({
        code: 'PLAN_CYCLE',
        message: `steps form a cycle: ${ids.join(' → ')}`,
        step: ids[0],
        path: 'input',
      });
    }
  }
  const resolved: Plan = {
    ...plan,
    sources,
    steps,
    sinks,
    ...(deadLetter ? { deadLetter } : {}),
    ...(lateOutput ? { lateOutput } : {}),
  };
  const modes = new Map<string, ChangelogMode>();
  if (problems.length === 0) {
    for (const p of checkChangelogs(resolved, registry, modes))
      problems.push({ code: 'PLAN_CHANGELOG_MISMATCH', ...p });
  }
  if (problems.length > 0) throw problemsError(plan, problems);
  // Every expression is parsed here, once; the schema rules and the operator factories read the trees.
  const parsed = parsePlanExpressions(resolved, registry);
  const unparsed = new Set<string>();
  for (const err of parsed.errors) {
    problems.push({ code: err.code, message: err.message, step: err.step, path: err.path ?? '' });
    if (err.step !== undefined) unparsed.add(err.step);
  }
  const { schemas, problems: typeProblems } = inferSchemas(parsed.plan, registry, unparsed);
  for (const p of typeProblems) {
    problems.push({ code: p.error.code, message: p.error.message, step: p.step, path: p.path });
    unparsed.add(p.step);
  }
  const typed: Plan = { ...parsed.plan, schemas };
  const updating = (ref: string) => (modes.get(ref) ?? 'append') !== 'append';
  const { keys, problems: keyProblems } = inferKeys(typed, registry, updating, unparsed);
  for (const p of keyProblems) problems.push({ code: 'PLAN_KEY_MISMATCH', ...p });
  if (problems.length > 0) throw problemsError(plan, problems);
  const updatingModes: { [ref: string]: ChangelogMode } = {};
  for (const [ref, mode] of modes) if (mode !== 'append') updatingModes[ref] = mode;
  return Object.keys(updatingModes).length > 0
    ? { ...typed, keys, modes: updatingModes }
    : { ...typed, keys };
}

/**
 * Refuses a side-output reference (`<step>.<port>`) to a port the step does not declare for its
 * config (`StepSpec.outputs`), or to a source, naming the ports there are.
 */
function checkPorts(steps: readonly PlanStep[], sinks: readonly PlanSink[], registry: Registry): Problem[] {
  const problems: Problem[] = [];
  const byId = new Map(steps.map((s) => [s.id, s]));
  const refuse = (reader: string, path: string, ref: string) => {
    const { id, port } = parseStreamRef(ref);
    if (port === undefined) return;
    const step = byId.get(id);
    let message: string;
    if (step === undefined) {
      message = `reads '${ref}', but '${id}' is a source: a source has no side outputs; read '${id}'`;
    } else {
      const spec = registry.step(step.type);
      const ports = sideOutputsOf(spec, step.config).map((o) => o.name);
      if (ports.includes(port)) return;
      const guess = didYouMean(port, ports);
      const known =
        ports.length === 0
          ? `has no side outputs${(spec?.sideOutputs ?? []).length > 0 ? ` with this config (it can have ${spec!.sideOutputs!.map((o) => `'${o.name}': ${o.description}`).join('; ')})` : ''}`
          : `has the side outputs ${ports.map((p) => `'${id}.${p}'`).join(', ')}`;
      message = `reads '${ref}', but step '${id}' (${step.type}) ${known}${guess ? ` — did you mean '${id}.${guess}'?` : ''}`;
    }
    problems.push({ code: 'PLAN_MISSING_INPUT', message, step: reader, path });
  };
  for (const s of steps) {
    const many = s.inputs.length > 1;
    s.inputs.forEach((ref, i) => {
      refuse(s.id, many ? `input[${i}]` : 'input', ref);
    });
  }
  for (const s of sinks) refuse(s.id, 'input', s.input);
  return problems;
}

function problemsError(plan: Plan, problems: Problem[]): SluiceError {
  const located = problems.map((p) =>
    withLocation(plan, new SluiceError(p.code, p.message, { step: p.step, path: p.path || undefined })),
  );
  return located.length === 1 ? located[0] : new ConfigErrors(located);
}
