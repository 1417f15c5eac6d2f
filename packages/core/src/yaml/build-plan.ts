/**
 * Builds a plan from a parsed pipeline file: sections, ids, types, configs and inputs, adding
 * every problem found to the issue list instead of stopping at the first.
 */

import { isRecord, joinPath } from '../plan/config-path.ts';
import { didYouMean } from '../plan/config-suggest.ts';
import { idPattern, pipelineKeys } from '../plan/json-schema-sections.ts';
import {
  type Plan,
  type PlanOutput,
  type PlanSink,
  type PlanSource,
  type PlanStep,
  parseStreamRef,
} from '../plan/plan.ts';
import { at, atKey, type BuildContext, report, reportKey } from './build-context.ts';
import type { Position } from './issues.ts';
import { readComponent } from './read-component.ts';
import { readEventTime, readSettings } from './read-sections.ts';

type Kind = 'source' | 'step' | 'sink';

interface Declared {
  readonly kind: Kind;
  readonly at: Position;
}

interface PendingStep {
  readonly index: number;
  readonly id: string | undefined;
  readonly type: string;
  readonly config: unknown;
  readonly input: unknown;
}

const idRule = new RegExp(idPattern);
const portRule = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Builds the plan of the file in `ctx.tree`; undefined when its top level is unusable. */
export function buildPlan(ctx: BuildContext, baseDir: string): Plan | undefined {
  const root = ctx.tree.value;
  if (root === null || root === undefined) {
    report(ctx, 'CONFIG_INVALID', '', 'the pipeline file is empty; it needs a name, sources and sinks');
    return undefined;
  }
  if (!isRecord(root)) {
    report(ctx, 'CONFIG_INVALID', '', 'a pipeline file must be a map with name, sources, steps and sinks');
    return undefined;
  }
  for (const key of Object.keys(root)) {
    if ((pipelineKeys as readonly string[]).includes(key)) continue;
    const guess = didYouMean(key, pipelineKeys);
    const hint = guess ? ` — did you mean '${guess}'?` : `; known keys: ${pipelineKeys.join(', ')}`;
    reportKey(ctx, 'CONFIG_INVALID', joinPath('', key), `unknown key '${key}'${hint}`);
  }
  const declared = new Map<string, Declared>();
  const name = readName(ctx, root.name);
  const settings = readSettings(ctx, root.settings);
  const sources = readSources(ctx, root.sources, declared);
  const pending = readSteps(ctx, root.steps, declared);
  const sinkEntries = entriesOf(ctx, root.sinks, 'sinks', 'sink');
  for (const [id] of sinkEntries) {
    const path = joinPath('sinks', id);
    declare(ctx, declared, id, path, 'sink', atKey(ctx, path));
  }
  const steps = resolveSteps(ctx, pending, sources, declared);
  const sinks = readSinks(ctx, sinkEntries, sources, steps, declared);
  const deadLetter = readOutput(ctx, root.dead_letter, 'dead_letter');
  const lateOutput = readOutput(ctx, root.late_output, 'late_output');
  const locations = Object.fromEntries(
    [...ctx.tree.values].map(([path, p]) => [
      path,
      { file: ctx.issues.file, line: p.line, column: p.column },
    ]),
  );
  return {
    name,
    sources,
    steps,
    sinks,
    ...(deadLetter ? { deadLetter } : {}),
    ...(lateOutput ? { lateOutput } : {}),
    settings,
    baseDir,
    locations,
  };
}

function readName(ctx: BuildContext, raw: unknown): string {
  // A name given as a lone `${VAR}` is the variable's text, even when it looks like a number.
  const value = ctx.tree.variables.get('name') ?? raw;
  if (value === undefined) report(ctx, 'CONFIG_INVALID', '', "missing 'name': give the pipeline a name");
  else if (typeof value !== 'string' || value.trim() === '') {
    report(ctx, 'CONFIG_INVALID', 'name', 'must be a non-empty string');
  } else return value;
  return '';
}

