/**
 * Keys: what each stream of a plan is keyed by, in the two senses a planner keeps apart (Flink's
 * distribution and its unique/upsert keys), and the check that an upsert sink writes an updating
 * stream under the key that identifies its rows.
 *
 * The **partition key** says how the records are grouped for keyed state: the key a `key_by` puts
 * beside them (`Batch.keys`), which keyed steps after it group by. The **unique key** says which
 * fields identify a row of the table the stream describes as a changelog: every insert, every
 * update-before/update-after pair and every delete of an updating stream names its row by them,
 * so a sink that upserts by other fields would merge rows that differ, or leave behind rows that
 * were deleted. The two differ: a `key_by` partitions without making anything unique; an
 * aggregate's results are unique on its group key (and window bounds).
 *
 * Each step declares how its output's keys follow from its inputs' (`StepSpec.key`); steps that
 * handle each record on its own keep what passes through them unchanged. A source's records are
 * not partitioned and have no known unique key, but a source of a table's changes declares its
 * primary key; a step without a rule gives an unknown key — and
 * an unknown key is never used to refuse a plan.
 */

import { SluiceError } from '../errors.ts';
import { childrenOf, type Expr, formatExpression, formatName } from '../expr/index.ts';
import type { Registry } from '../registry.ts';
import { sideOutputsOf } from '../spec.ts';
import { expressionAt } from './expressions.ts';
import type { Plan, PlanSink } from './plan.ts';
import { stepsInOrder } from './resolve.ts';
import { type Schema, UNKNOWN_SCHEMA } from './schema.ts';

/**
 * What a stream's records are partitioned by for keyed state (`Batch.keys`): `fields` — the
 * values of these top-level fields (`key_by: [region]`); `expressions` — SQL expressions over the
 * record (`key_by: [lower(channel)]`), with the top-level fields they read; `opaque` — keyed, by
 * something the records no longer show (a TypeScript function, or fields a later step changed),
 * `why` saying what; `none` — not keyed.
 */
export type PartitionKey =
  | { readonly kind: 'fields'; readonly fields: readonly string[] }
  | {
      readonly kind: 'expressions';
      readonly expressions: readonly string[];
      readonly reads: readonly string[];
    }
  | { readonly kind: 'opaque'; readonly why: string }
  | { readonly kind: 'none' };

/**
 * What a stream is keyed by, where known: plain data, kept in the plan (`Plan.keys`).
 *
 * `partition` absent: unknown. `unique` lists the known unique keys, each a set of top-level
 * field names whose values identify a row of the table the stream describes (any one of them
 * does; `[]` — the stream has at most one row); absent or empty: none known.
 */
export interface StreamKey {
  readonly partition?: PartitionKey;
  readonly unique?: readonly (readonly string[])[];
}

/** Nothing known: what a source and a step without a `key` rule give. */
export const UNKNOWN_KEY: StreamKey = Object.freeze({});

/** Not partitioned, no unique key known. */
export const NO_KEY: StreamKey = Object.freeze({ partition: Object.freeze({ kind: 'none' as const }) });

/** What a step's `key` rule gets besides its config and its inputs' keys. */
export interface KeyContext {
  /** The step's id. */
  readonly step: string;
  /** What it reads, in port order: ids, or `<step>.<port>` for a side output. */
  readonly inputs: readonly string[];
  /** Its inputs' schemas, in port order, and its output's (see `plan/schema.ts`). */
  readonly inputSchemas: readonly Schema[];
  readonly schema: Schema;
  /** The tree of the expression at config `path`, one the spec's `expressions` declares. */
  expression(path: string): Expr;
}

/** The top-level fields an expression reads (`bid.price` reads `bid`), in order of appearance. */
export function fieldsRead(e: Expr, into: string[] = []): string[] {
  if (e.kind === 'field') {
    if (!into.includes(e.name)) into.push(e.name);
    return into;
  }
  for (const child of childrenOf(e)) fieldsRead(child, into);
  return into;
}

