/**
 * The catalogue of aggregate functions: one list drives lookup by name and the reference docs.
 */

import { SluiceError } from '../errors.ts';
import type { AggregateFunction, AggregateOptions } from './aggregate-function.ts';
import { avg, countStar, countValues, first, last, max, min, sum } from './basic-aggregates.ts';
import { countDistinct, distinctOf } from './distinct.ts';
import { approxCountDistinct } from './hyperloglog.ts';
import { percentile, QUANTILE_EXACT_LIMIT } from './quantile-sketch.ts';
import { maxRetract, minRetract } from './retractable-extremes.ts';
import { userAggregateDefinition, userAggregateFunction } from './user-aggregates.ts';

interface AggregateDefinition {
  readonly name: string;
  readonly signature: string;
  readonly summary: string;
  /** How many constant params the call takes after the value. */
  readonly params: number;
  /** What `DISTINCT` does: wrap in a Set, change nothing, or is refused. */
  readonly distinct: 'set' | 'same' | 'invalid';
  build(options: AggregateOptions): AggregateFunction;
}

/** The number rule every numeric aggregate states, written once for the reference. */
const NUMBERS =
  'Takes finite numbers: NULL or a missing field is skipped (the record still counts for the other aggregates); text, a boolean or an object is an error for the record (dead letter; convert text with CAST(x AS DOUBLE)), and so is ±Infinity or NaN';

const PERCENTILE_ACCURACY = {
  cont: `Exact (PostgreSQL's answer) while the group has at most ${QUANTILE_EXACT_LIMIT} values; beyond, from a mergeable sketch (DDSketch): each of the two values it interpolates between is within 1 % relative error (so the answer is within 1 % when they have one sign), and the smallest and largest values are exact.`,
  disc: `Exact (PostgreSQL's answer) while the group has at most ${QUANTILE_EXACT_LIMIT} values; beyond, from a mergeable sketch (DDSketch) within 1 % relative error, the smallest and largest values exact.`,
};

function percentileDefinition(name: string, summary: string, kind: 'cont' | 'disc'): AggregateDefinition {
  return {
    name,
    signature: `${name}([DISTINCT] x, q)`,
    summary: `${summary} ${PERCENTILE_ACCURACY[kind]} ${NUMBERS}.`,
    params: 1,
    distinct: 'set',
    build: (o) => percentile(o.params![0] as number, kind),
  };
}

const definitions: readonly AggregateDefinition[] = [
  {
    name: 'count',
    signature: 'count(*) | count(x) | count(DISTINCT x)',
    summary:
      'count(*) counts records; count(x) counts non-null values (a missing field counts as NULL); count(DISTINCT x) counts distinct non-null values exactly. Takes any value but ±Infinity and NaN.',
    params: 0,
    distinct: 'set',
    build: (o) => (o.star ? countStar : o.distinct ? countDistinct : countValues),
  },
  {
    name: 'sum',
    signature: 'sum([DISTINCT] x)',
    summary: `Sum of the values; NULL when there are none. ${NUMBERS}; a value that would take the sum beyond the range of a double (about ±1.8e308) is an error for its record, and the sum keeps its value.`,
    params: 0,
    distinct: 'set',
    build: () => sum,
  },
  {
    name: 'avg',
    signature: 'avg([DISTINCT] x)',
    summary: `Arithmetic mean of the values; NULL when there are none. ${NUMBERS}; so is a value that would take the sum beyond the range of a double.`,
    params: 0,
    distinct: 'set',
    build: () => avg,
  },
  {
    name: 'min',
    signature: 'min(x)',
    summary:
      "Smallest value; NULL when there are none. Takes finite numbers or strings, one kind per group: a value of another kind than the group's first (a string such as '7' among numbers), a boolean or an object is an error for its record (dead letter; give the values one kind with CAST). NULL or a missing field is skipped. Over an updating input (a GROUP BY of a GROUP BY, an aggregate over a regular join) it keeps each distinct value of the group with its count, so that an update or delete can take a value back: state per group grows with its number of distinct values.",
    params: 0,
    distinct: 'same',
    build: (o) => (o.retract ? minRetract : min),
  },
  {
    name: 'max',
    signature: 'max(x)',
    summary:
      'Largest value; NULL when there are none. Takes values, and keeps them over an updating input, as min does.',
    params: 0,
    distinct: 'same',
    build: (o) => (o.retract ? maxRetract : max),
  },
  {
    name: 'first',
    signature: 'first(x)',
    summary: 'First non-null value in arrival order. Takes any value but ±Infinity and NaN.',
    params: 0,
    distinct: 'invalid',
    build: () => first,
  },
  {
    name: 'last',
    signature: 'last(x)',
    summary: 'Last non-null value in arrival order. Takes any value but ±Infinity and NaN.',
    params: 0,
    distinct: 'invalid',
    build: () => last,
  },
  {
    name: 'approx_count_distinct',
    signature: 'approx_count_distinct(x)',
    summary:
      'Approximate number of distinct non-null values (HyperLogLog, precision 14: about 0.8 % standard error, at most 16 KiB per group). Takes any value but ±Infinity and NaN.',
    params: 0,
    distinct: 'same',
    build: () => approxCountDistinct,
  },
  percentileDefinition(
    'percentile',
    'The q-quantile, 0 ≤ q ≤ 1, interpolated: the same as percentile_cont(x, q).',
    'cont',
  ),
  percentileDefinition(
    'percentile_cont',
    "The q-quantile, 0 ≤ q ≤ 1, as PostgreSQL's percentile_cont: over the n values in ascending order, linear interpolation between the values of rank ⌊q·(n−1)⌋ and ⌈q·(n−1)⌉ (0-based); p95 of 1, 2, 3, 4 is 3.85.",
    'cont',
  ),
  percentileDefinition(
    'percentile_disc',
    "The q-quantile, 0 ≤ q ≤ 1, as PostgreSQL's percentile_disc: the first value (ascending) whose cumulative fraction of the n values reaches q, i.e. of rank ⌈q·n⌉−1 (0-based); p95 of 1, 2, 3, 4 is 4.",
    'disc',
  ),
];

