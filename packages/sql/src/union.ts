/**
 * The set operations UNION ALL and UNION: the type check of their columns, and UNION's distinct.
 *
 * Flink (Calcite) plans `a UNION b` as `a UNION ALL b` followed by a distinct by all columns (a
 * GroupAggregate without aggregates). Sluice plans that distinct as `SELECT DISTINCT` is planned:
 * a `deduplicate` step keyed by every column that keeps each row's first arrival, so over
 * append-only inputs the result is append-only, each distinct row once (Flink's GroupAggregate
 * declares an updating result, but over append-only inputs it emits the same inserts). A UNION of
 * an updating input is refused, as `SELECT DISTINCT` of one is: its rows can be retracted. As
 * after Flink's aggregate, the result has no time attribute.
 */

import { type Expr, formatName } from '@sluice/core';
import type { Select } from './ast.ts';
import type { QueryPlanner, Relation } from './query-planner.ts';

/** The words of a query's set operation, for messages. */
export function setOperationWords(q: Select): 'UNION' | 'UNION ALL' {
  return q.unionDistinct !== undefined ? 'UNION' : 'UNION ALL';
}

/** A column's type as far as the planner knows it: its family (numbers, text, …) and its name as written. */
interface ColumnType {
  readonly name?: string;
  readonly family?: string;
  readonly written?: string;
}

const FAMILIES: readonly [RegExp, string][] = [
  [/^(TINYINT|SMALLINT|INT|INTEGER|BIGINT|FLOAT|REAL|DOUBLE|DECIMAL|DEC|NUMERIC)\b/, 'numeric'],
  [/^(STRING|VARCHAR|CHAR|CHARACTER|TEXT)\b/, 'character'],
  [/^BOOLEAN\b/, 'boolean'],
  [/^(TIMESTAMP|TIMESTAMP_LTZ|DATE|TIME)\b/, 'datetime'],
  [/^(BYTES|BINARY|VARBINARY)\b/, 'binary'],
  [/^ARRAY\b/, 'array'],
  [/^MAP\b/, 'map'],
  [/^ROW\b/, 'row'],
];

/** The family of a declared type: types of one family may be unioned (Calcite widens them). */
function familyOf(declared: string): string | undefined {
  const upper = declared.trim().toUpperCase();
  return FAMILIES.find(([re]) => re.test(upper))?.[1];
}

/** The type of expression `e` over columns `input`, where it is known without running the query. */
function typeOf(e: Expr, input: readonly ColumnType[] | undefined): ColumnType {
  switch (e.kind) {
    case 'field': {
      const c = input?.find((i) => i.name === e.name);
      return { name: e.name, ...(c?.family ? { family: c.family, written: c.written } : {}) };
    }
    case 'literal':
      if (typeof e.value === 'number') return { family: 'numeric', written: 'a number' };
      if (typeof e.value === 'string') return { family: 'character', written: 'a string' };
      if (typeof e.value === 'boolean') return { family: 'boolean', written: 'BOOLEAN' };
      return {};
    case 'cast': {
      const target = e.target === 'integer' || e.target === 'double' ? 'numeric' : e.target;
      const family = target === 'string' ? 'character' : target === 'timestamp' ? 'datetime' : target;
      return { family, written: `CAST(… AS ${e.target.toUpperCase()})` };
    }
    case 'call':
      if (e.name === 'count') return { family: 'numeric', written: 'COUNT' };
      return {};
    default:
      return {};
  }
}

/**
 * The types of the columns of query `q`, where known: the declared types of a table's columns,
 * followed through views, subqueries and a select list's plain columns, literals and casts.
 */
function columnTypes(p: QueryPlanner, q: Select, depth = 0): ColumnType[] | undefined {
  if (depth > 16) return undefined;
  let input: ColumnType[] | undefined;
  if (q.from.kind === 'table') {
    const view = q.from.query ?? p.viewQuery(q.from.name)?.select;
    if (view !== undefined) input = columnTypes(p, view, depth + 1);
    else
      input = p.declaredColumns(q.from.name)?.map((c) => ({
        name: c.name,
        ...(familyOf(c.type) ? { family: familyOf(c.type), written: c.type.toUpperCase() } : {}),
      }));
  }
  if (q.items === undefined) return input;
  const items = q.items.map((item): ColumnType => {
    const t = typeOf(item.expr, input);
    return { ...t, ...(item.alias ? { name: item.alias.text } : {}) };
  });
  if (q.starWith) return input === undefined ? undefined : [...input, ...items];
  return items;
}

/**
 * Checks that the queries of a UNION or UNION ALL give columns of the same types, by position,
 * where their types are known (Flink's "Type mismatch in column n of UNION"): the declared types
 * of a table's columns, literals and casts. Numbers of different widths match, as Calcite widens
 * them to the widest.
 */
export function checkUnionTypes(p: QueryPlanner, q: Select): void {
  const words = setOperationWords(q);
  const { unionAll, unionDistinct: _, with: __, ...head } = q;
  const first = columnTypes(p, head);
  if (first === undefined) return;
  for (const part of unionAll ?? []) {
    const types = columnTypes(p, part);
    if (types === undefined) continue;
    for (let i = 0; i < Math.min(first.length, types.length); i++) {
      const [a, b] = [first[i], types[i]];
      if (a.family === undefined || b.family === undefined || a.family === b.family) continue;
      const item = part.starWith ? undefined : part.items?.[i];
      p.fail(
        item?.expr.start ?? part.start,
        `Type mismatch in column ${i + 1} of ${words}: the first query gives ${a.written}${a.name ? ` ('${a.name}')` : ''}, this one ${b.written}${b.name ? ` ('${b.name}')` : ''}; the queries of a ${words} give columns of the same type by position (CAST one of them)`,
      );
    }
  }
}

/**
 * UNION's distinct over the UNION ALL `merged` of query `q`: a `deduplicate` step keyed by every
 * column, keeping each row's first arrival (see the file comment).
 */
export function planUnionDistinct(p: QueryPlanner, q: Select, merged: Relation, id: string): Relation {
  if (merged.updating !== undefined)
    p.fail(
      q.unionDistinct ?? q.start,
      `UNION over an updating result (${merged.updating.reason}) is not supported yet: its rows can be retracted; write UNION ALL, or make the inputs append-only`,
    );
  const step = `${id}-distinct`;
  p.addStep({
    id: step,
    type: 'deduplicate',
    inputs: [merged.ref],
    config: { key: merged.columns.map((c) => formatName(c)), keep: 'first', time: 'processing' },
  });
  p.locate(step, '', q.unionDistinct ?? q.start);
  return { ref: step, columns: merged.columns, fromSource: false };
}
