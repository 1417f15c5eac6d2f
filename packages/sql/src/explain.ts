/**
 * `EXPLAIN`: the plan an INSERT gives, in words — each source, step and sink it runs through, in
 * order, with the config the planner wrote, the changelog mode of its output (and why it is
 * updating), the key the plan knows for it, and what state it keeps. The modes and keys are
 * those `resolvePlan` and the changelog check compute for every pipeline, YAML or SQL.
 */

import {
  type ChangelogMode,
  checkChangelogs,
  describePartition,
  type Plan,
  type PlanStep,
  type Registry,
  resolvePlan,
  type StreamKey,
} from '@sluice/core';
import type { Explain } from './ast.ts';
import type { Positions } from './position.ts';

/** The id of the step a stream reference (`<step>` or `<step>.<port>`) names. */
function refId(ref: string): string {
  return ref.split('.')[0];
}

/** The ids that `sinks` read, directly or through steps. */
function upstream(plan: Plan, sinks: readonly string[]): Set<string> {
  const steps = new Map(plan.steps.map((s) => [s.id, s]));
  const seen = new Set<string>();
  const visit = (ref: string) => {
    const id = refId(ref);
    if (seen.has(id)) return;
    seen.add(id);
    for (const input of steps.get(id)?.inputs ?? []) visit(input);
  };
  for (const sink of plan.sinks.filter((k) => sinks.includes(k.id))) {
    seen.add(sink.id);
    visit(sink.input);
  }
  return seen;
}

function describeKey(key: StreamKey | undefined): string {
  if (key === undefined) return 'partitioning unknown';
  const unique = (key.unique ?? []).map((u) => (u.length === 0 ? 'one row' : `[${u.join(', ')}]`));
  return `partitioning: ${describePartition(key.partition)}${unique.length > 0 ? `; unique key ${unique.join(' or ')}` : ''}`;
}

/** What state a step keeps, from its spec and config; undefined for a stateless step. */
function describeState(step: PlanStep, registry: Registry): string | undefined {
  const spec = registry.step(step.type);
  if (spec?.state === undefined) return undefined;
  const config = step.config as { window?: unknown; ttl?: unknown };
  const properties = (spec.config as { properties?: { [key: string]: unknown } }).properties ?? {};
  if (config.window !== undefined || step.type === 'window_top_n')
    return 'per key and window, dropped as each window fires';
  const frame = step.config as { rows?: unknown; range?: unknown };
  if (
    step.type === 'over_aggregate' &&
    frame.rows === undefined &&
    typeof frame.range === 'string' &&
    frame.range !== 'unbounded'
  )
    return `per key, the rows of the last ${frame.range} (its RANGE frame), dropped as time passes them`;
  if (config.ttl !== undefined)
    return `per key, forgotten ${String(config.ttl)} after it was last written (ttl)`;
  if (Object.hasOwn(properties, 'ttl'))
    return "per key, for the life of the job (SET 'table.exec.state.ttl' bounds it)";
  if (step.type === 'pattern') {
    // MATCH_RECOGNIZE: partial matches and rows waiting for the watermark, per key.
    const c = step.config as { within?: unknown; stages?: { quantifier?: string }[] };
    const endless = (c.stages ?? []).some((x) => /[+*]|,\}/.test(x.quantifier ?? ''));
    if (c.within !== undefined)
      return `per key: partial matches, each dropped ${String(c.within)} after its first row (WITHIN), and rows waiting for the watermark`;
    return endless
      ? 'per key: partial matches, which may grow without bound (a quantifier without an upper bound keeps taking rows, and there is no WITHIN; table.exec.state.ttl does not apply, as in Flink), and rows waiting for the watermark'
      : 'per key: partial matches (as long as the pattern at most), and rows waiting for the watermark';
  }
  return 'kept in checkpoints';
}

function describeMode(mode: ChangelogMode | undefined, reason?: string): string {
  const m = mode ?? 'append';
  return m === 'append' ? 'append-only' : `${m} changelog${reason ? ` (${reason})` : ''}`;
}

/**
 * The explanation of each EXPLAIN statement of a script whose plan is `plan` (planned with the
 * EXPLAINs' inserts, see `planStatements`): resolves the plan (so its errors are the errors the
 * script would have) and lists, per statement, what its sinks read.
 */
export function explainPlan(
  plan: Plan,
  explained: ReadonlyMap<Explain, readonly string[]>,
  registry: Registry,
  positions: Positions,
): string {
  const resolved = resolvePlan(plan, registry);
  const modes = new Map<string, ChangelogMode>();
  checkChangelogs(resolved, registry, modes);
  const keys = resolved.keys ?? {};
  const configs = new Map<string, unknown>([
    ...plan.sources.map((s): [string, unknown] => [s.id, s.config]),
    ...plan.steps.map((s): [string, unknown] => [s.id, s.config]),
    ...plan.sinks.map((s): [string, unknown] => [s.id, s.config]),
  ]);
  const out: string[] = [];
  for (const [statement, sinks] of explained) {
    const { line, column } = positions.at(statement.start);
    const into = statement.inserts.map((i) => i.sink.text).join(', ');
    out.push(`== EXPLAIN INSERT INTO ${into} (line ${line}, column ${column}) ==`);
    const ids = upstream(resolved, sinks);
    for (const s of resolved.sources.filter((x) => ids.has(x.id))) {
      out.push(`source ${s.id} (${s.type}) → append-only`);
      out.push(`  config ${JSON.stringify(configs.get(s.id))}`);
      if (s.eventTime)
        out.push(
          `  event time from ${s.eventTime.field !== undefined ? `'${s.eventTime.field}'` : `${(s.eventTime.expression ?? 'the source').replace(/\s+/g, ' ')}`}, at most ${s.eventTime.maxOutOfOrderness} ms out of order`,
        );
    }
    for (const s of resolved.steps.filter((x) => ids.has(x.id))) {
      const declared = registry.step(s.type)?.changelog?.(s.config as never);
      const reason = declared?.produces !== 'append' ? declared?.reason : undefined;
      out.push(
        `step ${s.id} (${s.type}) ← ${s.inputs.join(', ')} → ${describeMode(modes.get(s.id), reason)}`,
      );
      out.push(`  config ${JSON.stringify(configs.get(s.id))}`);
      out.push(`  ${describeKey(keys[s.id])}`);
      const state = describeState(s, registry);
      if (state !== undefined) out.push(`  state: ${state}`);
    }
    for (const s of resolved.sinks.filter((x) => ids.has(x.id))) {
      out.push(`sink ${s.id} (${s.type}) ← ${s.input}: takes the ${describeMode(modes.get(s.input))} stream`);
      out.push(`  config ${JSON.stringify(configs.get(s.id))}`);
    }
    out.push('');
  }
  return out.join('\n');
}