const byName = new Map(definitions.map((d) => [d.name, d]));

/** Name, call signature and one-line summary of every aggregate function, for reference docs. */
export const aggregateDocs: readonly { name: string; signature: string; summary: string }[] = definitions.map(
  ({ name, signature, summary }) => ({ name, signature, summary }),
);

function invalid(message: string): SluiceError {
  return new SluiceError('CONFIG_INVALID', message);
}

/**
 * Returns the aggregate function `name` (case-insensitive) for the call form in `options`.
 * Throws CONFIG_INVALID for an unknown name, `*` on anything but count, DISTINCT where it has no
 * meaning (`first`, `last`, `count(DISTINCT *)`), or wrong params (the percentiles need one number
 * from 0 to 1; the others take none).
 */
export function aggregateFunction(name: string, options: AggregateOptions = {}): AggregateFunction {
  const def = byName.get(name.toLowerCase());
  const user = def === undefined ? userAggregateDefinition(name.toLowerCase()) : undefined;
  if (user !== undefined) {
    if (options.star) throw invalid(`${name}(*) is not valid; only count(*) is`);
    if (options.distinct) throw invalid(`${name}(DISTINCT x) is not supported for a user-defined aggregate`);
    if ((options.params ?? []).length > 0)
      throw invalid(`${name}() takes one argument, the value it aggregates`);
    return userAggregateFunction(name.toLowerCase(), user, options.retract === true);
  }
  if (!def) {
    throw invalid(
      `unknown aggregate function '${name}'; known: ${definitions.map((d) => d.name).join(', ')}`,
    );
  }
  const params = options.params ?? [];
  if (options.star && def.name !== 'count') throw invalid(`${def.name}(*) is not valid; only count(*) is`);
  if (options.star && options.distinct)
    throw invalid('count(DISTINCT *) is not valid; write count(DISTINCT x)');
  if (options.star && params.length > 0) throw invalid('count(*) takes no further arguments');
  if (params.length !== def.params) {
    throw invalid(
      `${def.name} takes ${def.params === 0 ? 'no arguments besides the value' : `${def.params} argument(s) besides the value`}; got ${params.length}: write ${def.signature}`,
    );
  }
  if (def.params === 1) {
    const q = params[0];
    if (typeof q !== 'number' || !(q >= 0 && q <= 1)) {
      throw invalid(
        `the fraction of ${def.name}(x, q) must be a number from 0 to 1, e.g. 0.95 for the 95th percentile; got ${String(q)}`,
      );
    }
  }
  if (options.distinct && def.distinct === 'invalid') {
    throw invalid(`${def.name}(DISTINCT x) is not valid: ${def.name} depends on arrival order`);
  }
  const fn = def.build(options);
  if (options.distinct && def.distinct === 'set' && def.name !== 'count')
    return distinctOf(fn) as AggregateFunction;
  return fn;
}
