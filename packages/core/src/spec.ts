/**
 * Component specs: one declaration per source, sink, step and lookup type.
 *
 * A spec's TypeBox schema is the single source of its options: it validates YAML and TS configs
 * (with defaults applied), generates the reference page and the pipeline JSON Schema, answers
 * `sluice describe`, and marks secrets (`secret: true` on a field) for redaction.
 */

import type { Static, TSchema } from 'typebox';
import type { Sink, Source } from './connector.ts';
import type { Expr } from './expr/types.ts';
import type { Lookup, LookupInfo } from './lookup.ts';
import type { Operator, StepInfo } from './operator.ts';
import type { KeyContext, StreamKey } from './plan/keys.ts';
import type { PlanStep } from './plan/plan.ts';
import type { Schema, SchemaContext } from './plan/schema.ts';
import type { Registry } from './registry.ts';

/**
 * A delivery guarantee, as a source or sink states it for itself (what it means for each is in
 * {@link DELIVERY_MEANINGS}; a pipeline's end-to-end guarantee is the weaker of its source's and
 * its sink's). Each connector's description says what it means for that system.
 */
export type Delivery = 'at-most-once' | 'at-least-once' | 'exactly-once';

/** What each guarantee promises, for sources and for sinks; the reference pages quote it. */
export const DELIVERY_MEANINGS: {
  readonly source: { readonly [D in Delivery]: string };
  readonly sink: { readonly [D in Delivery]: string };
} = {
  source: {
    'exactly-once':
      'a restart resumes exactly at the positions of the checkpoint it restores: no record is lost, none is read twice',
    'at-least-once':
      'nothing acknowledged upstream is lost; records read after the last checkpoint may be read again',
    'at-most-once': 'records read after the last checkpoint may be lost in a crash; none is read twice',
  },
  sink: {
    'exactly-once':
      'what a completed checkpoint covers is written once, and nothing else is published after a failure: a restart writes each record exactly once',
    'at-least-once':
      'what a completed checkpoint covers is written; records written after it may be written again after a restart',
    'at-most-once': 'records written after the last checkpoint may be lost in a crash; none is written twice',
  },
};

/**
 * A connector's guarantee: one for every config, or chosen by the value of one option (the
 * `kafka` sink's `delivery`, the `http_server` source's `ack`), every value of which `values`
 * lists.
 */
export type DeliveryGuarantee<C = unknown> =
  | Delivery
  | { readonly option: keyof C & string; readonly values: { readonly [value: string]: Delivery } };

/** The guarantee a source or sink gives with `config` (validated, defaults applied). */
export function deliveryOf<C>(guarantee: DeliveryGuarantee<C>, config: C): Delivery {
  if (typeof guarantee === 'string') return guarantee;
  const value = String((config as { [option: string]: unknown })[guarantee.option]);
  const delivery = guarantee.values[value];
  if (delivery === undefined) {
    throw new Error(`the delivery guarantee names no value '${value}' of option '${guarantee.option}'`);
  }
  return delivery;
}

/**
 * What a stream is, as a changelog: `append` — inserts only; `upsert` — inserts, updates and
 * deletes of rows identified by a key, each update given by its new row alone; `retract` —
 * inserts, deletes and updates given as an UPDATE_BEFORE of the old row followed by an
 * UPDATE_AFTER of the new one, so that a consumer can fold it without knowing a key.
 */
export type ChangelogMode = 'append' | 'upsert' | 'retract';

/** Changelog modes from the least to the most updating: a stream's mode is the last of its inputs'. */
export const CHANGELOG_MODES: readonly ChangelogMode[] = ['append', 'upsert', 'retract'];

/** What a step takes and gives as a changelog, for the plan check. */
export interface StepChangelog {
  /** The modes of input the step takes; a step that takes only `['append']` never sees `Batch.kinds`. */
  readonly consumes: readonly ChangelogMode[];
  /** The mode of its output, or `input`: the mode of its input (the most updating of its inputs). */
  readonly produces: ChangelogMode | 'input';
  /**
   * Why the output updates, and how to make it append-only, when `produces` is an updating mode:
   * the plan check's message quotes it ("a result per key changes with every record; give it a
   * window to emit each result once").
   */
  readonly reason?: string;
}

