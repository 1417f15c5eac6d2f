/**
 * One aggregate call of an `aggregate` step (`sum(amount * 2)`): its function and the reader of
 * its argument, which applies the number rule before a value reaches any accumulator.
 *
 * The rule, the same as in expressions: a missing field or NULL is NULL (the aggregate skips it,
 * the record counts for the others); a value of the wrong type for the aggregate (text, a boolean
 * or an object where a number is needed) is EXPR_EVAL, a non-finite number NUMBER_OUT_OF_RANGE —
 * either way the record becomes a dead letter whose message names the field, the call and the
 * fix, and no aggregate of the step counts it.
 */

import { type AggregateFunction, aggregateFunction } from '../aggregate/index.ts';
import { SluiceError } from '../errors.ts';
import {
  type CallExpr,
  childrenOf,
  compileExpression,
  describeValue,
  type Expr,
  formatExpression,
  isAggregateCall,
} from '../expr/index.ts';
import type { Row } from '../record.ts';
import type { Clock } from '../time.ts';
import type { AggregateField } from '../window/window-aggregate.ts';

/** Where a call is compiled: its step, the output field that holds it, and the clock for now(). */
export interface CallContext {
  step: string;
  clock: Clock;
  /** The output field the call belongs to (for a call inside an expression, that expression's field). */
  field: string;
  /** The input retracts: take the form of the function that can take values back (`AggregateOptions.retract`). */
  retract?: boolean;
}

