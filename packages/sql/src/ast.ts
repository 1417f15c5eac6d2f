/**
 * The statements of a SQL script, as the parser reads them. Every node keeps the offset where it
 * starts in the script, so that the planner's errors point at it.
 */

import type { Expr } from '@sluice/core';

/** A table, view or column name as written, with its offset. */
export interface Name {
  readonly text: string;
  readonly start: number;
}

/** One `'key' = value` of a `WITH (...)` clause. */
export interface TableOption {
  readonly key: string;
  readonly value: string | number | boolean;
  /** Offset of the key. */
  readonly start: number;
}

export interface ColumnDef {
  readonly name: Name;
  /** The type as written (`BIGINT`, `TIMESTAMP(3)`); checked, not yet enforced on records. Empty for a computed column. */
  readonly type: string;
  /** `name AS expression`: a computed column, worked out from the other columns of each record. */
  readonly computed?: { readonly expr: Expr; readonly text: string };
  /**
   * `name TYPE METADATA [FROM 'key'] [VIRTUAL]`: a value the source gives each record (its
   * spec's `metadata`), by `key` (the column name when FROM is left out). A VIRTUAL column is
   * only read, never written.
   */
  readonly metadata?: { readonly key: string; readonly virtual: boolean; readonly start: number };
}

/** `PRIMARY KEY (col, …) NOT ENFORCED`, or `col TYPE PRIMARY KEY NOT ENFORCED`. */
export interface PrimaryKey {
  readonly columns: readonly Name[];
  readonly start: number;
}

/** `WATERMARK FOR col AS col - INTERVAL 'n' unit`: event time from `col`, `delay` ms out of order. */
export interface Watermark {
  readonly column: Name;
  readonly delay: number;
  readonly start: number;
}

export interface CreateTable {
  readonly kind: 'create_table';
  readonly name: Name;
  readonly columns: readonly ColumnDef[];
  readonly watermark?: Watermark;
  readonly primaryKey?: PrimaryKey;
  readonly options: readonly TableOption[];
  readonly start: number;
}

export interface CreateView {
  readonly kind: 'create_view';
  readonly name: Name;
  readonly query: Select;
  readonly start: number;
}

export interface Insert {
  readonly kind: 'insert';
  readonly sink: Name;
  readonly query: Select;
  readonly start: number;
}

/** `SET 'key' = 'value'`: a pipeline setting (see `settings.ts`). */
export interface SetStatement {
  readonly kind: 'set';
  readonly key: string;
  readonly value: string;
  /** Offset of the value. */
  readonly valueStart: number;
  readonly start: number;
}

/**
 * `EXPLAIN [PLAN FOR] INSERT …` or `EXPLAIN EXECUTE STATEMENT SET …`: its inserts are not run,
 * but planned to print the plan they give (see `explain.ts`).
 */
export interface Explain {
  readonly kind: 'explain';
  readonly inserts: readonly Insert[];
  readonly start: number;
}

/** A column of a model's `INPUT (…)` or `OUTPUT (…)`: a name and its type as written. */
export interface ModelColumn {
  readonly name: Name;
  readonly type: string;
}

/**
 * `CREATE [TEMPORARY] MODEL name INPUT (col TYPE, …) [OUTPUT (col TYPE, …)] WITH (…)`, as in Flink
 * 2.x: the features the model takes, in order (`INPUT`), the columns it adds (`OUTPUT`), and the
 * options of the step it becomes (see `model.ts`).
 */
export interface CreateModel {
  readonly kind: 'create_model';
  readonly name: Name;
  readonly input: readonly ModelColumn[];
  readonly output?: readonly ModelColumn[];
  readonly options: readonly TableOption[];
  readonly start: number;
}

/**
 * `CREATE [TEMPORARY] [SYSTEM] FUNCTION [IF NOT EXISTS] name AS 'class' [LANGUAGE …]`: names a
 * scalar function defined from TypeScript (`defineFunction` of `@sluice/core`); the class, which
 * names Flink's Java implementation, is not read.
 */
export interface CreateFunction {
  readonly kind: 'create_function';
  readonly name: Name;
  readonly start: number;
}

export type Statement =
  | CreateTable
  | CreateView
  | CreateModel
  | CreateFunction
  | Insert
  | SetStatement
  | Explain;

