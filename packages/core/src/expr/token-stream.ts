/**
 * A cursor over the tokens of one expression, with the look-ahead and error helpers the parser
 * uses.
 */

import { failAt } from './failure.ts';
import { type Token, tokenize } from './lexer.ts';

/** Words that cannot name a field unless double-quoted. */
export const RESERVED: ReadonlySet<string> = new Set([
  'AND',
  'OR',
  'NOT',
  'IS',
  'NULL',
  'TRUE',
  'FALSE',
  'IN',
  'BETWEEN',
  'LIKE',
  'ILIKE',
  'CASE',
  'WHEN',
  'THEN',
  'ELSE',
  'END',
]);

/** Whether `word` (any case) is reserved and must be double-quoted to name a field. */
export function isReservedWord(word: string): boolean {
  return RESERVED.has(word.toUpperCase());
}

/** How a token reads in an error message; `end` names the end of the text (of a SQL script, say). */
export function describe(t: Token, end = 'the end of the expression'): string {
  switch (t.kind) {
    case 'end':
      return end;
    case 'string':
      return `string '${t.text}'`;
    case 'quoted':
      return `"${t.text}"`;
    default:
      return `'${t.text}'`;
  }
}

/** Throws EXPR_SYNTAX at offset `at`. */
export function fail(at: number, message: string): never {
  return failAt('EXPR_SYNTAX', at, message);
}

/** The tokens of one expression and the position of the parser among them. */
export class TokenStream {
  readonly tokens: Token[];
  pos = 0;

  /** Tokenizes `text`, or takes tokens that `tokenize` made (the stream starts at `pos`). */
  constructor(text: string | Token[], pos = 0) {
    this.tokens = typeof text === 'string' ? tokenize(text) : text;
    this.pos = pos;
  }

  /** The token `ahead` positions on, or the end token. */
  peek(ahead = 0): Token {
    return this.tokens[Math.min(this.pos + ahead, this.tokens.length - 1)];
  }

  /** Consumes and returns the current token (the end token stays). */
  next(): Token {
    const t = this.peek();
    if (t.kind !== 'end') this.pos++;
    return t;
  }

  /** Whether the token `ahead` is the bare word `word` (upper-case). */
  isWord(word: string, ahead = 0): boolean {
    const t = this.peek(ahead);
    return t.kind === 'word' && t.upper === word;
  }

  /** Whether the token `ahead` is operator `op`. */
  isOp(op: string, ahead = 0): boolean {
    const t = this.peek(ahead);
    return t.kind === 'op' && t.text === op;
  }

  /** Consumes the current token when it is the word `word`. */
  acceptWord(word: string): boolean {
    if (!this.isWord(word)) return false;
    this.pos++;
    return true;
  }

  /** Consumes operator `op` or throws EXPR_SYNTAX saying `why` it was expected. */
  expectOp(op: string, why: string): Token {
    const t = this.peek();
    if (t.kind !== 'op' || t.text !== op) fail(t.start, `expected '${op}' ${why}, found ${describe(t)}`);
    return this.next();
  }

  /** Consumes the word `word` or throws EXPR_SYNTAX saying `why` it was expected. */
  expectWord(word: string, why: string): Token {
    const t = this.peek();
    if (t.kind !== 'word' || t.upper !== word) fail(t.start, `expected ${word} ${why}, found ${describe(t)}`);
    return this.next();
  }
}
