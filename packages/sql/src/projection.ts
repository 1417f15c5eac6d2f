/**
 * What a query's output is made of, and the `map` config that gives exactly its columns.
 */

import { childrenOf, type Expr, formatName, isAggregateCall } from '@sluice/core';

/** One column of a query's output: its name and either the input column it copies or the expression. */
export interface OutputColumn {
  readonly name: string;
  readonly copies?: string;
  readonly text: string;
  readonly start: number;
  /** `PROCTIME()`: the column is the processing-time attribute (its text reads the clock). */
  readonly proctime?: boolean;
  /** Known to hold integers (see `integral.ts`). */
  readonly integral?: boolean;
}

/** The names of the columns of `output` known to hold integers. */
export function integralNames(output: readonly OutputColumn[]): { integral?: ReadonlySet<string> } {
  const names = output.filter((c) => c.integral === true).map((c) => c.name);
  return names.length > 0 ? { integral: new Set(names) } : {};
}

/** Whether `e` holds an aggregate call. */
export function hasAggregate(e: Expr): boolean {
  if (isAggregateCall(e)) return true;
  return childrenOf(e).some(hasAggregate);
}

/** The field references of `e` outside aggregate calls (`inside` false) or everywhere. */
export function fieldsOf(e: Expr, out: Expr[] = [], outsideAggregates = false): Expr[] {
  if (e.kind === 'field') out.push(e);
  if (outsideAggregates && isAggregateCall(e)) return out;
  for (const c of childrenOf(e)) fieldsOf(c, out, outsideAggregates);
  return out;
}

/**
 * The config of a `map` step giving exactly the columns `output`, in order: the leading columns
 * copied under their own names as `select`, every later one as `fields` (a copy reads the column
 * it copies), since a map writes its selected fields first and then its computed ones; and the
 * config path of each column with its offset in the script.
 */
export function projection(output: readonly OutputColumn[]): {
  config: { select: string[]; fields: { [name: string]: string } };
  paths: [string, number][];
} {
  const firstComputed = output.findIndex((c) => c.copies !== c.name);
  const select = firstComputed < 0 ? output : output.slice(0, firstComputed);
  const computed = output.slice(select.length);
  const fields: { [name: string]: string } = {};
  for (const c of computed) fields[c.name] = c.copies !== undefined ? formatName(c.copies) : c.text;
  const paths: [string, number][] = [
    ...select.map((c, i): [string, number] => [`select[${i}]`, c.start]),
    ...computed.map((c): [string, number] => [`fields.${c.name}`, c.start]),
  ];
  return { config: { select: select.map((c) => c.name), fields }, paths };
}

/**
 * Where a query's columns go, by position: an INSERT's table, or the first query of a UNION ALL
 * or UNION (`union`, the words of the set operation), whose column names the later ones take.
 */
export interface Target {
  readonly columns: readonly string[];
  readonly table: { readonly text: string; readonly start: number };
  readonly union?: 'UNION' | 'UNION ALL';
}

/** The message for a query whose column count differs from its target's. */
export function columnCountMessage(count: number, target: Target): string {
  const has = `${target.columns.length} (${target.columns.join(', ')})`;
  return target.union
    ? `the queries of a ${target.union} must give the same number of columns, matched by position: the first gives ${has}, this one ${count}`
    : `the query gives ${count} column(s) but table '${target.table.text}' has ${has}; INSERT INTO writes them by position`;
}
