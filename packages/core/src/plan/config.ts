/**
 * Component config validation: one Ajv validator per spec schema, readable issues, and secret
 * redaction driven by `secret: true` marks in the schema.
 */

import { Ajv, type ValidateFunction } from 'ajv';
import formats from 'ajv-formats';
import { SluiceError } from '../errors.ts';
import { issuesFromAjv } from './config-messages.ts';
import { isRecord, joinPath } from './config-path.ts';

/** One problem with a config value. */
export interface ConfigIssue {
  /** Path of the offending value relative to the validated config ('' for the config itself). */
  path: string;
  message: string;
  /** True when the issue is about the key at `path` (an unknown option) rather than its value. */
  onKey?: boolean;
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, verbose: true });
formats.default(ajv);
const validators = new WeakMap<object, ValidateFunction>();

/**
 * Validates `value` against a component schema with Ajv (defaults applied, all errors reported,
 * unknown keywords such as `secret` allowed), returning the config with defaults applied or the
 * issues with readable messages ("must be one of: json, csv", "unknown option 'formt' — did you
 * mean 'format'?", "missing required option 'path'").
 *
 * `value` is not modified: defaults go into a copy. `undefined` is validated as `{}`. Compiled
 * validators are cached per schema object. Throws INTERNAL when the schema itself is invalid.
 */
export function validateConfig<T>(
  schema: object,
  value: unknown,
): { ok: true; value: T } | { ok: false; issues: ConfigIssue[] } {
  const validate = validatorFor(schema);
  const copy = cloneData(value === undefined ? {} : value);
  if (validate(copy)) return { ok: true, value: copy as T };
  return { ok: false, issues: issuesFromAjv(validate.errors ?? [], copy) };
}

function validatorFor(schema: object): ValidateFunction {
  let validate = validators.get(schema);
  if (validate === undefined) {
    try {
      validate = ajv.compile(schema);
    } catch (err) {
      throw new SluiceError('INTERNAL', `invalid component config schema: ${(err as Error).message}`, {
        cause: err,
      });
    }
    validators.set(schema, validate);
  }
  return validate;
}

/**
 * Paths of config fields marked `secret: true` in the schema, e.g. `password`, `sasl.password`;
 * `[*]` stands for any array index and `*` for any key of a map of values.
 */
export function secretPaths(schema: object): string[] {
  const out = new Set<string>();
  collectSecrets(schema, '', out, new Set());
  return [...out];
}

function collectSecrets(node: unknown, path: string, out: Set<string>, visiting: Set<unknown>): void {
  if (!isRecord(node) || visiting.has(node)) return;
  visiting.add(node);
  if (node.secret === true && path !== '') out.add(path);
  for (const keyword of ['allOf', 'anyOf', 'oneOf'] as const) {
    const list = node[keyword];
    if (Array.isArray(list)) for (const sub of list) collectSecrets(sub, path, out, visiting);
  }
  if (isRecord(node.properties)) {
    for (const [key, sub] of Object.entries(node.properties))
      collectSecrets(sub, joinPath(path, key), out, visiting);
  }
  if (isRecord(node.patternProperties)) {
    for (const sub of Object.values(node.patternProperties))
      collectSecrets(sub, `${path}${path ? '.' : ''}*`, out, visiting);
  }
  if (isRecord(node.additionalProperties)) {
    collectSecrets(node.additionalProperties, `${path}${path ? '.' : ''}*`, out, visiting);
  }
  const items = Array.isArray(node.items) ? node.items : node.items === undefined ? [] : [node.items];
  for (const sub of items) collectSecrets(sub, `${path}[*]`, out, visiting);
  visiting.delete(node);
}

/**
 * Copy of a config with the values of secret fields (`secret: true` in the schema) replaced by
 * `'***'`, for logs, `sluice describe` and error messages. Unknown fields are copied as they are.
 */
export function redact(schema: object, value: unknown): unknown {
  return redactWith([schema], value);
}

function redactWith(schemas: readonly unknown[], value: unknown): unknown {
  const nodes = flatten(schemas);
  if (value !== undefined && nodes.some((n) => n.secret === true)) return '***';
  if (Array.isArray(value)) {
    return value.map((item, i) =>
      redactWith(
        nodes.flatMap((n) =>
          Array.isArray(n.items) ? [n.items[i]] : n.items === undefined ? [] : [n.items],
        ),
        item,
      ),
    );
  }
  if (isRecord(value)) {
    const out: { [key: string]: unknown } = {};
    for (const [key, item] of Object.entries(value)) {
      setOwn(out, key, redactWith(childSchemas(nodes, key), item));
    }
    return out;
  }
  return value;
}

function flatten(schemas: readonly unknown[]): { [keyword: string]: unknown }[] {
  const out: { [keyword: string]: unknown }[] = [];
  const stack = [...schemas];
  while (stack.length > 0) {
    const node = stack.pop();
    if (!isRecord(node) || out.includes(node)) continue;
    out.push(node);
    for (const keyword of ['allOf', 'anyOf', 'oneOf']) {
      const list = node[keyword];
      if (Array.isArray(list)) stack.push(...list);
    }
  }
  return out;
}

function childSchemas(nodes: readonly { [keyword: string]: unknown }[], key: string): unknown[] {
  const out: unknown[] = [];
  for (const node of nodes) {
    const props = isRecord(node.properties) ? node.properties : {};
    if (Object.hasOwn(props, key)) {
      out.push(props[key]);
      continue;
    }
    let matched = false;
    if (isRecord(node.patternProperties)) {
      for (const [pattern, sub] of Object.entries(node.patternProperties)) {
        if (new RegExp(pattern, 'u').test(key)) {
          out.push(sub);
          matched = true;
        }
      }
    }
    if (!matched && isRecord(node.additionalProperties)) out.push(node.additionalProperties);
  }
  return out;
}

/** Deep copy of plain objects and arrays; anything else (functions, class instances) is shared. */
function cloneData(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(cloneData);
  if (
    isRecord(value) &&
    (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null)
  ) {
    const out: { [key: string]: unknown } = {};
    for (const [key, item] of Object.entries(value)) setOwn(out, key, cloneData(item));
    return out;
  }
  return value;
}

function setOwn(target: { [key: string]: unknown }, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