/**
 * The partition key `key_by`-like expressions give (`key[i]` in the step's config): `fields` when
 * each only reads a top-level field, else `expressions`.
 */
export function partitionByExpressions(trees: readonly Expr[]): PartitionKey {
  if (trees.every((t) => t.kind === 'field')) {
    return { kind: 'fields', fields: trees.map((t) => (t.kind === 'field' ? t.name : '')) };
  }
  const reads: string[] = [];
  for (const t of trees) fieldsRead(t, reads);
  return { kind: 'expressions', expressions: trees.map((t) => formatExpression(t)), reads };
}

/** The top-level fields a partition key is computed from; undefined when it is none or opaque. */
export function partitionFields(p: PartitionKey | undefined): readonly string[] | undefined {
  if (p?.kind === 'fields') return p.fields;
  if (p?.kind === 'expressions') return p.reads;
  return undefined;
}

/**
 * The keys of a step that passes some input fields through unchanged (by name) and changes or
 * drops the others (`kept(name)` says which): a unique key survives when all its fields do; a
 * partition key stays what it is when every field it is computed from does, and becomes opaque
 * otherwise (the key travels beside the records, computed from values they no longer hold).
 */
export function keepFields(input: StreamKey, kept: (field: string) => boolean, step: string): StreamKey {
  const out: { partition?: PartitionKey; unique?: readonly (readonly string[])[] } = {};
  const p = input.partition;
  if (p !== undefined) {
    const fields = partitionFields(p);
    out.partition =
      fields === undefined || fields.every(kept)
        ? p
        : { kind: 'opaque', why: `${describePartition(p)}, of fields step '${step}' changes or drops` };
  }
  if (input.unique !== undefined) out.unique = input.unique.filter((k) => k.every(kept));
  return out;
}

/** Whether two partition keys are the same. */
export function samePartition(a: PartitionKey | undefined, b: PartitionKey | undefined): boolean {
  return a !== undefined && b !== undefined && JSON.stringify(a) === JSON.stringify(b);
}

/** `[region, store]`, as a list of names. */
export function listFields(fields: readonly string[]): string {
  return `[${fields.join(', ')}]`;
}

/** A partition key in words: `key [region]`, `key [lower(channel)]`, `an opaque key (…)`, `no key`. */
export function describePartition(p: PartitionKey | undefined): string {
  if (p === undefined) return 'an unknown key';
  switch (p.kind) {
    case 'fields':
      return `key ${listFields(p.fields)}`;
    case 'expressions':
      return `key ${listFields(p.expressions)}`;
    case 'opaque':
      return `an opaque key (${p.why})`;
    case 'none':
      return 'no key';
  }
}

/** One refused sink: a PLAN_KEY_MISMATCH of `step` at `path` in its config. */
export interface KeyProblem {
  readonly step: string;
  readonly path: string;
  readonly message: string;
}

/** What `inferKeys` gives: every stream's key, and the upsert sinks it refuses. */
export interface KeyResult {
  readonly keys: { readonly [ref: string]: StreamKey };
  readonly problems: readonly KeyProblem[];
}

/**
 * Works out the key of every source, step and side output of a resolved plan (configs validated,
 * expressions parsed, schemas inferred), and checks each upsert sink fed an updating stream
 * (`updating(ref)`) against the unique key of that stream. A step of `unparsed` (its expressions
 * or schema failed, already reported) gets an unknown key.
 */