/**
 * The changelog of a step that handles each record on its own (map, filter, validate, key_by,
 * union, the TypeScript function steps): it takes appends and retract streams and gives what it
 * takes, each output record with the kind of the record it came from. Not upsert streams: a
 * filter that drops the one update of a key, or a map that rewrites the key, would leave the
 * key's earlier row standing downstream, where a retract stream's UPDATE_BEFORE retracts it.
 */
export const PER_RECORD_CHANGELOG: StepChangelog = { consumes: ['append', 'retract'], produces: 'input' };

/**
 * What a source that reads a table's changes (database CDC, a compacted topic) gives as a
 * changelog: its records carry kinds (`SourceBatch.kinds`).
 */
export interface SourceChangelog {
  /** The mode of its records: `upsert` or `retract` (a source of appends declares none). */
  readonly mode: Exclude<ChangelogMode, 'append'>;
  /** The fields that identify a row of the table (its primary key): the stream's unique key. */
  readonly key: readonly string[];
  /** Why the stream updates, for the plan check's messages ("it reads the changes of table orders"). */
  readonly reason: string;
}

/** What a sink takes as a changelog, for the plan check. */
export interface SinkChangelog<C = unknown> {
  /** The modes of input the sink takes with this (validated) config. */
  consumes(config: C): readonly ChangelogMode[];
  /**
   * How to make the sink take an updating stream, for the plan check's message when its config
   * takes only appends: e.g. "set `changelog: debezium`, or `changelog: upsert` with `key`".
   */
  readonly hint: string;
  /**
   * The key this (validated) config upserts rows by, when it writes an updating stream as an
   * upsert changelog; absent or undefined: it does not. The plan check refuses it when it does
   * not cover the unique key of the stream it is given (`plan/keys.ts`).
   */
  upsertKey?(config: C): SinkUpsertKey | undefined;
  /**
   * The options that make the sink write upserts under `fields`, a table's primary key (SQL's
   * `PRIMARY KEY (…) NOT ENFORCED` on the table it writes); the SQL planner adds them to the
   * table's own options and refuses a table that sets one of them to another value. Absent: the
   * sink cannot take a primary key.
   */
  primaryKey?(fields: readonly string[]): { readonly [option: string]: unknown };
}

/** The key an upsert sink writes rows under: field names, or an expression over the record. */
export interface SinkUpsertKey {
  /** The config path of the option (`key`): where the plan check points. */
  readonly path: string;
  /**
   * The field names the option lists (`key: [region]`). Absent: the option is an SQL expression
   * the spec's `expressions` declares at `path`, and the fields it reads are the key.
   */
  readonly fields?: readonly string[];
}

/**
 * A config option holding an SQL expression: its text, or its text and how a syntax error in it
 * is worded (a `key` entry that must be a field name says so).
 */
export type ExpressionOption =
  | string
  | { readonly text: string; readonly syntaxMessage: (message: string) => string };

/**
 * The options of a config that hold SQL expressions, by config path as errors name them: `where`,
 * `fields.total`, `key[0]`, `order_by[1]`, `stages[2].where`.
 */
export type ExpressionOptions = { readonly [path: string]: ExpressionOption };

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
  /**
   * What a restart from a checkpoint guarantees about the records read (see {@link Delivery}); the
   * description says what it means for this system.
   */
  readonly delivery: DeliveryGuarantee<Static<S>>;
  /** Whether the input ends by itself (a file read once, a counted generator). */
  bounded?(config: Static<S>): boolean;
  /** What its records look like, where known (see `plan/schema.ts`). Absent: unknown. */
  schema?(config: Static<S>): Schema;
  /**
   * The changelog its records form with this (validated) config, when they are a table's changes
   * rather than appends; absent or undefined: appends.
   */
  changelog?(config: Static<S>): SourceChangelog | undefined;
  /**
   * The metadata of its records a SQL table reads as `METADATA [FROM 'key']` columns, by key
   * (Kafka's `partition`, `offset`, `timestamp`, …). Absent: none.
   */
  readonly metadata?: { readonly [key: string]: SourceMetadata };
  create(config: Static<S>): Source;
}

