/**
 * Aggregate functions defined from TypeScript (`defineAggregateFunction` of `expr/functions.ts`):
 * the user's accumulator code behind the engine's `AggregateFunction` contract, so that the
 * `aggregate` and `over_aggregate` steps (and SQL's GROUP BY, windows and OVER) call it as they
 * call a built-in one.
 */

import { SluiceError } from '../errors.ts';
import type { AggregateFunction } from './aggregate-function.ts';

/**
 * An aggregate function defined from TypeScript, with an accumulator of type `A`. The accumulator
 * is plain, JSON-like data (numbers, strings, booleans, null, arrays and plain objects), because
 * it goes into checkpoints; `create`, `add`, `retract`, `merge` may modify the accumulator they
 * get and return it, or return a new one.
 */
export interface UserAggregate<A = unknown> {
  /** How expressions call it: a letter or `_`, then letters, digits and `_` (case does not matter). */
  readonly name: string;
  /** One sentence for messages. */
  readonly summary?: string;
  /** The values it takes besides NULL (which it never sees): numbers only, or any value. Default `any`. */
  readonly input?: 'number' | 'any';
  /** What `result` gives: `number`, `string`, `boolean` or `any` (the default). */
  readonly returns?: 'number' | 'string' | 'boolean' | 'any';
  /** A fresh, empty accumulator. */
  create(): A;
  /** Adds one non-NULL value. Throwing sends the value's record to the dead-letter output, with the message. */
  add(acc: A, value: unknown): A;
  /** Takes back a value `add` took (over an updating input). Without it, the function refuses updating inputs. */
  retract?(acc: A, value: unknown): A;
  /** Combines two accumulators (session windows merging); `a` holds the earlier values. */
  merge?(a: A, b: A): A;
  /** The result; the accumulator stays usable. Throwing gives NULL for the result. */
  result(acc: A): unknown;
}

const userAggregates = new Map<string, UserAggregate>();

/** Registers `def` under its lower-case name (the caller has checked the name). */
export function registerUserAggregate(name: string, def: UserAggregate): void {
  userAggregates.set(name, def);
}

/** The definition of user aggregate `name` (lower-case), if any. */
export function userAggregateDefinition(name: string): UserAggregate | undefined {
  return userAggregates.get(name);
}

function failure(name: string, what: string, err: unknown): SluiceError {
  return new SluiceError(
    'USER_FUNCTION_FAILED',
    `${name}() failed in ${what}: ${err instanceof Error ? err.message : String(err)}`,
  );
}

/** A copy of plain data the user's code may modify without touching the kept accumulator. */
function copy<T>(value: T): T {
  return structuredClone(value);
}

/**
 * The engine's form of user aggregate `def`: `checkValue` runs `add` on a fresh accumulator and
 * `check` on a copy of the one to add to, so a value on which the user's code throws is refused
 * before any accumulator takes its record (the record goes to the dead-letter output with the
 * message); `add` then reuses `check`'s result rather than calling the code twice.
 */
export function userAggregateFunction(name: string, def: UserAggregate, retract: boolean): AggregateFunction {
  let trial: { acc: unknown; value: unknown; next: unknown } | undefined;
  let retraction: { acc: unknown; value: unknown; next: unknown } | undefined;
  const userRetract = def.retract;
  const userMerge = def.merge;
  const fn: AggregateFunction = {
    name: `user:${name}`,
    input: def.input ?? 'any',
    create: () => def.create(),
    checkValue(value) {
      try {
        def.add(def.create(), value);
      } catch (err) {
        throw failure(name, 'add', err);
      }
    },
    check(acc, value) {
      try {
        trial = { acc, value, next: def.add(copy(acc), value) };
      } catch (err) {
        trial = undefined;
        throw failure(name, 'add', err);
      }
    },
    add(acc, value) {
      const t = trial;
      trial = undefined;
      if (t !== undefined && t.acc === acc && Object.is(t.value, value)) return t.next;
      try {
        return def.add(acc, value);
      } catch {
        return acc;
      }
    },
    merge(a, b) {
      if (userMerge === undefined) return a;
      return userMerge(a, b);
    },
    checkMerge(a, b) {
      if (userMerge === undefined)
        throw new SluiceError(
          'USER_FUNCTION_FAILED',
          `${name}() defines no merge, which merging session windows needs: give defineAggregateFunction a merge(a, b)`,
        );
      try {
        userMerge(copy(a), copy(b));
      } catch (err) {
        throw failure(name, 'merge', err);
      }
    },
    result(acc) {
      try {
        const r = def.result(acc);
        return r === undefined ? null : r;
      } catch {
        return null;
      }
    },
  };
  if (retract && userRetract !== undefined) {
    fn.checkRetract = (acc, value) => {
      try {
        retraction = { acc, value, next: userRetract(copy(acc), value) };
      } catch (err) {
        retraction = undefined;
        throw failure(name, 'retract', err);
      }
    };
    fn.retract = (acc, value) => {
      const t = retraction;
      retraction = undefined;
      if (t !== undefined && t.acc === acc && Object.is(t.value, value)) return t.next;
      try {
        return userRetract(acc, value);
      } catch {
        return acc;
      }
    };
  }
  return fn;
}
