/**
 * The aggregate function contract shared by window aggregates, keyed aggregates and SQL.
 */

/**
 * The values an aggregate takes besides NULL:
 * - `number`: finite numbers (sum, avg, percentile);
 * - `ordered`: finite numbers or strings, one kind per group (min, max);
 * - `any`: any value except a non-finite number (count, first, last, distinct counts).
 *
 * Callers check values against it before `add` (the `aggregate` step dead-letters a record whose
 * value does not fit); `add` skips what does not fit rather than throwing.
 */
export type AggregateInput = 'number' | 'ordered' | 'any';

/**
 * Folds values into an accumulator and reads a result from it.
 *
 * Accumulators are plain data (numbers, strings, arrays, plain objects, Maps, Sets, typed arrays;
 * never class instances) because they go into checkpoints (`checkpoint/value-codec.ts`). NULL and undefined values leave the accumulator unchanged, except for `count(*)`.
 *
 * A record goes into every accumulator it belongs to or into none: before adding a value to any
 * accumulator, a caller calls `check` on each (and `checkMerge` before merging), which throws when
 * the value would make that accumulator fail — a sum beyond the range of a double, a string into a
 * min of numbers. `check` always passes on a fresh accumulator.
 */
export interface AggregateFunction<A = unknown> {
  /**
   * The function's name, as it appears in checkpointed state descriptions: two functions with the
   * same name keep accumulators of the same layout.
   */
  readonly name: string;
  /** The values `add` takes besides NULL. */
  readonly input: AggregateInput;
  /** Returns a fresh, empty accumulator. */
  create(): A;
  /** Adds one value and returns the accumulator to keep, which may be `acc` itself, modified. */
  add(acc: A, value: unknown): A;
  /**
   * Combines two accumulators (session merging, partial aggregation) and returns the result.
   * It may modify and return either argument: callers keep only the returned value. For
   * order-sensitive functions (`first`, `last`), `a` holds the earlier values.
   */
  merge(a: A, b: A): A;
  /**
   * Takes back one value `add` took before (an UPDATE_BEFORE or DELETE of an updating input) and
   * returns the accumulator to keep. Absent for functions that cannot (first, last, distinct
   * counts, sketches, and min and max unless asked for with `AggregateOptions.retract`): an
   * aggregate over a retract stream is refused unless every one of its functions has it. The caller resets an accumulator none of whose values remain, so a
   * function need not tell an empty accumulator from one holding values that cancel out.
   */
  retract?(acc: A, value: unknown): A;
  /** Reads the current result; the accumulator stays usable. Empty input gives null (count: 0). */
  result(acc: A): unknown;
  /**
   * Throws a SluiceError when adding `value` (non-null, of the `input` kind) to `acc` would make
   * the accumulator fail; changes nothing. Absent when every such value can be added.
   */
  check?(acc: A, value: unknown): void;
  /**
   * Throws a SluiceError when `value` (non-null, of the `input` kind) can never be added, whatever
   * the accumulator — checked as each record's value is read, before any accumulator (a fresh one
   * included, which `check` is not asked about) takes it. Absent when every such value can be.
   */
  checkValue?(value: unknown): void;
  /** Throws a SluiceError when merging `b` into `a` would make the accumulator fail; changes nothing. */
  checkMerge?(a: A, b: A): void;
  /**
   * Throws a SluiceError when `value` (non-null) cannot be one `add` took into `acc` — a value of
   * another kind than the group's, which `check` refused when its record came — so that the
   * retraction of a record that was a dead letter is one too, instead of taking back values its
   * record never gave; changes nothing. Absent when every such value can be taken back.
   */
  checkRetract?(acc: A, value: unknown): void;
}

/** How an aggregate call is written: `count(*)`, `count(DISTINCT x)`, `percentile(x, 0.99)`. */
export interface AggregateOptions {
  /** `f(DISTINCT x)`: each distinct non-null value counts once. */
  distinct?: boolean;
  /** `count(*)`: counts records, not values. Only `count` accepts it. */
  star?: boolean;
  /** Constant arguments after the value, e.g. the fraction of `percentile(x, p)`. */
  params?: readonly unknown[];
  /**
   * The input retracts (an aggregate over an updating result): gives the form of the function
   * that can take values back where it has one besides its append-only form (`min` and `max`,
   * which then keep every distinct value with its count instead of one value).
   */
  retract?: boolean;
}

/** The range of a double, for messages. */
export const DOUBLE_RANGE = 'the range of a double (about ±1.8e308)';

/**
 * Returns the value as a finite number for the numeric aggregates, or NaN when it is anything
 * else (a string, a boolean, NULL, ±Infinity, NaN): `add` skips such values. The `aggregate` step
 * has already refused them, so this only guards direct callers.
 */
export function numericValue(value: unknown): number {
  return typeof value === 'number' && value - value === 0 ? value : Number.NaN;
}

/**
 * Turns a value into something a Set compares by value: primitives stay as they are, objects
 * and arrays become their JSON text behind a NUL tag.
 */
export function distinctValue(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  return `\u0000${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))}`;
}
