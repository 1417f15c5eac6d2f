/**
 * Aggregate functions: the contract, the catalogue, and the sketches behind the approximate ones.
 */

export type { AggregateFunction, AggregateInput, AggregateOptions } from './aggregate-function.ts';
export { HLL_PRECISION, type HllSketch, hllAdd, hllCreate, hllEstimate, hllMerge } from './hyperloglog.ts';
export {
  QUANTILE_EXACT_LIMIT,
  QUANTILE_RELATIVE_ACCURACY,
  type QuantileSketch,
  quantileAdd,
  quantileCont,
  quantileCreate,
  quantileDisc,
  quantileMerge,
} from './quantile-sketch.ts';
export { aggregateDocs, aggregateFunction } from './registry.ts';
