/**
 * Component config validation: one Ajv validator per spec schema, readable issues, and secret
 * redaction driven by `secret: true` marks in the schema.
 */

import { Ajv, type ValidateFunction } from 'ajv';
import formats from 'ajv-formats';
import { SluiceError } from '../errors.ts';
import { issuesFromAjv } from './config-messages.ts';
import { isRecord, joinPath, splitPath } from './config-path.ts';

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
 * `variables` (relative path → text) names the values that came from a lone `${VAR}` and were
 * read as YAML reads a plain scalar (`12345678` a number, `true` a boolean): a secret option, and
 * an option that refuses that type but takes the text, gets the variable's text instead, so a
 * numeric-looking password stays a string while `port: ${PORT}` stays a number.
 *
 * `value` is not modified: defaults go into a copy. `undefined` is validated as `{}`. Compiled
 * validators are cached per schema object. Throws INTERNAL when the schema itself is invalid.
 */
export function validateConfig<T>(
  schema: object,
  value: unknown,
  variables?: ReadonlyMap<string, string>,
): { ok: true; value: T } | { ok: false; issues: ConfigIssue[] } {
  const validate = validatorFor(schema);
  const source = value === undefined ? {} : value;
  const attempt = (asText: ReadonlySet<string>) => {
    const copy = cloneData(source);
    for (const path of asText) setAtPath(copy, path, variables!.get(path)!);
    return validate(copy)
      ? { ok: true as const, value: withUnionDefaults(schema, copy) as T }
      : { ok: false as const, issues: issuesFromAjv(validate.errors ?? [], copy) };
  };
  if (variables === undefined || variables.size === 0) return attempt(new Set());
  const secret = [...variables.keys()].filter((path) => isSecretAt(schema, path));
  const first = attempt(new Set(secret));
  if (first.ok) return first;
  const refused = first.issues.map((i) => i.path).filter((p) => variables.has(p) && !secret.includes(p));
  if (refused.length === 0) return first;
  const second = attempt(new Set([...secret, ...refused]));
  if (second.ok) return second;
  // Keep the text only where it was taken; elsewhere the first reading's message is the clearer one.
  const stillRefused = new Set(second.issues.map((i) => i.path));
  return attempt(new Set([...secret, ...refused.filter((p) => !stillRefused.has(p))]));
}

/**
 * `data` (valid against `node`) with the defaults of the union branches it matched applied. Ajv
 * applies no default under `anyOf`/`oneOf` (it cannot know which branch will match before it
 * has tried them), so a union of objects such as `pagination: {type: page} | {type: cursor}`
 * would otherwise reach the component without its branch's defaults. Here each union takes the
 * defaults of the first branch that accepts the value, checked by that branch's own validator on a
 * copy, then the walk goes on inside it.
 */
function withUnionDefaults(node: unknown, data: unknown): unknown {
  if (!isRecord(node)) return data;
  let out = data;
  for (const keyword of ['anyOf', 'oneOf'] as const) {
    const branches = node[keyword];
    if (!Array.isArray(branches)) continue;
    for (const branch of branches) {
      if (!isRecord(branch)) continue;
      const copy = cloneData(out);
      if (validatorFor(branch)(copy)) {
        out = withUnionDefaults(branch, copy);
        break;
      }
    }
  }
  if (Array.isArray(node.allOf)) for (const sub of node.allOf) out = withUnionDefaults(sub, out);
  if (isRecord(out) && !Array.isArray(out)) {
    const props = isRecord(node.properties) ? node.properties : {};
    for (const [key, value] of Object.entries(out)) {
      const sub = Object.hasOwn(props, key) ? props[key] : node.additionalProperties;
      if (isRecord(sub)) setOwn(out, key, withUnionDefaults(sub, value));
    }
  } else if (Array.isArray(out) && isRecord(node.items)) {
    const items = node.items;
    out = out.map((item) => withUnionDefaults(items, item));
  }
  return out;
}

/** Whether the schema marks the value at `path` (a relative config path) `secret`. */
function isSecretAt(schema: object, path: string): boolean {
  const keys = splitPath(path);
  if (keys === undefined) return false;
  let nodes = flatten([schema]);
  for (const key of keys) {
    const children =
      typeof key === 'number'
        ? nodes.flatMap((n) =>
            Array.isArray(n.items) ? [n.items[key]] : n.items === undefined ? [] : [n.items],
          )
        : childSchemas(nodes, key);
    nodes = flatten(children);
  }
  return nodes.some((n) => n.secret === true);
}

/** Sets the value at a relative config path inside plain data, when the path leads there. */
function setAtPath(data: unknown, path: string, value: unknown): void {
  const keys = splitPath(path);
  if (keys === undefined || keys.length === 0) return;
  let node: unknown = data;
  for (const key of keys.slice(0, -1)) {
    node = isRecord(node) || Array.isArray(node) ? (node as { [k: string]: unknown })[key] : undefined;
  }
  const last = keys[keys.length - 1];
  if (Array.isArray(node) && typeof last === 'number') node[last] = value;
  else if (isRecord(node) && typeof last === 'string' && Object.hasOwn(node, last)) setOwn(node, last, value);
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