/** One metadata value a source gives each record, for SQL's `METADATA` columns. */
export interface SourceMetadata {
  /** The SQL expression over the record that reads it (`_kafka.partition`). */
  readonly expression: string;
  /** What it holds, for the reference page and error messages. */
  readonly description: string;
  /**
   * Options the source needs to give it (`include_metadata: true`): the SQL planner sets them
   * when the table leaves them out, and refuses a table that sets them otherwise.
   */
  readonly requires?: { readonly [option: string]: unknown };
}

/** What a sink factory knows of its place in the plan. */
export interface SinkInfo {
  /** The sink's id (`$dead_letter` / `$late_output` for those outputs). */
  readonly id: string;
  /**
   * The tree of the expression at config `path`, one the spec's `expressions` declares, as plan
   * resolution parsed it. Throws INTERNAL for a path the spec does not declare.
   */
  expression(path: string): Expr;
  /**
   * What the plan knows of the key of the stream the sink reads (`Plan.keys[input]`): its
   * partition key and unique keys. Absent for the dead-letter and late outputs, and when unknown.
   */
  readonly inputKey?: StreamKey;
}

export interface SinkSpec<S extends TSchema = TSchema> extends SpecBase<S> {
  readonly kind: 'sink';
  /**
   * What a restart from a checkpoint guarantees about the records written (see {@link Delivery});
   * the description says what it means for this system.
   */
  readonly delivery: DeliveryGuarantee<Static<S>>;
  /** Absent: the sink takes only appends (the plan check refuses an updating input). */
  readonly changelog?: SinkChangelog<Static<S>>;
  /**
   * The options of this (validated) config that hold SQL expressions (a Kafka message's key), as
   * for steps (`StepSpec.expressions`): plan resolution parses each once and `create` gets the
   * trees through `sink.expression`.
   */
  expressions?(config: Static<S>): ExpressionOptions;
  /**
   * Builds the sink without I/O. A job always passes `sink`; a sink with `expressions` compiles
   * the trees it gives, and parses its config's text only when called without it (outside a job).
   */
  create(config: Static<S>, sink?: SinkInfo): Sink;
}

export interface StepSpec<S extends TSchema = TSchema> extends SpecBase<S> {
  readonly kind: 'step';
  /**
   * For a step whose operator keeps state: the options that shape that state (key, window,
   * aggregate fields), so a job refuses a checkpoint whose state was built with other values.
   * Absent: every option counts. Steps without state are never compared.
   */
  readonly state?: readonly (keyof Static<S> & string)[];
  /**
   * What the step takes and gives as a changelog with this (validated) config. Absent: it takes
   * only appends and gives appends.
   */
  changelog?(config: Static<S>): StepChangelog;
  /**
   * The options of this (validated) config that hold SQL expressions — the one list of them.
   * Plan resolution parses each once, reports a syntax error at its path before any operator
   * exists, and puts the trees in the plan (`PlanStep.expressions`), where `schema`
   * (`ctx.expression`, `ctx.check`) and `create` (`step.expression`) read them: neither parses
   * text. Absent: the step has no expressions.
   */
  expressions?(config: Static<S>): ExpressionOptions;
  /**
   * The schema of the step's output from its inputs' schemas (in port order), checking its
   * expressions against them with `ctx.check` (see `plan/schema.ts`). Absent: the output's
   * shape is unknown, and nothing is checked before the job runs.
   */
  schema?(config: Static<S>, inputs: readonly Schema[], ctx: SchemaContext): Schema;
  /**
   * The keys of the step's output — its partition key and its unique keys — from its inputs'
   * (in port order), run after the schemas are known (see `plan/keys.ts`). Plain data; a rule
   * that throws a SluiceError leaves the key unknown. Absent: unknown, so nothing downstream is
   * refused on a guess.
   */
  key?(config: Static<S>, inputs: readonly StreamKey[], ctx: KeyContext): StreamKey;
  /**
   * Every named side output the step can have, beside its main output: the ports its operator
   * may emit to with `Output.emitTo`, which a step or sink reads as `input: <step id>.<port>`.
   * The reference pages and `sluice describe` list them. Absent: the main output only.
   */
  readonly sideOutputs?: readonly SideOutput[];
  /**
   * The names of the side outputs the step has with this (validated) config, of those
   * `sideOutputs` lists (the `pattern` step has `timeouts` only with `timeouts: side_output`).
   * Absent: all of them.
   */
  outputs?(config: Static<S>): readonly string[];
  /**
   * For a step that stands for other steps (SQL's `sql` step): the steps it stands for, with
   * their inputs among this step's and each other's. Plan resolution replaces the step by them
   * before anything else, knowing what its inputs are (see {@link ExpandContext}); one of them
   * takes this step's id, so what reads the step reads it. Such a step is never created.
   */
  expand?(config: Static<S>, ctx: ExpandContext): readonly PlanStep[];
  create(config: Static<S>, step: StepInfo): Operator;
}

