/**
 * One source, step, sink or output of a pipeline file: its type looked up in the registry and
 * the rest of its keys validated as that component's config.
 */

import { validateConfig } from '../plan/config.ts';
import { isRecord, joinPath } from '../plan/config-path.ts';
import { didYouMean } from '../plan/config-suggest.ts';
import { reservedComponentKeys } from '../plan/json-schema-sections.ts';
import type { ComponentSpec } from '../spec.ts';
import { type BuildContext, report, reportConfigIssues, reportKey, variablesUnder } from './build-context.ts';

type Kind = ComponentSpec['kind'];

/** Where a component sits and which of the reserved keys it may have. */
export interface ComponentPlace {
  readonly kind: Kind;
  /** Path of the component, e.g. `sources.orders`, `steps[1]`, `dead_letter`. */
  readonly path: string;
  /** Its id; absent for dead_letter and late_output. */
  readonly id?: string;
  /** How messages name it, e.g. `source 'orders'`. */
  readonly label: string;
  /** Reserved keys (`id`, `input`, `event_time`) this component may carry besides `type`. */
  readonly allowed: readonly string[];
}

/** A component's type and validated config (defaults applied). */
export interface ComponentRead {
  readonly type: string;
  readonly config: unknown;
  /** The component's map as written, for its reserved keys. */
  readonly raw: { readonly [key: string]: unknown };
}

/** Reads the component at `place`; undefined when it is not a map or its type is unusable. */
export function readComponent(
  ctx: BuildContext,
  place: ComponentPlace,
  raw: unknown,
): ComponentRead | undefined {
  const { kind, path, id } = place;
  if (!isRecord(raw)) {
    report(ctx, 'CONFIG_INVALID', path, `${place.label} must be a map with a 'type' and its options`, id);
    return undefined;
  }
  const type = readType(ctx, place, raw.type);
  for (const key of reservedComponentKeys) {
    if (key === 'type' || !Object.hasOwn(raw, key) || place.allowed.includes(key)) continue;
    if (key === 'id' && raw.id === id) continue;
    reportKey(ctx, 'CONFIG_INVALID', joinPath(path, key), reservedKeyMessage(key, place), id);
  }
  if (type === undefined) return undefined;
  const spec = lookup(ctx, kind, type);
  if (spec === undefined) return undefined;
  const config: { [key: string]: unknown } = {};
  for (const [key, value] of Object.entries(raw)) {
    if (!(reservedComponentKeys as readonly string[]).includes(key)) {
      Object.defineProperty(config, key, { value, enumerable: true, writable: true, configurable: true });
    }
  }
  const result = validateConfig(spec.config, config, variablesUnder(ctx, path));
  if (!result.ok) {
    reportConfigIssues(ctx, path, result.issues, id);
    return { type, config, raw };
  }
  return { type, config: readLookups(ctx, place, spec, result.value), raw };
}

/**
 * A step's options marked `lookup: true` (a `lookup` step's `table`) validated as the lookup type
 * they name, here rather than only in the step's factory, so that every problem is reported with
 * its line, and a secret inside (a header) given as a lone `${VAR}` stays text.
 */
function readLookups(
  ctx: BuildContext,
  place: ComponentPlace,
  spec: ComponentSpec,
  config: unknown,
): unknown {
  const schema: unknown = spec.config;
  const options = isRecord(schema) ? schema.properties : undefined;
  if (spec.kind !== 'step' || !isRecord(config) || !isRecord(options)) return config;
  let out = config;
  for (const [name, option] of Object.entries(options)) {
    const table = config[name];
    if (!isRecord(option) || option.lookup !== true || !isRecord(table) || typeof table.type !== 'string')
      continue;
    const lookupSpec = ctx.registry.lookup(table.type);
    if (lookupSpec === undefined) continue; // the factory names the known types
    const path = joinPath(place.path, name);
    const { type, ...rest } = table;
    const result = validateConfig<{ [option: string]: unknown }>(
      lookupSpec.config,
      rest,
      variablesUnder(ctx, path),
    );
    if (!result.ok) {
      reportConfigIssues(ctx, path, result.issues, place.id);
      continue;
    }
    out = { ...out, [name]: { type, ...result.value } };
  }
  return out;
}

function readType(ctx: BuildContext, place: ComponentPlace, value: unknown): string | undefined {
  const { kind, path, id } = place;
  const known = ctx.registry.types(kind);
  if (value === undefined || value === null) {
    report(ctx, 'CONFIG_INVALID', path, `${place.label} has no 'type'; ${knownTypes(kind, known)}`, id);
    return undefined;
  }
  const typePath = joinPath(path, 'type');
  if (typeof value !== 'string') {
    report(
      ctx,
      'CONFIG_INVALID',
      typePath,
      `must be the name of a ${kind} type; ${knownTypes(kind, known)}`,
      id,
    );
    return undefined;
  }
  if (lookup(ctx, kind, value) !== undefined) return value;
  const guess = didYouMean(value, known);
  const other = (['source', 'step', 'sink'] as const).find(
    (k) => k !== kind && lookup(ctx, k, value) !== undefined,
  );
  const elsewhere = other ? ` ('${value}' is a ${other} type)` : '';
  const list = knownTypes(kind, known);
  const message = guess
    ? `unknown ${kind} type '${value}'${elsewhere} — did you mean '${guess}'? (${list})`
    : `unknown ${kind} type '${value}'${elsewhere}; ${list}`;
  report(ctx, 'PLAN_UNKNOWN_TYPE', typePath, message, id);
  return undefined;
}

function lookup(ctx: BuildContext, kind: Kind, type: string): ComponentSpec | undefined {
  if (kind === 'source') return ctx.registry.source(type);
  if (kind === 'step') return ctx.registry.step(type);
  if (kind === 'lookup') return ctx.registry.lookup(type);
  return ctx.registry.sink(type);
}

function knownTypes(kind: Kind, known: readonly string[]): string {
  if (known.length === 0) return `no ${kind} types are registered (is a plugin missing?)`;
  return `known ${kind} types: ${known.join(', ')}`;
}

function reservedKeyMessage(key: string, place: ComponentPlace): string {
  if (place.id === undefined) return `'${key}' is not allowed in ${place.path}`;
  if (key === 'id') return `the id of a ${place.kind} is its key ('${place.id}'); remove 'id'`;
  if (key === 'input') return 'a source reads no input; only steps and sinks have one';
  return "'event_time' belongs on a source, not on a step or sink";
}
