/**
 * CAST conversions and the conversion functions (hash, to_json).
 */

import { SluiceError } from '../errors.ts';
import { timestampOf } from './civil.ts';
import { describeValue, evalError } from './failure.ts';
import type { FunctionDoc, FunctionSpec } from './function-spec.ts';
import { nonFiniteReason, text } from './runtime.ts';
import type { CastTarget, ExprType } from './types.ts';

const NUMERIC_TEXT = /^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$/;
const TRUE_TEXT = new Set(['true', 't', 'yes', 'y', 'on', '1']);
const FALSE_TEXT = new Set(['false', 'f', 'no', 'n', 'off', '0']);

/** The SQL name used in messages for each cast target. */
export const castNames: { readonly [target in CastTarget]: string } = {
  integer: 'BIGINT',
  double: 'DOUBLE',
  string: 'VARCHAR',
  boolean: 'BOOLEAN',
  timestamp: 'TIMESTAMP',
};

/** The static type a cast produces. */
export const castResultTypes: { readonly [target in CastTarget]: ExprType } = {
  integer: 'number',
  double: 'number',
  string: 'string',
  boolean: 'boolean',
  timestamp: 'timestamp',
};

function cannot(value: unknown, target: CastTarget, hint = ''): never {
  return evalError(`cannot cast ${describeValue(value)} to ${castNames[target]}${hint}`);
}

function toNumber(value: unknown, target: CastTarget): number {
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string') {
    if (NUMERIC_TEXT.test(value)) n = Number(value);
    else {
      const empty = value.trim() === '';
      return cannot(
        value,
        target,
        empty
          ? `; empty text is not a number — write CAST(nullif(x, '') AS ${castNames[target]}) to make it NULL`
          : '; the text is not a number',
      );
    }
  } else if (typeof value === 'boolean') return value ? 1 : 0;
  else return cannot(value, target);
  if (n - n !== 0) {
    throw new SluiceError(
      'NUMBER_OUT_OF_RANGE',
      `cannot cast ${describeValue(value)} to ${castNames[target]}: it is ${nonFiniteReason(n)}`,
    );
  }
  return n;
}

/**
 * CAST(x AS DOUBLE): numbers as they are, decimal text (`12`, `-1.5e3`, surrounding spaces) parsed,
 * booleans as 1 or 0. Other text (`0x10`, `Infinity`, ``) is EXPR_EVAL; a value beyond the range of
 * a double (`'1e400'`) or a non-finite number is NUMBER_OUT_OF_RANGE.
 */
export function castDouble(value: unknown): number {
  return toNumber(value, 'double');
}

/** CAST(x AS BIGINT): as DOUBLE, then rounded half away from zero. */
export function castInteger(value: unknown): number {
  const n = toNumber(value, 'integer');
  return n < 0 ? -Math.round(-n) : Math.round(n);
}

/** CAST(x AS VARCHAR): numbers and booleans as written, arrays and objects as JSON. */
export function castString(value: unknown): string {
  return text(value);
}

/** CAST(x AS BOOLEAN): true/false, t/f, yes/no, y/n, on/off, 1/0 (any case); numbers are true unless 0. */
export function castBoolean(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value !== 0;
  if (typeof value === 'string') {
    const word = value.trim().toLowerCase();
    if (TRUE_TEXT.has(word)) return true;
    if (FALSE_TEXT.has(word)) return false;
    return cannot(value, 'boolean', '; use true or false');
  }
  return cannot(value, 'boolean');
}

/** CAST(x AS TIMESTAMP): epoch milliseconds, or ISO-8601 text (UTC when it has no offset). */
export function castTimestamp(value: unknown): number {
  const ms = timestampOf(value);
  if (Number.isNaN(ms)) {
    return cannot(
      value,
      'timestamp',
      "; use ISO-8601 text such as '2024-05-01T12:00:00Z' or epoch milliseconds",
    );
  }
  return ms;
}

/** The conversion for each cast target; each throws EXPR_EVAL for a value it cannot convert. */
export const castFunctions: { readonly [target in CastTarget]: (value: unknown) => unknown } = {
  integer: castInteger,
  double: castDouble,
  string: castString,
  boolean: castBoolean,
  timestamp: castTimestamp,
};

/** Whether a value of static type `from` can ever be cast to `target`. */
export function castAllowed(from: ExprType, target: CastTarget): boolean {
  if (from === 'boolean') return target !== 'timestamp';
  if (from === 'timestamp') return target !== 'boolean';
  return true;
}

/** 32-bit FNV-1a of the UTF-8 bytes of `s`, as an unsigned number. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      h = Math.imul(h ^ c, 0x01000193);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const low = s.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
        i++;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    if (c < 0x800) {
      h = Math.imul(h ^ (0xc0 | (c >> 6)), 0x01000193);
    } else {
      if (c < 0x10000) {
        h = Math.imul(h ^ (0xe0 | (c >> 12)), 0x01000193);
      } else {
        h = Math.imul(h ^ (0xf0 | (c >> 18)), 0x01000193);
        h = Math.imul(h ^ (0x80 | ((c >> 12) & 0x3f)), 0x01000193);
      }
      h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), 0x01000193);
    }
    h = Math.imul(h ^ (0x80 | (c & 0x3f)), 0x01000193);
  }
  return h >>> 0;
}

/** Reference entry for CAST, which is syntax rather than a function. */
export const castDoc: FunctionDoc = {
  name: 'cast',
  category: 'conversion',
  signature: 'CAST(x AS type), x::type',
  summary:
    "Converts `x` to INT/INTEGER/BIGINT (rounded), DOUBLE/FLOAT/REAL/DECIMAL/NUMERIC, VARCHAR/STRING/TEXT, BOOLEAN or TIMESTAMP (from ISO-8601 text or epoch ms). To a number, text must be decimal (`12`, `-1.5e3`; not `0x10`, `Infinity` or ``) and booleans are 1 or 0. Text that does not convert is an error (EXPR_EVAL), and so is a number beyond the range of a double such as `'1e400'` (NUMBER_OUT_OF_RANGE): the record goes to dead letters. This is the only way text becomes a number: arithmetic and numeric aggregates never convert it.",
};

/** The conversion functions. */
export const conversionFunctions: readonly FunctionSpec[] = [
  {
    name: 'hash',
    category: 'conversion',
    signature: 'hash(x)',
    summary:
      'A stable 32-bit FNV-1a hash (0 … 4294967295) of the UTF-8 text of `x` (numbers and booleans as written, arrays and objects as JSON).',
    params: ['any'],
    required: 1,
    returns: 'number',
    impl: (x: unknown) => fnv1a(text(x)),
  },
  {
    name: 'to_json',
    category: 'conversion',
    signature: 'to_json(x)',
    summary: 'The JSON text of `x`, e.g. of an array or object field.',
    params: ['any'],
    required: 1,
    returns: 'string',
    impl: (x: unknown) => JSON.stringify(x),
  },
];
