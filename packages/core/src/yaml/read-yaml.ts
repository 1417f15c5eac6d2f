/**
 * Reads YAML text into plain values while recording where every value (and every map key) came
 * from, interpolating environment variables in scalar strings and expanding anchors, aliases
 * and `<<` merge keys.
 */

import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  Scalar,
  type YAMLMap,
  type YAMLSeq,
} from 'yaml';
import { joinPath } from '../plan/config-path.ts';
import { findSplitValue, splitValueMessage, variableInFlowHint } from './flow-hints.ts';
import { type Env, interpolate, retype } from './interpolate.ts';
import type { IssueList, Position } from './issues.ts';

/** A parsed file: its value, and positions by config path (`sources.orders.path`). */
export interface YamlTree {
  readonly value: unknown;
  /** Position of each value, by path. */
  readonly values: Map<string, Position>;
  /** Position of each map key, by the path of its value. */
  readonly keys: Map<string, Position>;
  /** Paths whose value could not be read (already reported); later checks skip them. */
  readonly broken: Set<string>;
  /**
   * Values that were a lone `${VAR}` in a plain scalar and read as a number, boolean or null
   * (`8080`, `true`): the variable's text, by path. Validation gives an option that takes text
   * (and every secret) this text instead (see `validateConfig`).
   */
  readonly variables: Map<string, string>;
}

/** Most values a file may expand to through aliases (guards against "billion laughs" files). */
const maxNodes = 100_000;

/**
 * Parses `text`. Duplicate keys, unknown aliases and unset environment variables are added to
 * `issues`; so is the first YAML syntax error (later ones are mostly its echoes), and then the
 * result is undefined.
 */
export function readYaml(text: string, env: Env, issues: IssueList): YamlTree | undefined {
  const lines = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter: lines,
    prettyErrors: false,
    merge: true,
    uniqueKeys: false,
  });
  const at = (offset: number): Position => {
    const { line, col } = lines.linePos(offset);
    return { line, column: col };
  };
  const [syntax] = doc.errors;
  if (syntax !== undefined) {
    const hint = variableInFlowHint(text, syntax.pos[0]);
    const offset = hint?.start ?? syntax.pos[0];
    issues.add(
      'CONFIG_PARSE',
      pathAtOffset(doc.contents, offset),
      hint?.message ?? syntax.message,
      at(offset),
    );
    return undefined;
  }
  const reader = new Reader(doc, text, at, env, issues);
  const value = reader.read(doc.contents, '', { line: 1, column: 1 });
  return {
    value,
    values: reader.values,
    keys: reader.keys,
    broken: reader.broken,
    variables: reader.variables,
  };
}

type Doc = ReturnType<typeof parseDocument>;

class Reader {
  values = new Map<string, Position>();
  keys = new Map<string, Position>();
  variables = new Map<string, string>();
  readonly broken = new Set<string>();
  readonly #doc: Doc;
  readonly #text: string;
  readonly #at: (offset: number) => Position;
  readonly #env: Env;
  readonly #issues: IssueList;
  readonly #expanding = new Set<unknown>();
  #budget = maxNodes;

  constructor(doc: Doc, text: string, at: (offset: number) => Position, env: Env, issues: IssueList) {
    this.#doc = doc;
    this.#text = text;
    this.#at = at;
    this.#env = env;
    this.#issues = issues;
  }

