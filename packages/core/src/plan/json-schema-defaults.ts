/**
 * The `required` list of a config schema as a user sees it: options the loader fills with their
 * default may be left out of a file.
 */

import { isRecord } from './config-path.ts';

type Json = { [keyword: string]: unknown };

/** Keywords whose subschemas Ajv's `useDefaults` never fills (its "composite rules"). */
const NO_DEFAULTS = new Set(['anyOf', 'oneOf', 'not', 'if', 'contains', 'propertyNames']);

/**
 * Copy of a component config schema in which no property is required that Ajv (with
 * `useDefaults`, as `validateConfig` runs it) fills with its `default` when absent. Specs write
 * such options without `Type.Optional` so that their static type has them; a file may still omit
 * them, and the editor schema and the reference say so.
 *
 * Mirrors Ajv: defaults are applied below `properties`, `items`, `additionalProperties`,
 * `patternProperties`, `allOf`, `then` and `else`, but not inside `anyOf`, `oneOf`, `not`, `if`,
 * `contains` or `propertyNames` — an option defaulted there stays required, as the loader
 * requires it. `$ref`s are not followed (a definition is relaxed as if reached directly). The
 * input is not modified.
 */
export function withDefaultsOptional(schema: unknown): Json {
  const copy: unknown = JSON.parse(JSON.stringify(schema));
  if (!isRecord(copy)) return {};
  relax(copy, true);
  return copy;
}

function relax(node: Json, defaultsApply: boolean): void {
  const properties = isRecord(node.properties) ? node.properties : undefined;
  if (defaultsApply && properties && Array.isArray(node.required)) {
    const required = node.required.filter((name) => {
      const property = typeof name === 'string' && Object.hasOwn(properties, name) ? properties[name] : {};
      return !(isRecord(property) && property.default !== undefined);
    });
    if (required.length > 0) node.required = required;
    else delete node.required;
  }
  for (const [keyword, value] of Object.entries(node)) {
    const applies = defaultsApply && !NO_DEFAULTS.has(keyword);
    for (const sub of subschemas(keyword, value)) relax(sub, applies);
  }
}

/** The subschemas under `keyword`, or none when its value is not a schema (e.g. `default`, `enum`). */
function subschemas(keyword: string, value: unknown): Json[] {
  switch (keyword) {
    case 'properties':
    case 'patternProperties':
    case 'definitions':
    case '$defs':
      return isRecord(value) ? Object.values(value).filter(isRecord) : [];
    case 'items':
    case 'allOf':
    case 'anyOf':
    case 'oneOf':
      return (Array.isArray(value) ? value : [value]).filter(isRecord);
    case 'additionalProperties':
    case 'additionalItems':
    case 'propertyNames':
    case 'contains':
    case 'not':
    case 'if':
    case 'then':
    case 'else':
      return isRecord(value) ? [value] : [];
    default:
      return [];
  }
}
