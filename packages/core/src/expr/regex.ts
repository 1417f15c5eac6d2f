/**
 * LIKE patterns and the regular expressions of the regexp_* functions and JSON Schema `pattern`s:
 * translation, validation and bounded caches for patterns that are only known per record.
 *
 * Every user pattern runs on RE2 (the `re2js` port), never on V8's backtracking engine: matching
 * takes time linear in the input whatever the pattern, so no record or config can freeze the
 * process (`(a+)+$` on a long run of `a`s is answered at once).
 */

import { RE2JS } from 're2js';
import { evalError } from './failure.ts';
import { requiredLiteral } from './regex-literal.ts';

const CACHE_LIMIT = 256;

/** How a LIKE pattern is matched: by a string method when it allows, else by an RE2 program. */
export type LikeMatcher =
  | { readonly kind: 'equals' | 'prefix' | 'suffix' | 'contains'; readonly text: string }
  | { readonly kind: 'regex'; readonly regex: RE2JS };

interface LikePart {
  readonly wildcard: '%' | '_' | null;
  readonly text: string;
}

/**
 * Splits a LIKE pattern into literal runs and wildcards. `escapeChar` is the escape character (empty
 * for none). Returns a message when the pattern ends with it.
 */
function likeParts(pattern: string, escapeChar: string): LikePart[] | string {
  const parts: LikePart[] = [];
  let text = '';
  const flush = () => {
    if (text !== '') parts.push({ wildcard: null, text });
    text = '';
  };
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (escapeChar !== '' && c === escapeChar) {
      if (i + 1 >= pattern.length) {
        return `LIKE pattern '${pattern}' ends with the escape character '${escapeChar}'; escape it too to match it literally`;
      }
      text += pattern[++i];
    } else if (c === '%' || c === '_') {
      flush();
      if (c === '_' || parts[parts.length - 1]?.wildcard !== '%') parts.push({ wildcard: c, text: '' });
    } else {
      text += c;
    }
  }
  flush();
  return parts;
}

/**
 * Builds the matcher for a LIKE (or, with `caseInsensitive`, ILIKE) pattern: `%` matches any run
 * of characters, `_` exactly one, and `escapeChar` makes the next character literal. Returns a
 * message instead when the pattern is malformed.
 */
export function likeMatcher(
  pattern: string,
  escapeChar: string,
  caseInsensitive: boolean,
): LikeMatcher | string {
  const parts = likeParts(pattern, escapeChar);
  if (typeof parts === 'string') return parts;
  if (!caseInsensitive && !parts.some((p) => p.wildcard === '_')) {
    const literals = parts.filter((p) => p.wildcard === null);
    const percents = parts.length - literals.length;
    if (literals.length === 0)
      return percents === 0 ? { kind: 'equals', text: '' } : { kind: 'prefix', text: '' };
    if (literals.length === 1) {
      const text = literals[0].text;
      if (percents === 0) return { kind: 'equals', text };
      if (percents === 1) return { kind: parts[0].wildcard === null ? 'prefix' : 'suffix', text };
      if (percents === 2 && parts[1].wildcard === null) return { kind: 'contains', text };
    }
  }
  let source = '';
  for (const p of parts) source += p.wildcard === '%' ? '.*' : p.wildcard === '_' ? '.' : RE2JS.quote(p.text);
  const flags = RE2JS.DOTALL | (caseInsensitive ? RE2JS.CASE_INSENSITIVE : 0);
  try {
    return { kind: 'regex', regex: RE2JS.compile(source, flags) };
  } catch (err) {
    return `LIKE pattern of ${pattern.length} characters cannot be compiled: ${re2Detail(err)}`;
  }
}

/** Whether `value` matches a LIKE matcher. */
export function likeTest(m: LikeMatcher, value: string): boolean {
  switch (m.kind) {
    case 'equals':
      return value === m.text;
    case 'prefix':
      return value.startsWith(m.text);
    case 'suffix':
      return value.endsWith(m.text);
    case 'contains':
      return value.includes(m.text);
    default:
      return m.regex.testExact(value);
  }
}

const likeCache = [new Map<string, Map<string, LikeMatcher>>(), new Map<string, Map<string, LikeMatcher>>()];

