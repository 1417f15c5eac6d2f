/**
 * Component specs: one declaration per source, sink and step type.
 *
 * A spec's TypeBox schema is the single source of its options: it validates YAML and TS configs
 * (with defaults applied), generates the reference page and the pipeline JSON Schema, answers
 * `sluice describe`, and marks secrets (`secret: true` on a field) for redaction.
 */

import type { Static, TSchema } from 'typebox';
import type { Sink, Source } from './connector.ts';
import type { Operator, StepInfo } from './operator.ts';

export type Delivery = 'at-most-once' | 'at-least-once' | 'exactly-once';

interface SpecBase<S extends TSchema> {
  /** Lowercase snake_case name used as `type:` in pipelines. */
  readonly type: string;
  /** One sentence: what it does. */
  readonly summary: string;
  /** Longer reference text (Markdown). */
  readonly description?: string;
  readonly config: S;
  /** A YAML example of the component's options. */
  readonly example?: string;
}

export interface SourceSpec<S extends TSchema = TSchema> extends SpecBase<S> {
  readonly kind: 'source';
  /**
   * The options that decide which data the source reads (a file path; a topic and group): a
   * checkpoint's positions of this source hold only while they are unchanged, so a job refuses a
   * checkpoint taken with other values. Absent: every option counts.
   */
  readonly identity?: readonly (keyof Static<S> & string)[];
  /** Whether the input ends by itself (a file read once, a counted generator). */
  bounded?(config: Static<S>): boolean;
  create(config: Static<S>): Source;
}

export interface SinkSpec<S extends TSchema = TSchema> extends SpecBase<S> {
  readonly kind: 'sink';
  readonly delivery: Delivery;
  create(config: Static<S>): Sink;
}

export interface StepSpec<S extends TSchema = TSchema> extends SpecBase<S> {
  readonly kind: 'step';
  /**
   * For a step whose operator keeps state: the options that shape that state (key, window,
   * aggregate fields), so a job refuses a checkpoint whose state was built with other values.
   * Absent: every option counts. Steps without state are never compared.
   */
  readonly state?: readonly (keyof Static<S> & string)[];
  create(config: Static<S>, step: StepInfo): Operator;
}

export type ComponentSpec = SourceSpec | SinkSpec | StepSpec;

/** Declares a source type. */
export function defineSource<S extends TSchema>(spec: Omit<SourceSpec<S>, 'kind'>): SourceSpec<S> {
  return { ...spec, kind: 'source' };
}

/** Declares a sink type. */
export function defineSink<S extends TSchema>(spec: Omit<SinkSpec<S>, 'kind'>): SinkSpec<S> {
  return { ...spec, kind: 'sink' };
}

/** Declares a step type. */
export function defineStep<S extends TSchema>(spec: Omit<StepSpec<S>, 'kind'>): StepSpec<S> {
  return { ...spec, kind: 'step' };
}

/** A plugin: a named set of component specs, registered explicitly with the runtime. */
export interface Plugin {
  readonly name: string;
  readonly components: readonly ComponentSpec[];
}
