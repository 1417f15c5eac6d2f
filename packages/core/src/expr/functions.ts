/**
 * The function table: every scalar function by name and alias, the aggregate names, and the
 * reference docs derived from the same specs.
 */

import { aggregateDocs } from '../aggregate/registry.ts';
import {
  registerUserAggregate,
  type UserAggregate,
  userAggregateDefinition,
} from '../aggregate/user-aggregates.ts';
import { SluiceError } from '../errors.ts';
import { calendarFunctions } from './calendar-functions.ts';
import { conditionalFunctions } from './conditional-functions.ts';
import { castDoc, conversionFunctions } from './conversion-functions.ts';
import { describeValue, evalError } from './failure.ts';
import { flinkFunctions } from './flink-functions.ts';
import type { FunctionDoc, FunctionSpec, ParamKind } from './function-spec.ts';
import { mathFunctions } from './math-functions.ts';
import { stringFunctions } from './string-functions.ts';
import { timeFunctions } from './time-functions.ts';
import type { Expr } from './types.ts';

const specs: readonly FunctionSpec[] = [
  ...stringFunctions,
  ...mathFunctions,
  ...timeFunctions,
  ...calendarFunctions,
  ...flinkFunctions,
  ...conditionalFunctions,
  ...conversionFunctions,
];

const byName = new Map<string, FunctionSpec>();
for (const spec of specs) {
  for (const name of [spec.name, ...(spec.aliases ?? [])]) byName.set(name, spec);
}

/** The names of the functions defined from TypeScript (`defineFunction`). */
const userDefined = new Set<string>();

/** A scalar function defined from TypeScript: its name, what it takes and gives, and its code. */
export interface UserFunction {
  /** How expressions call it: a letter or `_`, then letters, digits and `_` (case does not matter). */
  readonly name: string;
  /** What each argument must be (checked before the call; see `ParamKind`); all are required. */
  readonly params: readonly ParamKind[];
  /** What it gives: `number`, `string`, `boolean` or `any`. */
  readonly returns: 'number' | 'string' | 'boolean' | 'any';
  /** Called with non-NULL, checked arguments (a NULL argument makes the result NULL); may return null. */
  readonly impl: (...args: never[]) => unknown;
  /** One sentence for `sluice describe` and error messages. */
  readonly summary?: string;
  /** Whether a call may give another result for the same arguments (never folded at compile time). */
  readonly volatile?: boolean;
}

const NAME = /^[a-z_][a-z0-9_]*$/;

/**
 * Defines a scalar function that every expression of this process can call — in YAML, the
 * TypeScript API and SQL (where `CREATE FUNCTION name AS '…'` names it too). It cannot replace a
 * built-in or aggregate function, and a name is defined once (defining the same spec again is
 * allowed, so a module may be loaded twice). An exception the code throws, or a result of another
 * kind than `returns`, fails the record it was called for: the record goes to the dead letters
 * with the function's name and the reason.
 */
export function defineFunction(fn: UserFunction): void {
  const name = fn.name.toLowerCase();
  if (!NAME.test(name))
    throw new SluiceError(
      'CONFIG_INVALID',
      `function name '${fn.name}' is not a name: a letter or '_', then letters, digits and '_'`,
    );
  const existing = byName.get(name);
  if (existing !== undefined && !userDefined.has(name))
    throw new SluiceError('CONFIG_INVALID', `function ${name}() is built in: choose another name`);
  if (aggregateNames.has(name))
    throw new SluiceError('CONFIG_INVALID', `${name}() is an aggregate function: choose another name`);
  if (existing !== undefined && (existing as UserSpec).source !== fn)
    throw new SluiceError('CONFIG_INVALID', `function ${name}() is defined already`);
  if (existing !== undefined) return;
  const impl = (...args: never[]): unknown => {
    let result: unknown;
    try {
      result = fn.impl(...args);
    } catch (err) {
      return evalError(`${name}(): ${err instanceof Error ? err.message : String(err)}`);
    }
    if (result === null || result === undefined) return null;
    if (fn.returns !== 'any' && typeof result !== fn.returns)
      return evalError(
        `${name}() gave ${describeValue(result)}, where it is defined to give a ${fn.returns}`,
      );
    return result;
  };
  const spec: UserSpec = {
    name,
    category: 'conversion',
    signature: `${name}(${fn.params.map((_, i) => `arg${i + 1}`).join(', ')})`,
    summary: fn.summary ?? 'A function defined from TypeScript.',
    params: fn.params,
    required: fn.params.length,
    returns: fn.returns,
    impl,
    ...(fn.volatile ? { volatile: true } : {}),
    source: fn,
  };
  byName.set(name, spec);
  userDefined.add(name);
}