/** The first aggregate call in `e` (pre-order), if any. */
export function findAggregateCall(e: Expr): CallExpr | undefined {
  if (e.kind === 'call' && isAggregateCall(e)) return e;
  for (const child of childrenOf(e)) {
    const found = findAggregateCall(child);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Builds the messages of one call's refusals. */
class Refusals {
  readonly #where: string;
  readonly #call: CallExpr;
  readonly #arg: string;
  readonly #step: string;
  readonly #path: string;

  constructor(call: CallExpr, context: CallContext) {
    this.#call = call;
    this.#arg = formatExpression(call.args[0]);
    this.#where = `field '${context.field}', ${formatExpression(call)}`;
    this.#step = context.step;
    this.#path = `fields.${context.field}`;
  }

  /** The call with its value wrapped in CAST(… AS DOUBLE). */
  #withCast(): string {
    const rest = this.#call.args.slice(1).map((a) => `, ${formatExpression(a)}`);
    return `${this.#call.name}(${this.#call.distinct ? 'DISTINCT ' : ''}CAST(${this.#arg} AS DOUBLE)${rest.join('')})`;
  }

  wrongType(value: unknown, ordered: boolean): SluiceError {
    const takes = ordered ? 'numbers or strings (one kind per group)' : 'numbers';
    const fix =
      typeof value === 'object'
        ? `aggregate a value inside it instead, e.g. ${this.#arg}.some_field or ${this.#arg}[0]`
        : ordered
          ? `give every value one kind with CAST(${this.#arg} AS DOUBLE) or CAST(${this.#arg} AS VARCHAR)`
          : typeof value === 'boolean'
            ? `convert it with ${this.#withCast()} (true is 1, false 0)`
            : `convert text with ${this.#withCast()}`;
    return new SluiceError(
      'EXPR_EVAL',
      `${this.#where}: takes ${takes}, but ${this.#arg} is ${describeValue(value)}; ${fix}`,
      { step: this.#step, path: this.#path },
    );
  }

  nonFinite(value: number): SluiceError {
    const what = Number.isNaN(value) ? 'NaN (not a number)' : `${value}, beyond the range of a double`;
    return new SluiceError(
      'NUMBER_OUT_OF_RANGE',
      `${this.#where}: ${this.#arg} is ${what}; aggregates take finite numbers only, so that one value cannot turn the result into NULL`,
      { step: this.#step, path: this.#path },
    );
  }

  /** `err` (thrown by the function's check) with this call's place in front. */
  located(err: unknown): unknown {
    if (!(err instanceof SluiceError)) return err;
    return new SluiceError(err.code, `${this.#where}: ${err.message}`, {
      step: this.#step,
      path: this.#path,
      cause: err,
    });
  }
}

/** Reads the argument and applies the function's input rule (see the module comment). */
function argumentReader(
  evaluate: (record: Row) => unknown,
  fn: AggregateFunction,
  refusals: Refusals,
): (record: Row) => unknown {
  switch (fn.input) {
    case 'number':
      return (record) => {
        const v = evaluate(record);
        if (typeof v === 'number') {
          if (v - v === 0) return v;
          throw refusals.nonFinite(v);
        }
        if (v === null) return v;
        throw refusals.wrongType(v, false);
      };
    case 'ordered':
      return (record) => {
        const v = evaluate(record);
        if (typeof v === 'number') {
          if (v - v === 0) return v;
          throw refusals.nonFinite(v);
        }
        if (v === null || typeof v === 'string') return v;
        throw refusals.wrongType(v, true);
      };
    case 'any':
      return (record) => {
        const v = evaluate(record);
        if (typeof v === 'number' && v - v !== 0) throw refusals.nonFinite(v);
        return v;
      };
  }
}

/** `fn` whose check failures name the call's field and text. */
function locatedChecks(fn: AggregateFunction, refusals: Refusals): AggregateFunction {
  const { check, checkMerge, checkRetract } = fn;
  if (check === undefined && checkMerge === undefined && checkRetract === undefined) return fn;
  return {
    ...fn,
    ...(check && {
      check(acc: unknown, value: unknown) {
        try {
          check(acc, value);
        } catch (err) {
          throw refusals.located(err);
        }
      },
    }),
    ...(checkMerge && {
      checkMerge(a: unknown, b: unknown) {
        try {
          checkMerge(a, b);
        } catch (err) {
          throw refusals.located(err);
        }
      },
    }),
    ...(checkRetract && {
      checkRetract(acc: unknown, value: unknown) {
        try {
          checkRetract(acc, value);
        } catch (err) {
          throw refusals.located(err);
        }
      },
    }),
  };
}

/**
 * Compiles `sum(amount * 2)` into an aggregate function and its argument reader, output as `name`.
 * Throws PLAN_TYPE_ERROR for a nested aggregate call or a non-constant parameter, and
 * CONFIG_INVALID for an invalid call form (unknown name, `sum(*)`, a fraction out of range).
 */
export function compileAggregateCall(name: string, call: CallExpr, context: CallContext): AggregateField {
  const { step } = context;
  const path = `fields.${context.field}`;
  for (const a of call.args) {
    const inner = findAggregateCall(a);
    if (inner !== undefined) {
      throw new SluiceError(
        'PLAN_TYPE_ERROR',
        `${formatExpression(inner)} is inside another aggregate call, ${call.name}(); aggregate calls cannot be nested`,
        { step, path },
      );
    }
  }
  const params = call.args.slice(1).map((a, i) => {
    const c = compileExpression(a, { step, path });
    if (c.fields.length > 0) {
      throw new SluiceError('PLAN_TYPE_ERROR', `argument ${i + 2} of ${call.name}() must be a constant`, {
        step,
        path,
      });
    }
    return c.evaluate({});
  });
  let fn: AggregateFunction;
  try {
    fn = aggregateFunction(call.name, {
      distinct: call.distinct,
      star: call.star,
      params,
      ...(context.retract ? { retract: true } : {}),
    });
  } catch (err) {
    if (err instanceof SluiceError) throw new SluiceError(err.code, err.message, { step, path });
    throw err;
  }
  if (call.star || call.args.length === 0) return { name, fn };
  const refusals = new Refusals(call, context);
  const { evaluate } = compileExpression(call.args[0], {
    step,
    path,
    clock: context.clock,
    missingAsNull: true,
  });
  const read = argumentReader(evaluate, fn, refusals);
  const { checkValue } = fn;
  const arg =
    checkValue === undefined
      ? read
      : (record: Row): unknown => {
          const v = read(record);
          if (v === null || v === undefined) return v;
          try {
            checkValue(v);
          } catch (err) {
            throw refusals.located(err);
          }
          return v;
        };
  return { name, fn: locatedChecks(fn, refusals), arg };
}
