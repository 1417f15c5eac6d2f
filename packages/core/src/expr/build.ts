/**
 * Assembles generated code into a JavaScript function with `new Function`, folding constant
 * subtrees at compile time and attaching the step and config path to errors.
 */

import { SluiceError } from '../errors.ts';
import type { Row } from '../record.ts';
import type { Checked } from './check.ts';
import { Codegen, type Folder } from './codegen.ts';
import { castBoolean, castDouble, castInteger, castString, castTimestamp } from './conversion-functions.ts';
import type { FunctionImpl } from './function-spec.ts';
import { cachedLikeMatcher, cachedRegex, likeTest } from './regex.ts';
import {
  argError,
  arithError,
  arithRange,
  bool,
  callRange,
  compareError,
  divZero,
  greatest,
  index,
  least,
  missing,
  needs,
  notObject,
  own,
  predicateError,
  text,
  textOrEmpty,
  timestampArg,
} from './runtime.ts';
import type { Expr } from './types.ts';

/** The helpers generated code may call, each bound to a local `$name`. */
const helpers = {
  argError,
  arithError,
  arithRange,
  bool,
  callRange,
  compareError,
  divZero,
  greatest,
  index,
  least,
  missing,
  needs,
  notObject,
  own,
  predicateError,
  text,
  textOrEmpty,
  timestampArg,
  castBoolean,
  castDouble,
  castInteger,
  castString,
  castTimestamp,
  likeMatcher: cachedLikeMatcher,
  likeTest,
  regex: cachedRegex,
};

const PRELUDE = Object.keys(helpers)
  .map((name) => `const $${name} = $rt.${name};`)
  .join('\n');

type Clock = { now(): number };
type Rethrow = (err: unknown) => unknown;
type Factory = (
  rt: typeof helpers,
  constants: readonly unknown[],
  impls: readonly FunctionImpl[],
  rethrow: Rethrow,
  clock: Clock,
) => (record: Row) => unknown;

/** `value` returns the SQL value; `predicate` returns true only for TRUE (NULL and FALSE give false). */
export type BuildMode = 'value' | 'predicate';

/** The source of a generated function and what it needs to be instantiated. */
export interface Generated {
  readonly source: string;
  readonly constants: readonly unknown[];
  readonly impls: readonly FunctionImpl[];
}

/**
 * Generates the source of the evaluator of `checked.root`; with `fold`, constant subtrees are
 * folded; with `missingAsNull`, a field the record lacks reads as NULL everywhere.
 */
export function generate(checked: Checked, mode: BuildMode, fold: boolean, missingAsNull = false): Generated {
  const folder: Folder | undefined = fold ? (e) => foldConstant(checked, e) : undefined;
  const g = new Codegen(checked, folder, missingAsNull);
  const code = g.gen(checked.root);
  let body: string;
  if (mode === 'value') {
    body = `return ${code};`;
  } else {
    const r = g.runtime(checked.root);
    body =
      r === 'boolean' || r === 'null'
        ? `return ${code} === true;`
        : `const v = ${code};\n    if (v === true) return true;\n    if (v === false || v === null) return false;\n    return $predicateError(v);`;
  }
  const locals = [
    ...g.constants.map((_, i) => `const c${i} = $c[${i}];`),
    ...g.impls.map((_, i) => `const f${i} = $f[${i}];`),
  ];
  const temps = Array.from({ length: g.temps }, (_, i) => `t${i}`);
  const source = [
    "'use strict';",
    PRELUDE,
    ...locals,
    'return function evaluate(r) {',
    temps.length > 0 ? `  let ${temps.join(', ')};` : '',
    '  try {',
    `    ${body}`,
    '  } catch (e) {',
    '    throw $rethrow(e);',
    '  }',
    '};',
  ].join('\n');
  return { source, constants: g.constants, impls: g.impls };
}

function instantiate(generated: Generated, rethrow: Rethrow, clock: Clock): (record: Row) => unknown {
  const factory = new Function('$rt', '$c', '$f', '$rethrow', '$clock', generated.source) as Factory;
  return factory(helpers, generated.constants, generated.impls, rethrow, clock);
}

const keep: Rethrow = (err) => err;
const noClock: Clock = { now: () => Number.NaN };

/** Evaluates a constant subtree once; undefined when it throws (it then fails at runtime instead). */
function foldConstant(checked: Checked, e: Expr): { value: unknown } | undefined {
  try {
    const evaluate = instantiate(generate({ ...checked, root: e }, 'value', false), keep, noClock);
    return { value: evaluate({}) };
  } catch {
    return undefined;
  }
}

/** Where errors are reported and what now() reads. */
export interface BuildContext {
  readonly step?: string;
  readonly path?: string;
  readonly clock: Clock;
  /** A field the record lacks reads as NULL instead of throwing EXPR_MISSING_FIELD. */
  readonly missingAsNull?: boolean;
}

/** Builds the evaluator of `checked.root`. Its errors carry `context.step` and `context.path`. */
export function buildEvaluator(
  checked: Checked,
  mode: BuildMode,
  context: BuildContext,
): (record: Row) => unknown {
  const { step, path } = context;
  const rethrow: Rethrow = (err) => {
    if (err instanceof SluiceError) {
      if (step === undefined && path === undefined) return err;
      return new SluiceError(err.code, err.message, { step, path, cause: err.cause });
    }
    const message = err instanceof Error ? err.message : String(err);
    const code = err instanceof RangeError ? 'EXPR_EVAL' : 'INTERNAL';
    return new SluiceError(code, `the expression failed: ${message}`, { step, path, cause: err });
  };
  return instantiate(generate(checked, mode, true, context.missingAsNull === true), rethrow, context.clock);
}
