/**
 * The catalogue of aggregate functions: one list drives lookup by name and the reference docs.
 */

import { SluiceError } from '../errors.ts';
import type { AggregateFunction, AggregateOptions } from './aggregate-function.ts';
import { avg, countStar, countValues, first, last, max, min, sum } from './basic-aggregates.ts';
import { countDistinct, distinctOf } from './distinct.ts';
import { approxCountDistinct } from './hyperloglog.ts';
import { percentile } from './quantile-sketch.ts';

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

const definitions: readonly AggregateDefinition[] = [
  {
    name: 'count',
    signature: 'count(*) | count(x) | count(DISTINCT x)',
    summary:
      'count(*) counts records; count(x) counts non-null values; count(DISTINCT x) counts distinct non-null values exactly.',
    params: 0,
    distinct: 'set',
    build: (o) => (o.star ? countStar : o.distinct ? countDistinct : countValues),
  },
  {
    name: 'sum',
    signature: 'sum([DISTINCT] x)',
    summary: 'Sum of numeric values; NULL when there are none. Non-numeric values are ignored like NULL.',
    params: 0,
    distinct: 'set',
    build: () => sum,
  },
  {
    name: 'avg',
    signature: 'avg([DISTINCT] x)',
    summary: 'Arithmetic mean of numeric values; NULL when there are none.',
    params: 0,
    distinct: 'set',
    build: () => avg,
  },
  {
    name: 'min',
    signature: 'min(x)',
    summary: 'Smallest number or string (every number sorts before every string); NULL when there are none.',
    params: 0,
    distinct: 'same',
    build: () => min,
  },
  {
    name: 'max',
    signature: 'max(x)',
    summary: 'Largest number or string (every string sorts after every number); NULL when there are none.',
    params: 0,
    distinct: 'same',
    build: () => max,
  },
  {
    name: 'first',
    signature: 'first(x)',
    summary: 'First non-null value in arrival order.',
    params: 0,
    distinct: 'invalid',
    build: () => first,
  },
  {
    name: 'last',
    signature: 'last(x)',
    summary: 'Last non-null value in arrival order.',
    params: 0,
    distinct: 'invalid',
    build: () => last,
  },
  {
    name: 'approx_count_distinct',
    signature: 'approx_count_distinct(x)',
    summary:
      'Approximate number of distinct non-null values (HyperLogLog, precision 14: about 0.8 % standard error, at most 16 KiB per group).',
    params: 0,
    distinct: 'same',
    build: () => approxCountDistinct,
  },
  {
    name: 'percentile',
    signature: 'percentile([DISTINCT] x, p)',
    summary:
      'Approximate p-quantile of numeric values, 0 < p < 1: the value of rank floor(p·(n−1)) within 1 % relative error (DDSketch).',
    params: 1,
    distinct: 'set',
    build: (o) => percentile(o.params![0] as number),
  },
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
 * meaning (`first`, `last`, `count(DISTINCT *)`), or wrong params (percentile needs one number
 * strictly between 0 and 1; the others take none).
 */
export function aggregateFunction(name: string, options: AggregateOptions = {}): AggregateFunction {
  const def = byName.get(name.toLowerCase());
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
  if (def.name === 'percentile') {
    const p = params[0];
    if (typeof p !== 'number' || !(p > 0 && p < 1)) {
      throw invalid(`percentile fraction must be a number strictly between 0 and 1, got ${String(p)}`);
    }
  }
  if (options.distinct && def.distinct === 'invalid') {
    throw invalid(`${def.name}(DISTINCT x) is not valid: ${def.name} depends on arrival order`);
  }
  const fn = def.build(options);
  if (options.distinct && def.distinct === 'set' && def.name !== 'count') return distinctOf(fn);
  return fn;
}
