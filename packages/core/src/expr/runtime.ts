/**
 * Helpers that generated code calls: the slow paths (errors, conversions) kept out of line so
 * the fast paths stay small enough to inline.
 */

import { SluiceError } from '../errors.ts';
import { timestampOf } from './civil.ts';
import { describeValue, evalError, kindOf } from './failure.ts';

/** Throws EXPR_MISSING_FIELD for the field path `path`. */
export function missing(path: string): never {
  throw new SluiceError(
    'EXPR_MISSING_FIELD',
    `field '${path}' is missing from the record; check the name (field names are case-sensitive) or write coalesce(${path}, …) to accept records without it`,
  );
}

/** Reads an own property: the generated code uses it for names such as `constructor` that objects inherit. */
export function own(object: object, key: string): unknown {
  return Object.hasOwn(object, key) ? (object as { [key: string]: unknown })[key] : undefined;
}

/** Throws EXPR_EVAL: `path` is not an object, so its member `name` cannot be read. */
export function notObject(value: unknown, path: string, name: string): never {
  return evalError(`cannot read '${name}' of ${path}: it is ${describeValue(value)}, not an object`);
}

/**
 * `container[key]`: an array element by 0-based whole-number index, or an object entry by name.
 * An index out of range or an absent entry gives null; other combinations throw EXPR_EVAL.
 */
export function index(container: unknown, key: unknown, path: string): unknown {
  if (Array.isArray(container)) {
    if (typeof key !== 'number' || !Number.isInteger(key)) {
      return evalError(
        `${path}: an array index must be a whole number (0 is the first element), got ${describeValue(key)}`,
      );
    }
    const v: unknown = container[key];
    return v === undefined ? null : v;
  }
  if (typeof container === 'object' && container !== null) {
    if (typeof key !== 'string' && typeof key !== 'number') {
      return evalError(`${path}: an object entry is read by name, got ${describeValue(key)}`);
    }
    const v = own(container, typeof key === 'string' ? key : String(key));
    return v === undefined ? null : v;
  }
  return evalError(
    `${path}: cannot index ${describeValue(container)}; only arrays and objects have elements`,
  );
}

/** Throws EXPR_EVAL: an arithmetic operator got a non-number. */
export function arithError(op: string, left: unknown, right: unknown, column: number): never {
  const bad = typeof left !== 'number' ? left : right;
  const hint =
    op === '+' && (typeof left === 'string' || typeof right === 'string')
      ? '; use || to concatenate strings'
      : typeof bad === 'string'
        ? '; convert text with CAST(x AS DOUBLE)'
        : '';
  return evalError(`at column ${column}: operator ${op} needs numbers, got ${describeValue(bad)}${hint}`);
}

/** The range of a double, for messages. */
export const DOUBLE_RANGE = 'the range of a double (about ±1.8e308)';

/** Why a non-finite number is not a value: `Infinity, beyond the range…` or `NaN (not a number)`. */
export function nonFiniteReason(value: number): string {
  return Number.isNaN(value) ? 'NaN (not a number)' : `${value}, beyond ${DOUBLE_RANGE}`;
}

/** Throws NUMBER_OUT_OF_RANGE: `left op right` gave ±Infinity or NaN. */
export function arithRange(op: string, left: number, right: number, result: number, column: number): never {
  throw new SluiceError(
    'NUMBER_OUT_OF_RANGE',
    `at column ${column}: ${left} ${op} ${right} gives ${nonFiniteReason(result)}; check the values, or scale them down before the operation`,
  );
}

/** Throws NUMBER_OUT_OF_RANGE: function `fn` gave ±Infinity or NaN. */
export function callRange(fn: string, result: number): never {
  throw new SluiceError(
    'NUMBER_OUT_OF_RANGE',
    `${fn}() gives ${nonFiniteReason(result)}; check its arguments, or scale them down`,
  );
}

/** Throws EXPR_DIVISION_BY_ZERO for `/`, `%` or mod(); `column` 0 means unknown. */
export function divZero(op: string, column: number): never {
  throw new SluiceError(
    'EXPR_DIVISION_BY_ZERO',
    `${column > 0 ? `at column ${column}: ` : ''}${op === '/' ? 'division' : 'modulo'} by zero; write nullif(divisor, 0) to get NULL instead`,
  );
}

/** Throws EXPR_EVAL: two values of different kinds (or arrays/objects) were compared. */
export function compareError(op: string, left: unknown, right: unknown, column: number): never {
  const l = kindOf(left);
  const r = kindOf(right);
  const hint =
    l === 'object' || l === 'array' || r === 'object' || r === 'array'
      ? 'arrays and objects cannot be compared'
      : 'convert one side with CAST';
  return evalError(
    `at column ${column}: cannot compare ${describeValue(left)} with ${describeValue(right)} using ${op}; ${hint}`,
  );
}

/** Equality of two non-null values of the same kind; throws EXPR_EVAL when the kinds differ. */
export function equals(left: unknown, right: unknown, column: number): boolean {
  return typeof left === typeof right && typeof left !== 'object'
    ? left === right
    : compareError('=', left, right, column);
}

/** Throws EXPR_EVAL: `what` (an operator) needs a value of the `expected` kind. */
export function needs(what: string, expected: string, value: unknown, column: number): never {
  return evalError(`at column ${column}: ${what} needs ${expected}, got ${describeValue(value)}`);
}

/** Returns `value` when it is a boolean or null; throws EXPR_EVAL naming `what` needed one. */
export function bool(value: unknown, what: string, column: number): boolean | null {
  if (value === null || typeof value === 'boolean') return value;
  return evalError(`at column ${column}: ${what} needs a boolean, got ${describeValue(value)}`);
}

/** Throws EXPR_EVAL: a filter condition gave something other than a boolean or NULL. */
export function predicateError(value: unknown): never {
  return evalError(
    `a condition must be TRUE, FALSE or NULL, got ${describeValue(value)}; compare it, e.g. x = 'yes'`,
  );
}

/** The text of a non-null value for `||` and concat(): numbers and booleans as written, others as JSON. */
export function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  return JSON.stringify(value);
}

/** `text`, with NULL as the empty string (concat() skips NULLs). */
export function textOrEmpty(value: unknown): string {
  return value === null ? '' : text(value);
}

/** Throws EXPR_EVAL: argument `position` (1-based) of `fn` has the wrong type. */
export function argError(fn: string, position: number, expected: string, value: unknown): never {
  return evalError(`${fn}() expects ${expected} as argument ${position}, got ${describeValue(value)}`);
}

/** Reads a timestamp argument (epoch ms or ISO-8601 text) as epoch ms; throws EXPR_EVAL otherwise. */
export function timestampArg(fn: string, position: number, value: unknown): number {
  const ms = timestampOf(value);
  if (Number.isNaN(ms)) {
    return argError(fn, position, 'a timestamp (epoch milliseconds or ISO-8601 text)', value);
  }
  return ms;
}

function pick(a: unknown, b: unknown, greater: boolean, fn: string, column: number): unknown {
  if (a === null) return b;
  if (b === null) return a;
  if (typeof a !== typeof b || typeof a === 'object') return compareError(`${fn}()`, a, b, column);
  return (a as number) >= (b as number) === greater ? a : b;
}

/** The greater of two values, NULL ignored (greatest() folds its arguments with it). */
export function greatest(a: unknown, b: unknown, column: number): unknown {
  return pick(a, b, true, 'greatest', column);
}

/** The lesser of two values, NULL ignored (least() folds its arguments with it). */
export function least(a: unknown, b: unknown, column: number): unknown {
  return pick(a, b, false, 'least', column);
}