/** What `StepSpec.expand` gets besides its config. */
export interface ExpandContext {
  /** The step's id, which one of the steps it stands for must take. */
  readonly step: string;
  /** What it reads, in port order. */
  readonly inputs: readonly string[];
  /** The schema of each input, as the plan upstream of the step gives it. */
  readonly inputSchemas: readonly Schema[];
  /** Per input, the field its records' event time was read from, where a source read it from one. */
  readonly inputTimeFields: readonly (string | undefined)[];
  /** The registry the plan is resolved with (a step may plan with its components). */
  readonly registry: Registry;
}

/**
 * A named side output of a step (Flink's `OutputTag`): a stream of its own beside the main
 * output, with its own changelog mode and schema, read by `<step id>.<port>`.
 */
export interface SideOutput {
  /** The port name: a lowercase identifier (`timeouts`), unique among the step's side outputs. */
  readonly name: string;
  /** What the port carries, for `sluice describe`, the reference pages and plan errors. */
  readonly description: string;
  /** Its changelog mode, or `input`: the mode of the step's input. Default: `append`. */
  readonly produces?: ChangelogMode | 'input';
  /**
   * Its records' schema, given the step's inputs' schemas and the schema of its main output
   * (computed first). Absent: unknown.
   */
  schema?(inputs: readonly Schema[], main: Schema): Schema;
  /** Its keys, given the step's inputs' keys and its main output's (computed first). Absent: unknown. */
  key?(inputs: readonly StreamKey[], main: StreamKey): StreamKey;
}

/** The side outputs a step of `spec` has with `config` (validated, defaults applied). */
export function sideOutputsOf(spec: StepSpec | undefined, config: unknown): readonly SideOutput[] {
  const all = spec?.sideOutputs ?? [];
  if (all.length === 0 || spec?.outputs === undefined) return all;
  const names = spec.outputs(config as never);
  return all.filter((o) => names.includes(o.name));
}

/**
 * A lookup type: a table the `lookup` step reads rows from by key (`table: { type: http, … }`).
 * `create` checks the config and builds the lookup without I/O; `Lookup.open` does the I/O.
 */
export interface LookupSpec<S extends TSchema = TSchema> extends SpecBase<S> {
  readonly kind: 'lookup';
  create(config: Static<S>, info: LookupInfo): Lookup;
}

export type ComponentSpec = SourceSpec | SinkSpec | StepSpec | LookupSpec;

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

/** Declares a lookup type. */
export function defineLookup<S extends TSchema>(spec: Omit<LookupSpec<S>, 'kind'>): LookupSpec<S> {
  return { ...spec, kind: 'lookup' };
}

/** A plugin: a named set of component specs, registered explicitly with the runtime. */
export interface Plugin {
  readonly name: string;
  readonly components: readonly ComponentSpec[];
}
