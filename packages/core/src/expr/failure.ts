/**
 * Error construction shared by the parser, the checker and the runtime helpers.
 */

import { type ErrorCode, SluiceError } from '../errors.ts';

/** Throws `code` with the message prefixed by the 1-based column of `offset` in the expression. */
export function failAt(code: ErrorCode, offset: number, message: string): never {
  throw new SluiceError(code, `at column ${offset + 1}: ${message}`);
}

/** Throws EXPR_EVAL: a record made the expression fail. */
export function evalError(message: string): never {
  throw new SluiceError('EXPR_EVAL', message);
}

/** The runtime kind of a value as users see it: `null`, `number`, `string`, `boolean`, `array`, `object`. */
export function kindOf(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

const MAX_PREVIEW = 40;

/** Describes a value for an error message, e.g. `string 'abc'` or `array [1,2]`, truncated. */
export function describeValue(value: unknown): string {
  const kind = kindOf(value);
  if (kind === 'null') return 'NULL';
  let text: string;
  if (typeof value === 'string') text = `'${value}'`;
  else if (typeof value === 'bigint') text = String(value);
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  if (text.length > MAX_PREVIEW) text = `${text.slice(0, MAX_PREVIEW - 1)}…`;
  return `${kind} ${text}`;
}

/** A static type with its article, for messages: `a number`, `an array`, `NULL`. */
export function withArticle(type: string): string {
  if (type === 'null') return 'NULL';
  if (type === 'any') return 'a value of unknown type';
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}
