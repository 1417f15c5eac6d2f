/**
 * The `WITH (...)` options of a table as the config of a source or sink: the component spec's own
 * options, with no second list. A key with dots (`'event_time.field'`) sets a nested option. SQL
 * writes every value as a string (`'header' = 'false'`), so a value is converted to what the
 * spec's schema wants where that is plain (a boolean, a number, an array of strings separated by
 * commas); everything else stays as written, for the spec to check with its usual messages.
 */

import type { TableOption } from './ast.ts';

/** The part of a JSON Schema the conversion reads. */
interface SchemaNode {
  readonly type?: string | readonly string[];
  readonly properties?: { readonly [key: string]: SchemaNode };
  readonly items?: SchemaNode;
  readonly anyOf?: readonly SchemaNode[];
}

function isNode(value: unknown): value is SchemaNode {
  return typeof value === 'object' && value !== null;
}

/** The schema of `key` inside `schema` (an object's property), if the schema says. */
function child(schema: SchemaNode | undefined, key: string): SchemaNode | undefined {
  if (schema === undefined) return undefined;
  const own = schema.properties?.[key];
  if (own !== undefined) return own;
  for (const branch of schema.anyOf ?? []) {
    const found = child(branch, key);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** The JSON types a schema accepts (over its `anyOf` branches too). */
function typesOf(schema: SchemaNode): Set<string> {
  const types = new Set<string>();
  const visit = (node: SchemaNode) => {
    if (typeof node.type === 'string') types.add(node.type);
    else if (Array.isArray(node.type)) for (const t of node.type) types.add(t);
    for (const branch of node.anyOf ?? []) visit(branch);
  };
  visit(schema);
  return types;
}

/** `value` as the schema wants it, when that conversion is plain; otherwise `value`. */
export function convert(value: string | number | boolean, schema: SchemaNode | undefined): unknown {
  if (schema === undefined || typeof value !== 'string') return value;
  const types = typesOf(schema);
  if (types.has('string')) return value;
  if (types.has('boolean') && (value === 'true' || value === 'false')) return value === 'true';
  if ((types.has('number') || types.has('integer')) && value.trim() !== '' && Number.isFinite(Number(value)))
    return Number(value);
  if (types.has('array')) {
    const items = value === '' ? [] : value.split(',').map((v) => v.trim());
    const itemSchema = schema.items;
    return items.map((item) => convert(item, itemSchema));
  }
  return value;
}

/** One option placed in the config, with the config path it landed on. */
export interface PlacedOption {
  readonly path: string;
  readonly option: TableOption;
}

/**
 * Builds a component config from `options` (the `connector` option left out by the caller),
 * converting values by the spec's config schema `schema`. Returns the config and where each
 * option landed, so that validation errors at a path point at the option in the script.
 */
export function configFromOptions(
  options: readonly TableOption[],
  schema: unknown,
): { config: { [key: string]: unknown }; placed: PlacedOption[] } {
  const config: { [key: string]: unknown } = {};
  const placed: PlacedOption[] = [];
  const root = isNode(schema) ? schema : undefined;
  for (const option of options) {
    const parts = option.key.split('.');
    let target = config;
    let node = root;
    for (const part of parts.slice(0, -1)) {
      const next = target[part];
      if (typeof next !== 'object' || next === null || Array.isArray(next)) target[part] = {};
      target = target[part] as { [key: string]: unknown };
      node = child(node, part);
    }
    const last = parts[parts.length - 1];
    target[last] = convert(option.value, child(node, last));
    placed.push({ path: parts.join('.'), option });
  }
  return { config, placed };
}
