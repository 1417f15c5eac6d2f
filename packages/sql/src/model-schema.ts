/**
 * What the SQL model planning reads of the ML steps' specs: the JSON Schema nodes of their
 * configs (model types, the feature schema) and the columns a step's output has.
 */

import type { StepSpec } from '@sluice/core';
import type { Relation } from './query-planner.ts';

/** What a step spec's `schema` rule takes: its config, its inputs' schemas and its context. */
type SchemaArgs = Parameters<NonNullable<StepSpec['schema']>>;
type Schema = SchemaArgs[1][number];
type SchemaContext = SchemaArgs[2];

/** The part of a JSON Schema this file reads. */
export interface Node {
  readonly type?: string | readonly string[];
  readonly const?: unknown;
  readonly default?: unknown;
  readonly properties?: { readonly [key: string]: Node };
  readonly anyOf?: readonly Node[];
  readonly items?: Node;
  readonly patternProperties?: { readonly [pattern: string]: Node };
  readonly additionalProperties?: unknown;
}

export function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null;
}

/** Every schema node under `node` (itself first), depth first. */
function* nodes(node: Node): Generator<Node> {
  yield node;
  for (const child of [
    ...Object.values(node.properties ?? {}),
    ...(node.anyOf ?? []),
    ...(node.items ? [node.items] : []),
    ...Object.values(node.patternProperties ?? {}),
    ...(isNode(node.additionalProperties) ? [node.additionalProperties] : []),
  ])
    yield* nodes(child);
}

/** The model types a `learn_predict` spec takes: the `const` of each `model` variant's `type`. */
export function modelTypes(spec: StepSpec | undefined): string[] {
  const model = isNode(spec?.config) ? spec.config.properties?.model : undefined;
  return (model?.anyOf ?? []).flatMap((v) => {
    const c = v.properties?.type?.const;
    return typeof c === 'string' ? [c] : [];
  });
}

/** The schema of one feature in a step's config (the object with a `numeric` option). */
export function featureSchema(spec: StepSpec): Node | undefined {
  if (!isNode(spec.config)) return undefined;
  for (const n of nodes(spec.config)) if (n.properties?.numeric && n.properties.buckets) return n;
  return undefined;
}

/** The columns of the step's output: its input's with the fields the step adds, by its spec. */
export function outputColumns(
  spec: StepSpec,
  config: { [key: string]: unknown },
  input: Relation,
  step: string,
): string[] {
  const inputSchema: Schema = {
    fields: input.columns.map((name) => ({ name, type: 'any', nullable: true })),
    open: false,
  };
  const unavailable = (): never => {
    throw new Error('not available while planning');
  };
  const ctx: SchemaContext = {
    step,
    inputs: [input.ref],
    baseDir: '',
    expression: unavailable,
    check: unavailable,
    field: unavailable,
  };
  try {
    const schema = spec.schema?.(config, [inputSchema], ctx);
    if (schema !== undefined) return schema.fields.map((f) => f.name);
  } catch {
    // A config the spec cannot read yet: resolving the plan reports why, at the option.
  }
  // A step without a schema rule (`predict`): the fields its options name, or their defaults.
  const properties = isNode(spec.config) ? (spec.config.properties ?? {}) : {};
  // `predict` with `watch` also names the model file's version in each row.
  const options = config.watch === true ? ['output', 'score', 'version_field'] : ['output', 'score'];
  const added = options.flatMap((option) => {
    const named = config[option] ?? properties[option]?.default;
    return typeof named === 'string' ? [named] : [];
  });
  return [...input.columns.filter((c) => !added.includes(c)), ...added];
}
