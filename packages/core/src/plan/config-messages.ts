/**
 * Turns Ajv validation errors into short, readable config issues.
 *
 * Ajv reports every failing branch of a union; these are folded into one message per value
 * ("must be one of: json, csv"), or into the errors of the one branch whose type fits the value.
 */

import type { ErrorObject } from 'ajv';
import type { ConfigIssue } from './config.ts';
import { isRecord, joinPath, pointerToPath, valueAtPointer } from './config-path.ts';
import { didYouMean } from './config-suggest.ts';

type SchemaNode = { [keyword: string]: unknown };

/** Converts Ajv errors (compiled with `allErrors` and `verbose`) for `data` into config issues. */
export function issuesFromAjv(errors: readonly ErrorObject[], data: unknown): ConfigIssue[] {
  const kept = foldUnions(errors, data);
  const issues: ConfigIssue[] = [];
  const seen = new Set<string>();
  for (const error of kept) {
    const issue = toIssue(error, data);
    const key = `${issue.path}\u0000${issue.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push(issue);
  }
  return issues;
}

function foldUnions(errors: readonly ErrorObject[], data: unknown): ErrorObject[] {
  const dropped = new Set<ErrorObject>();
  for (const error of errors) {
    if (error.keyword === 'if') dropped.add(error);
    if (error.keyword !== 'anyOf' && error.keyword !== 'oneOf') continue;
    const branches = Array.isArray(error.schema) ? (error.schema as SchemaNode[]) : [];
    const prefix = `${error.schemaPath}/`;
    const value = valueAtPointer(error.instancePath, data);
    const tag = discriminator(branches);
    let single: number;
    if (tag !== undefined && isRecord(value)) {
      single = tag.values.indexOf(value[tag.key]);
    } else {
      const fitting = branches.flatMap((branch, i) => (typeFits(branch, value) ? [i] : []));
      const titled = isRecord(error.parentSchema) && typeof error.parentSchema.title === 'string';
      single = fitting.length === 1 && !titled && !isLiteral(branches[fitting[0]]) ? fitting[0] : -1;
    }
    for (const other of errors) {
      if (!other.schemaPath.startsWith(prefix)) continue;
      if (single >= 0 && other.schemaPath.startsWith(`${prefix}${single}/`)) continue;
      dropped.add(other);
    }
    if (single >= 0) dropped.add(error);
  }
  return errors.filter((error) => !dropped.has(error));
}

function toIssue(error: ErrorObject, data: unknown): ConfigIssue {
  const path = pointerToPath(error.instancePath, data);
  const params = error.params as { [k: string]: unknown };
  const parent = isRecord(error.parentSchema) ? error.parentSchema : {};
  switch (error.keyword) {
    case 'required':
      return { path, message: `missing required option '${String(params.missingProperty)}'` };
    case 'additionalProperties': {
      const name = String(params.additionalProperty);
      const known = isRecord(parent.properties) ? Object.keys(parent.properties) : [];
      const guess = didYouMean(name, known);
      const hint = guess
        ? ` — did you mean '${guess}'?`
        : known.length > 0
          ? `; known options: ${known.join(', ')}`
          : '';
      return { path: joinPath(path, name), message: `unknown option '${name}'${hint}`, onKey: true };
    }
    case 'enum':
      return { path, message: `must be one of: ${(params.allowedValues as unknown[]).map(show).join(', ')}` };
    case 'const':
      return { path, message: `must be ${show(params.allowedValue)}` };
    case 'type':
      return { path, message: `must be ${typeNames(params.type)}` };
    case 'anyOf':
    case 'oneOf':
      return unionIssue(error, parent, path, valueAtPointer(error.instancePath, data));
    case 'pattern':
      return { path, message: `must match the pattern ${String(params.pattern)}` };
    case 'format':
      return { path, message: `must be a valid ${String(params.format)}` };
    case 'minLength':
      return {
        path,
        message:
          params.limit === 1 ? 'must not be empty' : `must be at least ${params.limit} characters long`,
      };
    case 'maxLength':
      return { path, message: `must be at most ${params.limit} characters long` };
    case 'minItems':
    case 'minProperties':
      return {
        path,
        message: params.limit === 1 ? 'must not be empty' : `must have at least ${params.limit} entries`,
      };
    case 'maxItems':
    case 'maxProperties':
      return { path, message: `must have at most ${params.limit} entries` };
    case 'not': {
      // `not: { required: [a, b] }`: options that exclude each other.
      const excluded =
        isRecord(error.schema) && Array.isArray(error.schema.required) ? error.schema.required : [];
      if (excluded.length > 1) {
        return { path, message: `set at most one of ${excluded.map((r) => `'${String(r)}'`).join(', ')}` };
      }
      return { path, message: error.message ?? 'is invalid' };
    }
    default:
      return { path, message: error.message ?? 'is invalid' };
  }
}

/**
 * A union of maps told apart by one property (`type: tumbling | hopping | …`): the problem is the
 * value not being a map, or its tag being missing or unknown. (A known tag keeps the errors of its
 * branch, see `foldUnions`.)
 */
function unionIssue(error: ErrorObject, parent: SchemaNode, path: string, value: unknown): ConfigIssue {
  const branches = Array.isArray(error.schema) ? (error.schema as SchemaNode[]) : [];
  const tag = discriminator(branches);
  if (tag === undefined) return { path, message: unionMessage(branches, parent) };
  const names = tag.values.map(show);
  if (!isRecord(value)) {
    const example = exampleOf(branches[0], tag.key);
    return {
      path,
      message: `must be a map with a '${tag.key}' (${orList(names)}) and its options${example ? `, e.g. ${example}` : ''}; got ${describeValue(value)}`,
    };
  }
  if (value[tag.key] === undefined) {
    return { path, message: `missing required option '${tag.key}': one of ${names.join(', ')}` };
  }
  const given = value[tag.key];
  const guess = typeof given === 'string' ? didYouMean(given, names) : undefined;
  return {
    path: joinPath(path, tag.key),
    message: `must be one of: ${names.join(', ')}${guess ? ` — did you mean '${guess}'?` : ''}`,
  };
}

/**
 * The property every branch of a union requires with a literal value of its own (the `type` of
 * a window), and those values in branch order; undefined when the branches have none.
 */
function discriminator(branches: readonly SchemaNode[]): { key: string; values: unknown[] } | undefined {
  const [first] = branches;
  if (branches.length < 2 || !isRecord(first?.properties)) return undefined;
  for (const key of Object.keys(first.properties)) {
    const values: unknown[] = [];
    for (const branch of branches) {
      const property = isRecord(branch.properties) ? branch.properties[key] : undefined;
      const required = Array.isArray(branch.required) && branch.required.includes(key);
      const literal = isRecord(property) && isLiteral(property) ? literalValues(property) : [];
      if (!required || literal.length !== 1) break;
      values.push(literal[0]);
    }
    if (values.length === branches.length && new Set(values).size === values.length) return { key, values };
  }
  return undefined;
}

/** `{ type: tumbling, size: 1m }` from a branch's tag and the examples of its required options. */
function exampleOf(branch: SchemaNode | undefined, tagKey: string): string | undefined {
  if (branch === undefined || !isRecord(branch.properties) || !Array.isArray(branch.required))
    return undefined;
  const parts: string[] = [];
  for (const key of branch.required) {
    const property = branch.properties[String(key)];
    if (!isRecord(property)) return undefined;
    const sample =
      key === tagKey
        ? literalValues(property)[0]
        : Array.isArray(property.examples)
          ? property.examples[0]
          : property.default;
    if (sample === undefined) return undefined;
    parts.push(`${String(key)}: ${show(sample)}`);
  }
  return `{ ${parts.join(', ')} }`;
}

/** `the string '1m'`, `the number 5`, `a list`: what was written instead of a map. */
function describeValue(value: unknown): string {
  const type = typeOf(value);
  if (type === 'string') return `the string '${String(value)}'`;
  if (type === 'integer' || type === 'number') return `the number ${String(value)}`;
  if (type === 'boolean') return String(value);
  if (type === 'null') return 'nothing';
  return typeWords[type] ?? type;
}

function orList(items: readonly string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}

function unionMessage(branches: readonly SchemaNode[], parent: SchemaNode): string {
  const literals = branches.flatMap(literalValues);
  if (literals.length > 0 && branches.every(isLiteral))
    return `must be one of: ${literals.map(show).join(', ')}`;
  const requires = branches.map((b) =>
    Array.isArray(b.required) && Object.keys(b).length === 1 ? b.required : [],
  );
  if (branches.length > 0 && requires.every((r) => r.length === 1)) {
    return `set exactly one of ${requires.map((r) => `'${String(r[0])}'`).join(', ')}`;
  }
  if (typeof parent.title === 'string') {
    const examples = Array.isArray(parent.examples) ? ` such as ${parent.examples.map(show).join(', ')}` : '';
    return `must be a ${parent.title}${examples}`;
  }
  return `must be ${[...new Set(branches.map(describeBranch))].join(' or ')}`;
}

function describeBranch(branch: SchemaNode): string {
  if (isLiteral(branch)) return literalValues(branch).map(show).join(' or ');
  if (typeof branch.title === 'string') return `a ${branch.title}`;
  if (branch.type !== undefined) return typeNames(branch.type);
  return 'a matching value';
}

function isLiteral(branch: SchemaNode | undefined): boolean {
  return branch !== undefined && ('const' in branch || Array.isArray(branch.enum));
}

function literalValues(branch: SchemaNode): unknown[] {
  if ('const' in branch) return [branch.const];
  return Array.isArray(branch.enum) ? branch.enum : [];
}

function typeFits(branch: SchemaNode, value: unknown): boolean {
  if (isLiteral(branch)) return literalValues(branch).some((v) => typeOf(v) === typeOf(value));
  const types = Array.isArray(branch.type) ? branch.type : branch.type === undefined ? [] : [branch.type];
  const actual = typeOf(value);
  return types.some((t) => t === actual || (t === 'number' && actual === 'integer'));
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

const typeWords: { [type: string]: string } = {
  string: 'a string',
  number: 'a number',
  integer: 'an integer',
  boolean: 'true or false',
  array: 'a list',
  object: 'a map',
  null: 'empty',
};

function typeNames(type: unknown): string {
  const types = Array.isArray(type) ? type : String(type).split(',');
  return types.map((t) => typeWords[String(t)] ?? String(t)).join(' or ');
}

function show(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}