/** A user function's spec, with the definition it was made from. */
interface UserSpec extends FunctionSpec {
  readonly source: UserFunction;
}

/** Whether `name` (lower-case) is an aggregate function defined from TypeScript (`defineAggregateFunction`). */
export function isUserAggregate(name: string): boolean {
  return userAggregateDefinition(name) !== undefined;
}

/** Whether `name` (lower-case) is a function defined from TypeScript. */
export function isUserFunction(name: string): boolean {
  return userDefined.has(name);
}

/** Names of the aggregate functions, built in and user-defined. */
const allAggregateNames = new Set(aggregateDocs.map((d) => d.name));

/** Names of the aggregate functions, which parse anywhere but only evaluate in an aggregate step. */
export const aggregateNames: ReadonlySet<string> = allAggregateNames;

/**
 * Defines an aggregate function from TypeScript, callable by its name in the fields of `aggregate`
 * and `over_aggregate` steps and in SQL (GROUP BY, window aggregates, OVER), as a built-in
 * aggregate is: `create` gives an accumulator, `add` folds in each non-NULL value of its one
 * argument, `retract` (optional) takes one back over an updating input, `merge` (optional,
 * needed by session windows) combines two, and `result` reads it. The accumulator must be plain
 * JSON-like data: it goes into checkpoints. A value on which `add` throws sends its record to the
 * dead-letter output with the message (the step tries `add` on a copy of the accumulator first,
 * so no accumulator takes that record); a `result` that throws gives NULL. Defining the same
 * definition again does nothing; another definition under a taken name (built in, scalar or
 * aggregate) is refused.
 */
export function defineAggregateFunction<A>(def: UserAggregate<A>): void {
  const name = def.name.toLowerCase();
  if (!NAME.test(name))
    throw new SluiceError(
      'CONFIG_INVALID',
      `function name '${def.name}' is not a name: a letter or '_', then letters, digits and '_'`,
    );
  const existing = userAggregateDefinition(name);
  if (existing !== undefined) {
    if (existing === def) return;
    throw new SluiceError('CONFIG_INVALID', `aggregate function ${name}() is defined already`);
  }
  if (allAggregateNames.has(name))
    throw new SluiceError('CONFIG_INVALID', `aggregate function ${name}() is built in: choose another name`);
  if (byName.has(name))
    throw new SluiceError('CONFIG_INVALID', `${name}() is a scalar function: choose another name`);
  registerUserAggregate(name, def);
  allAggregateNames.add(name);
}

/** The scalar function called `name` (lower-case, aliases included), or undefined. */
export function lookupFunction(name: string): FunctionSpec | undefined {
  return byName.get(name);
}

/**
 * Whether the scalar function called `name` may give another result for the same arguments (the
 * clock's `now()`, a user function defined `volatile`): a planner must not move or fold its calls.
 */
export function isVolatileFunction(name: string): boolean {
  return byName.get(name.toLowerCase())?.volatile === true;
}

/** Every callable name, scalar and aggregate, for "did you mean" suggestions. */
export function callableNames(): Iterable<string> {
  return [...byName.keys(), ...aggregateNames];
}

/**
 * Whether `e` is a call of an aggregate function (count, sum, avg, min, max, first, last,
 * approx_count_distinct, percentile, percentile_cont, percentile_disc). Only the node itself is
 * inspected, not its arguments.
 */
export function isAggregateCall(e: Expr): boolean {
  return e.kind === 'call' && aggregateNames.has(e.name);
}

/** Reference entries of every scalar function and of CAST, sorted by category and name. */
export const functionDocs: readonly FunctionDoc[] = [
  ...specs.map(({ name, signature, summary, category }) => ({ name, signature, summary, category })),
  castDoc,
].sort((a, b) => a.category.localeCompare(b.category) || a.name.localeCompare(b.name));