  read(node: unknown, path: string, fallback: Position): unknown {
    const here = this.#position(node) ?? fallback;
    this.values.set(path, here);
    if (--this.#budget === 0) {
      this.#issues.add(
        'CONFIG_PARSE',
        path,
        `the file expands to more than ${maxNodes} values through aliases`,
        here,
      );
    }
    if (this.#budget <= 0) return null;
    if (isAlias(node)) return this.#alias(node, path, here);
    if (isScalar(node)) return this.#scalar(node, path, here);
    if ((isMap(node) || isSeq(node)) && this.#split(node, path)) return null;
    if (isMap(node)) return this.#map(node.items, path, here);
    if (isSeq(node)) return node.items.map((item, i) => this.read(item, joinPath(path, i), here));
    return null;
  }

  /** Reports a flow map or list in which YAML split an expression at a comma; true if it did. */
  #split(node: YAMLMap | YAMLSeq, path: string): boolean {
    const split = findSplitValue(node);
    if (split === undefined) return false;
    const item = node.items[split.index];
    const key = isMap(node) && isPair(item) && isScalar(item.key) ? String(item.key.value) : undefined;
    const at = split.isKey || key === undefined ? path : joinPath(path, key);
    const itemPath = isMap(node) ? at : joinPath(path, split.index);
    const message = splitValueMessage(this.#text, split, split.isKey ? undefined : key, isMap(node));
    this.#fail(itemPath, message, this.#at(split.start));
    this.broken.add(path);
    return true;
  }

  #alias(node: Node & { source: string; resolve(doc: Doc): unknown }, path: string, here: Position): unknown {
    const target = node.resolve(this.#doc);
    const name = node.source;
    if (target === undefined)
      return this.#fail(path, `unknown alias '*${name}': no anchor '&${name}' before it`, here);
    if (this.#expanding.has(target))
      return this.#fail(path, `alias '*${name}' refers to a value that contains it`, here);
    this.#expanding.add(target);
    const value = this.read(target, path, here);
    this.#expanding.delete(target);
    this.values.set(path, here);
    return value;
  }

  #scalar(node: Scalar, path: string, here: Position): unknown {
    if (typeof node.value !== 'string') return node.value;
    const result = interpolate(node.value, this.#env);
    if (!result.ok) {
      this.#fail(path, result.message, here, 'CONFIG_INVALID');
      return node.value;
    }
    if (!result.whole || node.type !== Scalar.PLAIN || node.tag) return result.value;
    const value = retype(result.value);
    if (typeof value !== 'string') this.variables.set(path, result.value);
    return value;
  }

  /** Reports a value that cannot be read and marks its path broken; returns null as its value. */
  #fail(
    path: string,
    message: string,
    here: Position,
    code: 'CONFIG_PARSE' | 'CONFIG_INVALID' = 'CONFIG_PARSE',
  ) {
    this.#issues.add(code, path, message, here);
    this.broken.add(path);
    return null;
  }

  #map(pairs: readonly { key: unknown; value: unknown }[], path: string, here: Position): unknown {
    const out: { [key: string]: unknown } = {};
    const seen = new Map<string, Position>();
    const merges: unknown[] = [];
    for (const pair of pairs) {
      if (isMergeKey(pair.key)) {
        merges.push(pair.value);
        continue;
      }
      const keyAt = this.#position(pair.key) ?? here;
      const key = this.#keyText(pair.key);
      if (key === undefined) {
        this.#issues.add('CONFIG_PARSE', path, 'a key must be plain text, not a list or a map', keyAt);
        continue;
      }
      const child = joinPath(path, key);
      const first = seen.get(key);
      if (first !== undefined) {
        this.#issues.add(
          'CONFIG_PARSE',
          child,
          `duplicate key '${key}' (first defined at line ${first.line})`,
          keyAt,
        );
        continue;
      }
      seen.set(key, keyAt);
      this.keys.set(child, keyAt);
      setOwn(out, key, this.read(pair.value, child, keyAt));
    }
    for (const merge of merges) this.#merge(out, merge, path, here);
    return out;
  }

  /** Adds the keys of a `<<` merge source (a map, an alias of one, or a list of them) not yet in `out`. */
  #merge(out: { [key: string]: unknown }, merge: unknown, path: string, here: Position): void {
    const sources = isSeq(merge) ? merge.items : [merge];
    for (const source of sources) {
      const saved = { values: this.values, keys: this.keys, variables: this.variables };
      this.values = new Map();
      this.keys = new Map();
      this.variables = new Map();
      const merged = this.read(source, path, here);
      const scratch = { values: this.values, keys: this.keys, variables: this.variables };
      this.values = saved.values;
      this.keys = saved.keys;
      this.variables = saved.variables;
      if (typeof merged !== 'object' || merged === null || Array.isArray(merged)) {
        if (isAlias(source) && source.resolve(this.#doc) === undefined) continue;
        this.#issues.add('CONFIG_PARSE', path, "a '<<' merge key needs a map or an alias of one", here);
        continue;
      }
      for (const [key, value] of Object.entries(merged)) {
        if (Object.hasOwn(out, key)) continue;
        setOwn(out, key, value);
        const child = joinPath(path, key);
        copyUnder(scratch.values, this.values, child);
        copyUnder(scratch.keys, this.keys, child);
        copyUnder(scratch.variables, this.variables, child);
      }
    }
  }

  #keyText(key: unknown): string | undefined {
    const node = isAlias(key) ? key.resolve(this.#doc) : key;
    if (isScalar(node)) return node.value === null ? '' : String(node.value);
    return undefined;
  }

  #position(node: unknown): Position | undefined {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    return range ? this.#at(range[0]) : undefined;
  }
}

function isMergeKey(key: unknown): boolean {
  return isScalar(key) && typeof key.value === 'symbol' && key.value.description === '<<';
}

function copyUnder<T>(from: Map<string, T>, to: Map<string, T>, prefix: string): void {
  for (const [path, position] of from) {
    if (path === prefix || path.startsWith(`${prefix}.`) || path.startsWith(`${prefix}[`))
      to.set(path, position);
  }
}

function setOwn(target: { [key: string]: unknown }, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** The path of the deepest value or key whose text contains `offset` ('' when none does). */
function pathAtOffset(node: unknown, offset: number, path = ''): string {
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
      if (key === undefined) continue;
      const child = joinPath(path, key);
      if (contains(pair.key, offset)) return child;
      if (contains(pair.value, offset)) return pathAtOffset(pair.value, offset, child);
    }
  } else if (isSeq(node)) {
    for (const [i, item] of node.items.entries()) {
      if (contains(item, offset)) return pathAtOffset(item, offset, joinPath(path, i));
    }
  }
  return path;
}

function contains(node: unknown, offset: number): boolean {
  const range = (node as { range?: [number, number, number] } | null)?.range;
  return range !== undefined && range !== null && offset >= range[0] && offset < range[2];
}