/**
 * `ML_PREDICT(TABLE t, MODEL m, DESCRIPTOR(col, …))` (an online model) or `ML_SCORE(…)` (an ONNX
 * model) in FROM: the rows of `t` with the columns the model adds; the DESCRIPTOR's columns feed
 * the model's INPUT columns, by position.
 */
export interface ModelTable {
  readonly kind: 'model';
  readonly fn: 'ML_PREDICT' | 'ML_SCORE';
  readonly table: Name;
  readonly model: Name;
  readonly columns: readonly Name[];
  /** Offset of `DESCRIPTOR`. */
  readonly descriptor: number;
  /** `CONFIG => MAP[…]`: options of this call, overriding the model's. */
  readonly config?: readonly TableOption[];
  readonly alias?: Name;
  readonly start: number;
}

/**
 * A window table function: `TABLE(TUMBLE(TABLE t, DESCRIPTOR(c), size))`,
 * `TABLE(HOP(TABLE t, DESCRIPTOR(c), slide, size))`,
 * `TABLE(SESSION(TABLE t [PARTITION BY k, …], DESCRIPTOR(c), gap))` or
 * `TABLE(CUMULATE(TABLE t, DESCRIPTOR(c), step, size))`.
 */
export interface WindowTable {
  readonly kind: 'window';
  readonly type: 'tumbling' | 'hopping' | 'session' | 'cumulative';
  readonly table: Name;
  readonly timeColumn: Name;
  /** Window length in ms (the largest, for cumulative; the gap, for session). */
  readonly size: number;
  /** Hop in ms (hopping), or growth step (cumulative). */
  readonly slide?: number;
  /** SESSION's PARTITION BY columns. */
  readonly partitionBy?: readonly Name[];
  readonly start: number;
}

export interface TableRef {
  readonly kind: 'table';
  /** The table or view read; for a subquery, its alias (or a name the parser gives it). */
  readonly name: Name;
  /** `FROM (SELECT …) AS s`: the subquery, planned as a view visible to this query only. */
  readonly query?: Select;
  /** `FROM bids AS b` or `FROM bids b`. */
  readonly alias?: Name;
}

/**
 * `left [INNER|LEFT|RIGHT|FULL] JOIN right [FOR SYSTEM_TIME AS OF time] ON condition`; the
 * planner tells an interval join (a BETWEEN on the event times in ON), a temporal join (FOR
 * SYSTEM_TIME AS OF) and a regular join apart.
 */
export interface JoinTable {
  readonly kind: 'join';
  readonly type: 'inner' | 'left' | 'right' | 'full';
  readonly left: TableRef;
  readonly right: TableRef;
  readonly on: { readonly expr: Expr; readonly text: string };
  /** The `AS OF` expression of `FOR SYSTEM_TIME AS OF`. */
  readonly asOf?: Expr;
  /**
   * `FROM a, b WHERE …` (an implicit inner join): `on` is the WHERE condition, whose equalities
   * between the two tables key the join and whose other conjuncts filter the joined pairs.
   */
  readonly comma?: boolean;
  /** Offset of the join's first word. */
  readonly start: number;
}

/** One variable of a MATCH_RECOGNIZE pattern with its quantifier as written (`''` for none). */
export interface PatternVariable {
  readonly name: Name;
  readonly quantifier: string;
  /** Offset of the quantifier (of the name when there is none). */
  readonly quantifierStart: number;
}

/**
 * `t MATCH_RECOGNIZE (PARTITION BY … ORDER BY … MEASURES … ONE ROW PER MATCH AFTER MATCH SKIP …
 * PATTERN (…) WITHIN INTERVAL … DEFINE …) [AS] alias`: planned as a `pattern` step.
 */
export interface MatchRecognize {
  readonly kind: 'match_recognize';
  readonly table: TableRef;
  readonly partitionBy: readonly Name[];
  readonly orderBy: readonly { readonly column: Name; readonly descending: boolean }[];
  readonly measures: readonly { readonly expr: Expr; readonly text: string; readonly alias: Name }[];
  readonly skip: {
    readonly kind: 'past_last_row' | 'to_next_row' | 'to_first' | 'to_last';
    readonly variable?: Name;
    readonly start: number;
  };
  /** The concatenation, each element one variable or an alternation of variables (`(B | C)`). */
  readonly pattern: readonly (readonly PatternVariable[])[];
  readonly patternStart: number;
  /** `WITHIN INTERVAL …`, in ms. */
  readonly within?: number;
  readonly define: readonly { readonly variable: Name; readonly expr: Expr; readonly text: string }[];
  readonly alias?: Name;
  /** Offset of `MATCH_RECOGNIZE`. */
  readonly start: number;
}