export function inferKeys(
  plan: Plan,
  registry: Registry,
  updating: (ref: string) => boolean,
  unparsed: ReadonlySet<string> = new Set(),
): KeyResult {
  const keys: { [ref: string]: StreamKey } = {};
  const schemas = plan.schemas ?? {};
  // Sources give records without `key_by` keys; whether a field of theirs is unique, only a
  // source of a table's changes says (its primary key).
  for (const source of plan.sources) {
    const changelog = registry.source(source.type)?.changelog?.(source.config as never);
    keys[source.id] =
      changelog === undefined ? NO_KEY : { partition: NO_KEY.partition, unique: [changelog.key] };
  }
  for (const step of stepsInOrder(plan.steps)) {
    const id = step.id;
    const spec = registry.step(step.type);
    const inputs = step.inputs.map((ref) => keys[ref] ?? UNKNOWN_KEY);
    let key = UNKNOWN_KEY;
    if (spec?.key !== undefined && !unparsed.has(id)) {
      const ctx: KeyContext = {
        step: id,
        inputs: step.inputs,
        inputSchemas: step.inputs.map((ref) => schemas[ref] ?? UNKNOWN_SCHEMA),
        schema: schemas[id] ?? UNKNOWN_SCHEMA,
        expression: (path) => expressionAt(step.expressions, id, path),
      };
      try {
        key = spec.key(step.config as never, inputs, ctx);
      } catch (err) {
        // A rule that cannot read its config leaves the key unknown; `create` reports the config.
        if (!(err instanceof SluiceError)) throw err;
      }
    }
    keys[id] = key;
    for (const port of sideOutputsOf(spec, step.config))
      keys[`${id}.${port.name}`] = port.key?.(inputs, key) ?? UNKNOWN_KEY;
  }
  const problems: KeyProblem[] = [];
  for (const sink of plan.sinks) {
    if (unparsed.has(sink.id) || !updating(sink.input)) continue;
    const problem = checkUpsertSink(sink, registry, keys[sink.input] ?? UNKNOWN_KEY);
    if (problem !== undefined) problems.push(problem);
  }
  return { keys, problems };
}

/**
 * Refuses an upsert sink whose key does not cover any known unique key of its (updating) input:
 * rows that differ on a field left out would be written under one key, and the delete of one
 * would remove the other. A key that covers more fields is accepted: the input is a retract
 * changelog, whose update-before deletes the old row under its own key (Flink, likewise, needs no
 * upsert materializer when the sink's primary key contains the input's upsert key).
 */
function checkUpsertSink(sink: PlanSink, registry: Registry, key: StreamKey): KeyProblem | undefined {
  const id = sink.id;
  const upsert = registry.sink(sink.type)?.changelog?.upsertKey?.(sink.config as never);
  if (upsert === undefined || key.unique === undefined || key.unique.length === 0) return undefined;
  let written: readonly string[];
  let what: string;
  if (upsert.fields !== undefined) {
    written = upsert.fields;
    what = `\`${upsert.path}: ${listFields(upsert.fields)}\``;
  } else {
    const tree = sink.expressions?.[upsert.path];
    if (tree === undefined) return undefined;
    written = fieldsRead(tree);
    what = `\`${upsert.path}: ${formatExpression(tree)}\` (which reads ${written.length === 0 ? 'no field' : listFields(written)})`;
  }
  if (key.unique.some((k) => k.every((f) => written.includes(f)))) return undefined;
  const best = [...key.unique].sort((a, b) => a.length - b.length)[0];
  const missing = best.filter((f) => !written.includes(f));
  const named = key.unique.map(listFields).join(' or ');
  const fix =
    upsert.fields !== undefined
      ? `set \`${upsert.path}: ${listFields(best)}\``
      : `make \`${upsert.path}\` an expression of ${listFields(best)}${best.length === 1 ? `, e.g. \`${upsert.path}: ${formatName(best[0])}\`` : ''}`;
  const rows = `rows that differ only in ${listFields(missing)} would be written under one key, and an update or delete of one would overwrite or delete the other`;
  return {
    step: id,
    path: upsert.path,
    message: `sink '${id}' (${sink.type}) upserts rows by ${what}, but its input '${sink.input}' is an updating stream whose rows are identified by ${named}: ${rows}; ${fix}, or compute the stream grouped by the key the sink should have (Sluice cannot re-key an updating stream on its way to a sink)`,
  };
}
