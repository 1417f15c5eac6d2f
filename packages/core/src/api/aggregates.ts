/**
 * Aggregate helpers of the TypeScript API: `count()`, `sum('amount')`, … .
 *
 * Each returns a typed description that compiles to the same aggregate expression text a YAML
 * pipeline would use (`sum("amount")`). The field name is a type parameter, so naming a field
 * the record does not have is a compile error at `.aggregate(...)`.
 */

/** One aggregate over field `F` producing a value of type `R`. */
export interface Agg<F extends string, R> {
  readonly expression: string;
  /** Phantom members: the field read and the result type. */
  readonly field?: F;
  readonly result?: R;
}

/** Quotes a field name as an SQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function agg<F extends string, R>(expression: string): Agg<F, R> {
  return { expression };
}

/** Number of records, or of non-null values of `field`. */
export function count(): Agg<never, number>;
export function count<F extends string>(field: F): Agg<F, number>;
export function count<F extends string>(field?: F): Agg<F, number> {
  return agg(field === undefined ? 'count(*)' : `count(${quoteIdent(field)})`);
}

/** Exact number of distinct non-null values of `field` (state grows with the distinct values). */
export function countDistinct<F extends string>(field: F): Agg<F, number> {
  return agg(`count(DISTINCT ${quoteIdent(field)})`);
}

/** Approximate distinct count (HyperLogLog, about 1% error, fixed 16 KiB per group). */
export function approxCountDistinct<F extends string>(field: F): Agg<F, number> {
  return agg(`approx_count_distinct(${quoteIdent(field)})`);
}

/** Sum of a numeric field; a record whose value is not a finite number is a dead letter. */
export function sum<F extends string>(field: F): Agg<F, number> {
  return agg(`sum(${quoteIdent(field)})`);
}

/** Mean of a numeric field; a record whose value is not a finite number is a dead letter. */
export function avg<F extends string>(field: F): Agg<F, number> {
  return agg(`avg(${quoteIdent(field)})`);
}

/** Smallest value: numbers or strings, one kind per group. */
export function min<F extends string>(field: F): Agg<F, number> {
  return agg(`min(${quoteIdent(field)})`);
}

/** Largest value: numbers or strings, one kind per group. */
export function max<F extends string>(field: F): Agg<F, number> {
  return agg(`max(${quoteIdent(field)})`);
}

/** First value in arrival order. */
export function first<F extends string>(field: F): Agg<F, unknown> {
  return agg(`first(${quoteIdent(field)})`);
}

/** Last value in arrival order. */
export function last<F extends string>(field: F): Agg<F, unknown> {
  return agg(`last(${quoteIdent(field)})`);
}

/**
 * The `p`-quantile (0 ≤ p ≤ 1) of a numeric field, interpolated as PostgreSQL's `percentile_cont`
 * (same as {@link percentileCont}): exact up to 256 values per group, then within 1 % relative
 * error from a mergeable sketch.
 */
export function percentile<F extends string>(field: F, p: number): Agg<F, number> {
  return agg(`percentile(${quoteIdent(field)}, ${p})`);
}

/** PostgreSQL's `percentile_cont`: the interpolated `p`-quantile (0 ≤ p ≤ 1), as {@link percentile}. */
export function percentileCont<F extends string>(field: F, p: number): Agg<F, number> {
  return agg(`percentile_cont(${quoteIdent(field)}, ${p})`);
}

/**
 * PostgreSQL's `percentile_disc`: the first value (ascending) whose cumulative fraction reaches
 * `p` (0 ≤ p ≤ 1); exact up to 256 values per group, then within 1 % relative error.
 */
export function percentileDisc<F extends string>(field: F, p: number): Agg<F, number> {
  return agg(`percentile_disc(${quoteIdent(field)}, ${p})`);
}
