/**
 * Math functions. Numbers are IEEE-754 doubles; results outside the domain (sqrt of a negative,
 * log of zero) are errors rather than NaN.
 */

import { evalError } from './failure.ts';
import type { FunctionSpec } from './function-spec.ts';
import { divZero } from './runtime.ts';

function finite(fn: string, result: number, why: string): number {
  return Number.isNaN(result) ? evalError(`${fn}(): ${why}`) : result;
}

/** Rounds half away from zero to `digits` decimal places (negative digits round to tens, hundreds…). */
function round(x: number, digits?: number): number {
  if (!Number.isFinite(x)) return x;
  const n = digits ?? 0;
  if (n === 0) return x < 0 ? -Math.round(-x) : Math.round(x);
  const abs = Math.abs(x) * (1 + Number.EPSILON);
  let rounded: number;
  if (n > 0) {
    const f = 10 ** n;
    rounded = Math.round(abs * f) / f;
    if (!Number.isFinite(rounded)) return x;
  } else {
    const f = 10 ** -n;
    rounded = Number.isFinite(f) ? Math.round(abs / f) * f : 0;
  }
  return x < 0 ? -rounded : rounded;
}

function log(base: number, x: number): number {
  if (base <= 0 || base === 1)
    return evalError(`log(): base ${base} is invalid; use a positive base other than 1`);
  if (x <= 0) return evalError(`log(): cannot take the logarithm of ${x}; the argument must be positive`);
  return Math.log(x) / Math.log(base);
}

function positive(fn: string, x: number): number {
  return x <= 0 ? evalError(`${fn}(): cannot take the logarithm of ${x}; the argument must be positive`) : x;
}

function unary(
  name: string,
  summary: string,
  impl: (x: number) => number,
  aliases?: readonly string[],
): FunctionSpec {
  return {
    name,
    aliases,
    category: 'math',
    signature: `${name}(x)`,
    summary,
    params: ['number'],
    required: 1,
    returns: 'number',
    impl,
  };
}

/** The math functions. */
export const mathFunctions: readonly FunctionSpec[] = [
  unary('abs', 'Absolute value of `x`.', Math.abs),
  unary('ceil', 'Smallest whole number not less than `x`. Alias: ceiling.', Math.ceil, ['ceiling']),
  unary('floor', 'Largest whole number not greater than `x`.', Math.floor),
  {
    name: 'round',
    category: 'math',
    signature: 'round(x[, digits])',
    summary:
      'Rounds `x` half away from zero to `digits` decimal places (default 0; negative rounds to tens, …).',
    params: ['number', 'integer'],
    required: 1,
    returns: 'number',
    impl: round,
  },
  unary('sqrt', 'Square root of `x`; an error when `x` is negative.', (x) =>
    x < 0 ? evalError(`sqrt(): cannot take the square root of ${x}`) : Math.sqrt(x),
  ),
  {
    name: 'power',
    aliases: ['pow'],
    category: 'math',
    signature: 'power(x, y)',
    summary: '`x` raised to the power `y`. Alias: pow.',
    params: ['number', 'number'],
    required: 2,
    returns: 'number',
    impl: (x: number, y: number) => finite('power', x ** y, `${x} to the power ${y} is not a real number`),
  },
  unary('exp', 'e raised to the power `x`.', Math.exp),
  unary('ln', 'Natural logarithm of `x`; an error unless `x` is positive.', (x) =>
    Math.log(positive('ln', x)),
  ),
  unary('log10', 'Base-10 logarithm of `x`; an error unless `x` is positive.', (x) =>
    Math.log10(positive('log10', x)),
  ),
  {
    name: 'log',
    category: 'math',
    signature: 'log(base, x)',
    summary: 'Logarithm of `x` to `base`.',
    params: ['number', 'number'],
    required: 2,
    returns: 'number',
    impl: log,
  },
  {
    name: 'mod',
    category: 'math',
    signature: 'mod(x, y)',
    summary:
      'Remainder of `x` divided by `y`, with the sign of `x` (same as `x % y`); an error when `y` is 0.',
    params: ['number', 'number'],
    required: 2,
    returns: 'number',
    impl: (x: number, y: number) => (y === 0 ? divZero('mod()', 0) : x % y),
  },
  unary('sign', 'The sign of `x`: -1, 0 or 1.', Math.sign),
];