/** `likeMatcher` for a pattern known only per record, cached; throws EXPR_EVAL on a bad pattern. */
export function cachedLikeMatcher(
  pattern: string,
  escapeChar: string,
  caseInsensitive: boolean,
): LikeMatcher {
  const byEscape = likeCache[caseInsensitive ? 1 : 0];
  let byPattern = byEscape.get(escapeChar);
  if (byPattern === undefined) {
    byPattern = new Map();
    byEscape.set(escapeChar, byPattern);
  }
  let m = byPattern.get(pattern);
  if (m === undefined) {
    const built = likeMatcher(pattern, escapeChar, caseInsensitive);
    if (typeof built === 'string') return evalError(built);
    if (byPattern.size >= CACHE_LIMIT) byPattern.clear();
    byPattern.set(pattern, built);
    m = built;
  }
  return m;
}

/** A compiled regexp_* pattern: an RE2 program, and whether to replace every match (flag `g`). */
export interface UserRegex {
  readonly re: RE2JS;
  readonly global: boolean;
  /** A literal every match contains (`requiredLiteral`): a string without it has no match. */
  readonly required?: string;
}

const RE2_NOTE = 'patterns use RE2 syntax: no backreferences, lookahead or lookbehind';

function re2Detail(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/^error parsing regexp: /, '');
}

/**
 * Compiles a regexp_* pattern (RE2 syntax) with SQL-style flags (`i`, `m`, `s`, and `g` when
 * `allowGlobal`). Returns a message instead when the pattern or the flags are invalid.
 */
export function compileRegex(
  fn: string,
  pattern: string,
  flags: string,
  allowGlobal: boolean,
): UserRegex | string {
  let bits = 0;
  let global = false;
  for (const f of flags) {
    if (f === 'i') bits |= RE2JS.CASE_INSENSITIVE;
    else if (f === 'm') bits |= RE2JS.MULTILINE;
    else if (f === 's') bits |= RE2JS.DOTALL;
    else if (f === 'g' && allowGlobal) global = true;
    else
      return `${fn}(): unknown flag '${f}'; use ${allowGlobal ? 'g (replace all), ' : ''}i (ignore case), m (multi-line) or s (dot matches newline)`;
  }
  try {
    const re = RE2JS.compile(pattern, bits);
    const required = flags.includes('i') ? undefined : requiredLiteral(pattern);
    return required === undefined ? { re, global } : { re, global, required };
  } catch (err) {
    return `${fn}(): invalid regular expression '${pattern}': ${re2Detail(err)} (${RE2_NOTE})`;
  }
}

const regexCache = new Map<string, UserRegex>();

/** `compileRegex` for a pattern known only per record, cached; throws EXPR_EVAL when invalid. */
export function cachedRegex(fn: string, pattern: string, flags: string, allowGlobal: boolean): UserRegex {
  const key = `${allowGlobal ? 'g' : ''}${flags}/${pattern}`;
  let re = regexCache.get(key);
  if (re === undefined) {
    const built = compileRegex(fn, pattern, flags, allowGlobal);
    if (typeof built === 'string') return evalError(built);
    if (regexCache.size >= CACHE_LIMIT) regexCache.clear();
    regexCache.set(key, built);
    re = built;
  }
  return re;
}

/**
 * Ajv's `code.regExp` engine: JSON Schema `pattern` and `patternProperties` compiled to RE2, so
 * a schema's pattern matches in linear time. Throws, naming the pattern, when RE2 cannot run it;
 * Ajv then refuses the schema.
 */
export const re2RegExpEngine = Object.assign(
  (pattern: string, _unicode: string): RE2JS => {
    try {
      return RE2JS.compile(pattern);
    } catch (err) {
      throw new Error(`JSON Schema pattern '${pattern}' cannot run on RE2: ${re2Detail(err)} (${RE2_NOTE})`);
    }
  },
  { code: 're2RegExpEngine' },
);

const replacementCache = new Map<string, string>();

/**
 * Translates a SQL replacement (`\1`…`\9` for groups, `\0` or `\&` for the whole match, `\\` for
 * a backslash; `$` is literal) into JavaScript replacement syntax.
 */
export function jsReplacement(sql: string): string {
  let out = replacementCache.get(sql);
  if (out !== undefined) return out;
  out = '';
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i];
    const next = sql[i + 1];
    if (c === '$') out += '$$';
    else if (c === '\\' && next !== undefined && next >= '1' && next <= '9') out += `$${sql[++i]}`;
    else if (c === '\\' && (next === '0' || next === '&')) {
      out += '$&';
      i++;
    } else if (c === '\\' && next === '\\') out += sql[++i];
    else out += c;
  }
  if (replacementCache.size >= CACHE_LIMIT) replacementCache.clear();
  replacementCache.set(sql, out);
  return out;
}