function entriesOf(
  ctx: BuildContext,
  value: unknown,
  key: 'sources' | 'sinks',
  kind: Kind,
): [string, unknown][] {
  if (value === undefined || value === null) {
    report(
      ctx,
      'CONFIG_INVALID',
      value === null ? key : '',
      `missing '${key}': a pipeline needs at least one ${kind}`,
    );
    return [];
  }
  if (!isRecord(value)) {
    report(ctx, 'CONFIG_INVALID', key, `must be a map from ${kind} id to ${kind}`);
    return [];
  }
  const entries = Object.entries(value);
  if (entries.length === 0) report(ctx, 'CONFIG_INVALID', key, `must have at least one ${kind}`);
  return entries;
}

/** Records an id found at `idPath`, reporting an invalid or duplicate one; returns whether it is usable. */
function declare(
  ctx: BuildContext,
  declared: Map<string, Declared>,
  id: string,
  idPath: string,
  kind: Kind,
  here: Position,
) {
  if (!idRule.test(id)) {
    const rule = `must start with a letter or '_' and hold only letters, digits, '_' and '-' (pattern ${idPattern})`;
    ctx.issues.add('CONFIG_INVALID', idPath, `id '${id}' ${rule}`, here, id);
    return false;
  }
  const first = declared.get(id);
  if (first !== undefined) {
    const message = `id '${id}' is already used by the ${first.kind} at line ${first.at.line}; ids must be unique across sources, steps and sinks`;
    ctx.issues.add('PLAN_DUPLICATE_ID', idPath, message, here, id);
    return false;
  }
  declared.set(id, { kind, at: here });
  return true;
}

function readSources(ctx: BuildContext, value: unknown, declared: Map<string, Declared>): PlanSource[] {
  const out: PlanSource[] = [];
  for (const [id, raw] of entriesOf(ctx, value, 'sources', 'source')) {
    const path = joinPath('sources', id);
    declare(ctx, declared, id, path, 'source', atKey(ctx, path));
    const label = `source '${id}'`;
    const read = readComponent(ctx, { kind: 'source', path, id, label, allowed: ['event_time'] }, raw);
    if (read === undefined) continue;
    const eventTime = readEventTime(ctx, joinPath(path, 'event_time'), read.raw.event_time, id);
    out.push({ id, type: read.type, config: read.config, ...(eventTime ? { eventTime } : {}) });
  }
  return out;
}

function readSteps(ctx: BuildContext, value: unknown, declared: Map<string, Declared>): PendingStep[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    report(ctx, 'CONFIG_INVALID', 'steps', 'must be a list of steps, each starting with `- id:`');
    return [];
  }
  const out: PendingStep[] = [];
  for (const [index, raw] of value.entries()) {
    const path = joinPath('steps', index);
    const idPath = joinPath(path, 'id');
    let id: string | undefined;
    if (isRecord(raw)) {
      if (raw.id === undefined || raw.id === null) {
        report(ctx, 'CONFIG_INVALID', path, `step ${index + 1} has no 'id'; every step needs a unique id`);
      } else if (typeof raw.id !== 'string') {
        report(ctx, 'CONFIG_INVALID', idPath, 'must be a string');
      } else if (declare(ctx, declared, raw.id, idPath, 'step', at(ctx, idPath))) {
        id = raw.id;
      }
    }
    const label = id === undefined ? `step ${index + 1}` : `step '${id}'`;
    const read = readComponent(ctx, { kind: 'step', path, id, label, allowed: ['id', 'input'] }, raw);
    if (read !== undefined)
      out.push({ index, id, type: read.type, config: read.config, input: read.raw.input });
  }
  return out;
}

function resolveSteps(
  ctx: BuildContext,
  pending: readonly PendingStep[],
  sources: readonly PlanSource[],
  declared: ReadonlyMap<string, Declared>,
): PlanStep[] {
  const out: PlanStep[] = [];
  let previous: string | undefined;
  let first = true;
  for (const step of pending) {
    const path = joinPath('steps', step.index);
    let inputs: string[] = [];
    if (step.input === undefined || step.input === null) {
      const fallback = first ? onlySource(sources) : previous;
      if (fallback !== undefined) inputs = [fallback];
      else if (first && sources.length > 1) {
        report(
          ctx,
          'PLAN_MISSING_INPUT',
          path,
          `step '${step.id ?? step.index + 1}' has no 'input' and the pipeline has several sources (${sources.map((s) => s.id).join(', ')}); name one with 'input: <id>'`,
          step.id,
        );
      }
    } else {
      inputs = readInputs(ctx, step.input, joinPath(path, 'input'), declared, step.id);
    }
    first = false;
    previous = step.id;
    if (step.id !== undefined) out.push({ id: step.id, type: step.type, inputs, config: step.config });
  }
  return out;
}

