/**
 * The planner's services the files that plan one part of a query (joins, aggregates, ranks)
 * call back into.
 */

import type { Expr, PlanStep } from '@sluice/core';
import type { Name, Select, WindowTable } from './ast.ts';
import type { OutputColumn, Target } from './projection.ts';

/** What a query reads or produces: a stream in the plan, its columns, and its event-time column. */
export interface Relation {
  readonly ref: string;
  readonly columns: readonly string[];
  /** The column the event time comes from (its table's WATERMARK FOR), while it passes through unchanged. */
  readonly timeColumn?: string;
  /**
   * The column `PROCTIME() AS col` made (Flink's processing-time attribute: the wall clock when
   * the row was read), while it passes through unchanged; windows over it are processing-time
   * windows.
   */
  readonly procTimeColumn?: string;
  /** Whether the stream is a source's, whose records may hold fields the table does not declare. */
  readonly fromSource: boolean;
  /**
   * A window aggregate's results: the window (TUMBLE, HOP or CUMULATE, in event time) and the
   * output columns that are its bounds, which a window join of two such results equates.
   */
  readonly windowed?: {
    readonly window: WindowTable;
    readonly bounds: ReadonlyMap<string, 'window_start' | 'window_end'>;
  };
  /** The columns (ROW members by dotted path) known to hold integers (see `integral.ts`). */
  readonly integral?: ReadonlySet<string>;
  /** Set when the output is a retract changelog: why, and the offset of the clause that makes it one. */
  readonly updating?: { readonly reason: string; readonly offset: number };
}

/** A table whose connector is a lookup type, as a lookup join asks it. */
export interface LookupTable {
  readonly type: string;
  /** Its WITH options as the lookup type's config. */
  readonly config: { readonly [key: string]: unknown };
  readonly columns: readonly string[];
  /** Whether the lookup type has a `key` option (the columns a row is found by). */
  readonly keyOption: boolean;
  /** Offset of its `connector` option. */
  readonly at: number;
  /** Each WITH option's config path and offset. */
  readonly options: readonly { readonly path: string; readonly offset: number }[];
}

/** The planner's services a join uses. */
export interface JoinPlanner {
  /** The columns of table `name` (not a view) with their types as declared (empty for a computed column). */
  declaredColumns(name: Name): readonly { name: string; type: string }[] | undefined;
  /** Table `name` as a lookup table, when it is a table (not a view) whose connector is a lookup type. */
  lookupTable(name: Name): LookupTable | undefined;
  fail(offset: number, message: string): never;
  locate(id: string, path: string, offset: number): void;
  relation(name: Name): Relation;
  unknown(what: string, name: string, known: readonly string[], where: string): string;
  addStep(step: PlanStep): void;
  project(output: readonly OutputColumn[], id: string, input: string): string;
  nameOf(e: Expr, position: number, target: { columns: readonly string[] } | undefined): string;
}

/** The planner's services the aggregate and rank planning use. */
export interface QueryPlanner extends JoinPlanner {
  /** Checks that every field `e` reads is one of `columns`. */
  checkColumns(e: Expr, columns: readonly string[], where: string): void;
  /** Plans a query (WITH, UNION ALL, one SELECT) into steps named after `id`. */
  query(q: Select, id: string, target?: Target): Relation;
  /** Plans one SELECT. */
  select(q: Select, id: string, target?: Target): Relation;
  /** Runs `plan` with FROM `name` reading `relation`. */
  withRelation<T>(name: string, relation: Relation, plan: () => T): T;
  /** Checks an event-time window table function over `input` (`where` names it in messages). */
  checkEventWindow(window: WindowTable, input: Relation, where: string): void;
  /**
   * The query of the view, common table or subquery `name` (undefined for a table), with a way
   * to plan another query where it was written.
   */
  viewQuery(name: Name): { select: Select; plan: (q: Select, id: string) => Relation } | undefined;
}
