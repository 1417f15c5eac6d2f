/**
 * Sources, sinks and lookup tables in the TypeScript API: `file({...})`, `fileSink({...})`,
 * `httpTable({...})`, … .
 *
 * A definition is the component type plus its config, exactly as a YAML pipeline would give it;
 * the config is validated against the component's spec when the job starts.
 */

import type { Static, TSchema } from 'typebox';
import type { EventTimeConfig } from '../plan/plan.ts';
import type { Row } from '../record.ts';
import type { LookupSpec, SinkSpec, SourceSpec } from '../spec.ts';
import { parseDuration } from '../time.ts';

/** How a TypeScript source assigns event time. */
export interface EventTimeOptions {
  field?: string;
  expression?: string;
  maxOutOfOrderness?: string | number;
  idleTimeout?: string | number;
}

/** A source to read records of type `T` from. */
export interface SourceDefinition<T = Row> {
  readonly type: string;
  readonly config: unknown;
  readonly eventTime?: EventTimeConfig;
  /** Phantom: the record type. */
  readonly record?: T;
}

export interface SinkDefinition {
  readonly type: string;
  readonly config: unknown;
}

/** Options of a component: its config fields (defaults may be left out). */
export type ComponentOptions<S extends TSchema> = Partial<Static<S>>;

function eventTimeConfig(options: EventTimeOptions): EventTimeConfig {
  const config: EventTimeConfig = {
    maxOutOfOrderness: parseDuration(options.maxOutOfOrderness ?? 0, 'eventTime.maxOutOfOrderness'),
  };
  if (options.field !== undefined) config.field = options.field;
  if (options.expression !== undefined) config.expression = options.expression;
  if (options.idleTimeout !== undefined)
    config.idleTimeout = parseDuration(options.idleTimeout, 'eventTime.idleTimeout');
  return config;
}

/** Makes a typed source helper from a source spec: `const file = sourceOf(fileSource)`. */
export function sourceOf<S extends TSchema>(spec: SourceSpec<S>) {
  return <T = Row>(options: ComponentOptions<S> & { eventTime?: EventTimeOptions }): SourceDefinition<T> => {
    const { eventTime, ...config } = options;
    return eventTime
      ? { type: spec.type, config, eventTime: eventTimeConfig(eventTime) }
      : { type: spec.type, config };
  };
}

/** Makes a typed sink helper from a sink spec. */
export function sinkOf<S extends TSchema>(spec: SinkSpec<S>) {
  return (options: ComponentOptions<S>): SinkDefinition => ({ type: spec.type, config: options });
}

/** A lookup table for `.lookup(...)`: a lookup type and its config. */
export interface LookupDefinition {
  readonly type: string;
  /** Its options (the lookup type's config; defaults may be left out). */
  readonly config: { readonly [option: string]: unknown };
}

/** Makes a typed lookup-table helper from a lookup spec: `const httpTable = lookupOf(httpLookup)`. */
export function lookupOf<S extends TSchema>(spec: LookupSpec<S>) {
  return (options: ComponentOptions<S>): LookupDefinition => ({ type: spec.type, config: options });
}
