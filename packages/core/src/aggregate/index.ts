/**
 * Aggregate functions: the contract, the catalogue, and the sketches behind the approximate ones.
 */

export type { AggregateFunction, AggregateOptions } from './aggregate-function.ts';
export { HLL_PRECISION, type HllSketch, hllAdd, hllCreate, hllEstimate, hllMerge } from './hyperloglog.ts';
export {
  QUANTILE_RELATIVE_ACCURACY,
  type QuantileSketch,
  quantileAdd,
  quantileCreate,
  quantileMerge,
  quantileOf,
} from './quantile-sketch.ts';
export { aggregateDocs, aggregateFunction } from './registry.ts';