function onlySource(sources: readonly PlanSource[]): string | undefined {
  return sources.length === 1 ? sources[0].id : undefined;
}

function readInputs(
  ctx: BuildContext,
  value: unknown,
  path: string,
  declared: ReadonlyMap<string, Declared>,
  step: string | undefined,
): string[] {
  if (typeof value === 'string') return checkInput(ctx, value, path, declared, step) ? [value] : [];
  if (!Array.isArray(value)) {
    report(ctx, 'CONFIG_INVALID', path, 'must be an id or a list of ids', step);
    return [];
  }
  if (value.length === 0) report(ctx, 'CONFIG_INVALID', path, 'must not be empty', step);
  const out: string[] = [];
  for (const [i, item] of value.entries()) {
    const itemPath = joinPath(path, i);
    if (typeof item !== 'string') report(ctx, 'CONFIG_INVALID', itemPath, 'must be an id', step);
    else if (out.includes(item)) report(ctx, 'CONFIG_INVALID', itemPath, `'${item}' is listed twice`, step);
    else if (checkInput(ctx, item, itemPath, declared, step)) out.push(item);
  }
  return out;
}

function checkInput(
  ctx: BuildContext,
  input: string,
  path: string,
  declared: ReadonlyMap<string, Declared>,
  step: string | undefined,
): boolean {
  // `<step>.<port>` reads a side output: the step is checked here, the port by resolvePlan.
  const { id, port } = parseStreamRef(input);
  if (port !== undefined && !portRule.test(port)) {
    report(
      ctx,
      'PLAN_MISSING_INPUT',
      path,
      `'${input}' is no id, nor a side output '<step>.<port>' (a port holds only letters, digits and '_')`,
      step,
    );
    return false;
  }
  const found = declared.get(id);
  if (found !== undefined && found.kind !== 'sink') return true;
  let message: string;
  if (found !== undefined) message = `'${id}' is a sink; an input must be a source or a step`;
  else {
    const readable = [...declared].filter(([, d]) => d.kind !== 'sink').map(([name]) => name);
    const guess = didYouMean(id, readable);
    message = `no source or step has id '${id}'${guess ? ` — did you mean '${guess}'?` : ''}`;
  }
  report(ctx, 'PLAN_MISSING_INPUT', path, message, step);
  return false;
}

function readSinks(
  ctx: BuildContext,
  entries: readonly [string, unknown][],
  sources: readonly PlanSource[],
  steps: readonly PlanStep[],
  declared: ReadonlyMap<string, Declared>,
): PlanSink[] {
  const out: PlanSink[] = [];
  const fallback = steps.length > 0 ? steps[steps.length - 1].id : onlySource(sources);
  for (const [id, raw] of entries) {
    const path = joinPath('sinks', id);
    const read = readComponent(
      ctx,
      { kind: 'sink', path, id, label: `sink '${id}'`, allowed: ['input'] },
      raw,
    );
    if (read === undefined) continue;
    const input = read.raw.input;
    const inputPath = joinPath(path, 'input');
    if (input === undefined || input === null) {
      if (fallback === undefined && sources.length > 1) {
        report(
          ctx,
          'PLAN_MISSING_INPUT',
          path,
          `sink '${id}' has no 'input' and the pipeline has no steps and several sources (${sources.map((s) => s.id).join(', ')}); name one with 'input: <id>'`,
          id,
        );
      }
      if (fallback !== undefined) out.push({ id, type: read.type, input: fallback, config: read.config });
    } else if (typeof input !== 'string') {
      report(ctx, 'CONFIG_INVALID', inputPath, 'a sink reads one input: must be a single id', id);
    } else if (checkInput(ctx, input, inputPath, declared, id)) {
      out.push({ id, type: read.type, input, config: read.config });
    }
  }
  return out;
}

function readOutput(
  ctx: BuildContext,
  value: unknown,
  path: 'dead_letter' | 'late_output',
): PlanOutput | undefined {
  if (value === undefined || value === null) return undefined;
  const read = readComponent(ctx, { kind: 'sink', path, label: path, allowed: [] }, value);
  return read === undefined ? undefined : { type: read.type, config: read.config };
}
