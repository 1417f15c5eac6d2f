/**
 * Splits expression text into tokens with their offsets.
 */

import { failAt } from './failure.ts';

/** `word` is a bare identifier or keyword; `quoted` a double-quoted name; `end` the end of input. */
export type TokenKind = 'number' | 'string' | 'word' | 'quoted' | 'op' | 'end';

/**
 * One token. For `word` (a bare identifier or keyword) `text` is as written and `upper` is its
 * upper-case form; for `quoted` and `string` `text` is the unescaped content; for `op` it is the
 * operator; for `number` `value` is the parsed number.
 */
export interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  readonly upper: string;
  readonly value: number;
  readonly start: number;
  readonly end: number;
}

const TWO_CHAR_OPS = new Set(['||', '::', '<=', '>=', '<>', '!=']);
const ONE_CHAR_OPS = new Set(['(', ')', ',', '.', '[', ']', '+', '-', '*', '/', '%', '=', '<', '>']);
const MISTAKES: { [op: string]: string } = {
  '==': "'==' is not an operator; use '=' to compare",
  '&&': "'&&' is not an operator; use AND",
  '!': "'!' is not an operator; use NOT, or <> for inequality",
  '|': "'|' is not an operator; use || to concatenate or OR for logic",
  '&': "'&' is not an operator; use AND",
  '`': 'backticks do not quote names; quote a field name with double quotes, e.g. "my field"',
  ';': "';' cannot appear in an expression; write a single expression",
};

const IDENT_START = /[\p{L}_]/u;
const IDENT_PART = /[\p{L}\p{N}_$]/u;
const NUMBER = /(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/y;

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

function token(kind: TokenKind, text: string, start: number, end: number, value = 0): Token {
  return { kind, text, upper: kind === 'word' ? text.toUpperCase() : text, value, start, end };
}

/** Reads a quoted run (`'…'` or `"…"`) where a doubled quote stands for one; returns content and end. */
function readQuoted(text: string, start: number, quote: string): [string, number] {
  let out = '';
  let i = start + 1;
  for (;;) {
    const next = text.indexOf(quote, i);
    if (next < 0) {
      const what = quote === "'" ? 'string literal' : 'quoted name';
      failAt('EXPR_SYNTAX', start, `unterminated ${what}; close it with ${quote}`);
    }
    out += text.slice(i, next);
    if (text[next + 1] === quote) {
      out += quote;
      i = next + 2;
    } else {
      return [out, next + 1];
    }
  }
}

/** How {@link tokenize} reads text that holds more than one expression. */
export interface TokenizeOptions {
  /**
   * Read `;` as an operator token (it ends a statement in a SQL script) instead of refusing it,
   * and `?`, `{`, `}`, `|` too (a MATCH_RECOGNIZE pattern's quantifiers and alternation, `B+?`, `(C{2,4} | D)`); the
   * statement parser of `@sluice/sql` sets it. An expression stops at them.
   */
  readonly statements?: boolean;
  /**
   * Read a backtick-quoted run as a quoted name, as Flink SQL writes identifiers (`` `user` ``; a
   * doubled backtick stands for one), beside double quotes; the statement parser of `@sluice/sql`
   * sets it. Expressions elsewhere refuse backticks with a hint.
   */
  readonly backtickNames?: boolean;
}

/** Operators only a SQL script has: `;` between statements, pattern quantifiers. */
const STATEMENT_OPS = new Set([';', '?', '{', '}', '|']);

/** Tokenizes `text`; the last token has kind `end`. Throws EXPR_SYNTAX at the first bad character. */
export function tokenize(text: string, options: TokenizeOptions = {}): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    if (c === '-' && text[i + 1] === '-') {
      const eol = text.indexOf('\n', i);
      i = eol < 0 ? text.length : eol + 1;
      continue;
    }
    if (c === '/' && text[i + 1] === '*') {
      const close = text.indexOf('*/', i + 2);
      if (close < 0) failAt('EXPR_SYNTAX', i, 'unterminated comment; close it with */');
      i = close + 2;
      continue;
    }
    const start = i;
    const prev = tokens[tokens.length - 1];
    const afterValue =
      prev !== undefined && (prev.kind === 'word' || prev.kind === 'quoted' || prev.text === ']');
    if (isDigit(c) || (c === '.' && isDigit(text[i + 1]) && !afterValue)) {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(text);
      const raw = m === null ? c : m[0];
      i += raw.length;
      if (i < text.length && IDENT_PART.test(text[i])) {
        failAt(
          'EXPR_SYNTAX',
          start,
          `'${text.slice(start, i + 1)}' is not a number; separate words with spaces`,
        );
      }
      const value = Number(raw);
      if (!Number.isFinite(value)) failAt('EXPR_SYNTAX', start, `number ${raw} is too large`);
      tokens.push(token('number', raw, start, i, value));
      continue;
    }
    if (c === "'" || c === '"' || (c === '`' && options.backtickNames)) {
      const [content, end] = readQuoted(text, i, c);
      if (c !== "'" && content.length === 0) {
        failAt(
          'EXPR_SYNTAX',
          start,
          `empty quoted name; put the field name between the ${c === '"' ? 'double quotes' : 'backticks'}`,
        );
      }
      tokens.push(token(c === "'" ? 'string' : 'quoted', content, start, end));
      i = end;
      continue;
    }
    const cp = String.fromCodePoint(text.codePointAt(i) ?? 0);
    if (IDENT_START.test(cp)) {
      i += cp.length;
      while (i < text.length) {
        const part = String.fromCodePoint(text.codePointAt(i) ?? 0);
        if (!IDENT_PART.test(part)) break;
        i += part.length;
      }
      tokens.push(token('word', text.slice(start, i), start, i));
      continue;
    }
    const two = text.slice(i, i + 2);
    if (TWO_CHAR_OPS.has(two)) {
      tokens.push(token('op', two, start, i + 2));
      i += 2;
      continue;
    }
    if (two.length === 2 && MISTAKES[two] !== undefined) failAt('EXPR_SYNTAX', start, MISTAKES[two]);
    if (ONE_CHAR_OPS.has(c) || (options.statements === true && STATEMENT_OPS.has(c))) {
      tokens.push(token('op', c, start, i + 1));
      i++;
      continue;
    }
    if (MISTAKES[c] !== undefined) failAt('EXPR_SYNTAX', start, MISTAKES[c]);
    failAt('EXPR_SYNTAX', start, `unexpected character '${cp}'`);
  }
  tokens.push(token('end', '', text.length, text.length));
  return tokens;
}
