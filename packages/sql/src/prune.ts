/**
 * Column pruning, after fusion: a `map` the planner wrote (`select` and `fields` only) drops the
 * output columns that nothing after it reads, so a join keeps only the columns its query reads in
 * its state, and an aggregate's input carries only its key and arguments. Flink's optimizer does
 * the same (projection push-down through joins and aggregates): Nexmark q4's join held every
 * column of the `auction` and `bid` views, where it reads four of one and three of the other.
 *
 * What a step reads is followed through the steps whose reads are known: a filter (its `where`,
 * and what its readers read, since it passes the record on), a map (its expressions and selected
 * names), a join (its `on` and `fields`, each side read as `<input id>.<column>`; without
 * `fields` its output is the pair, so what the steps after it read of that side), an aggregate
 * with a `key` (the key and its `fields`). A column read by any other step, or by a sink, or a
 * side read whole (`"auction-select"` without a member), keeps every column. Only a map whose
 * input is append-only is pruned: a changelog's key and retractions stay as they were. Maps keep
 * no state, so pruning one changes no state layout but that of the steps after it — the join's
 * rows are smaller.
 */

import {
  type ChangelogMode,
  checkChangelogs,
  childrenOf,
  type Expr,
  formatExpression,
  type Plan,
  parseExpression,
  type Registry,
  resolvePlan,
} from '@sluice/core';
import { mapConfig, type Step } from './plan-steps.ts';

/** The columns read of a record (or of one side of a join's pair), or every one. */
type Reads = Set<string> | 'all';

const JOIN_OPTIONS = new Set(['on', 'kind', 'between', 'temporal', 'window', 'fields', 'ttl', 'on_late']);
const AGGREGATE_OPTIONS = new Set(['key', 'window', 'time', 'fields', 'allowed_lateness', 'on_late', 'ttl']);

function stringsOf(value: unknown): string[] | undefined {
  if (value === undefined) return [];
  if (Array.isArray(value)) return value.every((v) => typeof v === 'string') ? value : undefined;
  if (typeof value === 'string') return [value];
  if (typeof value === 'object' && value !== null) return stringsOf(Object.values(value));
  return undefined;
}

/**
 * Adds to `out` the columns `text` reads: of the record (`side` undefined), or of the join side
 * read as `side` (`"side".column`). False when it reads the whole side, or does not parse.
 */
function addReads(text: string, side: string | undefined, out: Set<string>): boolean {
  let expr: Expr;
  try {
    expr = parseExpression(text);
  } catch {
    return false;
  }
  let whole = false;
  const visit = (e: Expr): void => {
    if (side === undefined && e.kind === 'field') out.add(e.name);
    else if (side !== undefined && e.kind === 'member' && e.object.kind === 'field' && e.object.name === side)
      out.add(e.name);
    else if (side !== undefined && e.kind === 'field' && e.name === side) whole = true;
    else for (const c of childrenOf(e)) visit(c);
  };
  visit(expr);
  return !whole;
}

function union(into: Set<string>, reads: Reads): boolean {
  if (reads === 'all') return false;
  for (const name of reads) into.add(name);
  return true;
}

/** What the steps and sinks reading `id` read of its records (of its pair's side `side`, for a join). */
function readsOf(
  id: string,
  side: string | undefined,
  steps: readonly Step[],
  sinks: readonly { readonly input: string }[],
): Reads {
  if (sinks.some((k) => k.input === id)) return 'all';
  const out = new Set<string>();
  for (const reader of steps.filter((s) => s.inputs.includes(id))) {
    const config = reader.config as { [option: string]: unknown };
    const map = mapConfig(reader);
    if (reader.type === 'filter') {
      const where = config.where;
      if (Object.keys(config).length !== 1 || typeof where !== 'string' || !addReads(where, side, out))
        return 'all';
      if (!union(out, readsOf(reader.id, side, steps, sinks))) return 'all';
    } else if (map !== undefined) {
      if (map.select.some((name) => side === undefined || name === side)) {
        if (side !== undefined) return 'all';
        for (const name of map.select) out.add(name);
      }
      if (!Object.values(map.fields).every((text) => addReads(text, side, out))) return 'all';
    } else if (reader.type === 'join' && side === undefined) {
      if (Object.keys(config).some((k) => !JOIN_OPTIONS.has(k))) return 'all';
      if (reader.inputs.length !== 2 || reader.inputs[0] === reader.inputs[1] || id.includes('.'))
        return 'all';
      const texts = [...(stringsOf(config.on) ?? []), ...(stringsOf(config.fields) ?? [])];
      if (typeof config.on !== 'string' || !texts.every((text) => addReads(text, id, out))) return 'all';
      if (config.fields === undefined && !union(out, readsOf(reader.id, id, steps, sinks))) return 'all';
    } else if (reader.type === 'aggregate' && side === undefined) {
      if (Object.keys(config).some((k) => !AGGREGATE_OPTIONS.has(k))) return 'all';
      const key = stringsOf(config.key);
      const fields = stringsOf(config.fields);
      if (config.key === undefined || key === undefined || fields === undefined) return 'all';
      if (![...key, ...fields].every((text) => addReads(text, undefined, out))) return 'all';
    } else return 'all';
  }
  return out;
}

/** What a source's event time is read from (`event_time.field` or `.expression`), normalized. */
function timeAttributes(plan: Plan): Set<string> {
  const out = new Set<string>();
  for (const source of plan.sources) {
    const time = source.eventTime;
    for (const text of [time?.field, time?.expression])
      if (typeof text === 'string') out.add(normalized(text) ?? text);
  }
  return out;
}

function normalized(text: string): string | undefined {
  try {
    return formatExpression(parseExpression(text));
  } catch {
    return undefined;
  }
}

/**
 * Drops, in place, the columns of the planner's maps in `steps` that nothing downstream reads,
 * keeping each column that copies a source's event time (a time attribute); `plan` gives the
 * sources and sinks, and resolves to give each stream's changelog mode. Returns whether a map
 * changed.
 */
export function pruneColumns(steps: Step[], plan: Plan, registry: Registry): boolean {
  const modes = appendModes({ ...plan, steps }, registry);
  const times = timeAttributes(plan);
  const sinks = plan.sinks;
  let pruned = false;
  for (let changed = true; changed; ) {
    changed = false;
    // Downstream first: a pruned map reads less of the map before it.
    for (let i = steps.length - 1; i >= 0; i--) {
      const step = steps[i] as Step;
      const map = mapConfig(step);
      if (map === undefined || step.inputs.length !== 1 || modes.get(step.inputs[0] as string) !== 'append')
        continue;
      const reads = readsOf(step.id, undefined, steps, sinks);
      if (reads === 'all') continue;
      const select = map.select.filter((name) => reads.has(name) || times.has(name));
      const fields = Object.entries(map.fields).filter(
        ([name, text]) => reads.has(name) || times.has(normalized(text) ?? text),
      );
      const kept = select.length + fields.length;
      if (kept === 0 || kept === map.select.length + Object.keys(map.fields).length) continue;
      steps[i] = { ...step, config: { select, fields: Object.fromEntries(fields) } };
      pruned = changed = true;
    }
  }
  return pruned;
}

/**
 * The changelog mode of each stream of `plan` (its steps fused: fusion keeps each stream's mode);
 * empty when the plan does not resolve.
 */
function appendModes(plan: Plan, registry: Registry): Map<string, ChangelogMode> {
  const modes = new Map<string, ChangelogMode>();
  try {
    checkChangelogs(resolvePlan(plan, registry), registry, modes);
  } catch {
    modes.clear();
  }
  return modes;
}