/**
 * `t, LATERAL TABLE(f(args)) [AS] s[(c, …)]`, `t CROSS JOIN LATERAL TABLE(…) …` or
 * `t [LEFT] JOIN LATERAL TABLE(…) … ON TRUE`: each row of `t` with each row the table function
 * `f` (defined from TypeScript) gives for it; `left` keeps a row without any, its columns NULL.
 */
export interface LateralTable {
  readonly kind: 'lateral';
  readonly table: TableRef;
  readonly fn: Name;
  readonly args: readonly { readonly expr: Expr; readonly text: string }[];
  readonly alias?: Name;
  /** `AS s(c, …)`: names for the function's columns. */
  readonly columns?: readonly Name[];
  readonly left: boolean;
  /** Offset of LATERAL. */
  readonly start: number;
}

export type FromItem = TableRef | WindowTable | JoinTable | ModelTable | MatchRecognize | LateralTable;

/**
 * The frame of an OVER aggregate, from `preceding` rows (ROWS) or ms (RANGE) before the current
 * row, or from the first row (`unbounded`), to the current row.
 */
export interface OverFrame {
  readonly unit: 'rows' | 'range';
  readonly preceding: number | 'unbounded';
  /** Offset of ROWS or RANGE. */
  readonly start: number;
}

/**
 * `OVER (PARTITION BY … ORDER BY … [ASC|DESC], … [frame])` after `ROW_NUMBER()` or an aggregate
 * call, or `OVER w` naming a window of the query's WINDOW clause (resolved by the parser).
 */
export interface Over {
  readonly partitionBy: readonly { readonly expr: Expr; readonly text: string }[];
  readonly orderBy: readonly { readonly expr: Expr; readonly text: string; readonly descending: boolean }[];
  /** Absent: the default frame, RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW. */
  readonly frame?: OverFrame;
  /** The named window `OVER w` or `OVER (w …)` refers to. */
  readonly window?: Name;
  readonly start: number;
}

/** One item of a select list: an expression with its alias, and its text as written. */
export interface SelectItem {
  readonly expr: Expr;
  readonly text: string;
  readonly alias?: Name;
  /**
   * `ROW_NUMBER() OVER (…)`, planned as Flink's top-N and deduplication patterns, or
   * `agg(x) OVER (…)`, an OVER aggregate.
   */
  readonly over?: Over;
  /** `t.*` in the select list of a join: every column of table `t` (`expr` is then `t`). */
  readonly star?: Name;
}

/** `name AS (query)` of a `WITH` before a query: a view visible to that query only. */
export interface CommonTable {
  readonly name: Name;
  readonly query: Select;
}

/**
 * A query: one SELECT, or with `unionAll` the UNION ALL of it and those (their columns matched
 * by position and named by the first), each reading the common tables of `with`. With
 * `unionDistinct` too, it is their UNION: the UNION ALL without repeated rows.
 */
export interface Select {
  readonly with?: readonly CommonTable[];
  readonly unionAll?: readonly Select[];
  /** `UNION` (or `UNION DISTINCT`) rather than `UNION ALL`: the offset of its first `UNION`. */
  readonly unionDistinct?: number;
  /** `ORDER BY term [ASC|DESC], …` after the query (its UNION included), in streaming SQL's forms (`order-limit.ts`). */
  readonly orderBy?: readonly { readonly expr: Expr; readonly text: string; readonly descending: boolean }[];
  /** `LIMIT n` (or `FETCH FIRST n ROWS ONLY`) after the query: `n`, and the offset of the clause. */
  readonly limit?: { readonly n: number; readonly start: number };
  /** Offset of ORDER BY. */
  readonly orderByStart?: number;
  /** `SELECT DISTINCT`. */
  readonly distinct?: boolean;
  /** Undefined for `SELECT *`. */
  readonly items?: readonly SelectItem[];
  /** `SELECT *, item, …`: `items` are the items after the `*`. */
  readonly starWith?: boolean;
  readonly from: FromItem;
  readonly where?: { readonly expr: Expr; readonly text: string };
  readonly groupBy?: readonly { readonly expr: Expr; readonly text: string }[];
  readonly having?: { readonly expr: Expr; readonly text: string };
  readonly start: number;
}
