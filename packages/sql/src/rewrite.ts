/**
 * Rewrites of Flink SQL expressions into the engine's: aggregate functions Flink names otherwise
 * (`FIRST_VALUE` is the engine's `first`), and an aggregate's `FILTER (WHERE cond)`, which the
 * engine's aggregates have no clause for, as the argument `CASE WHEN cond THEN x END` — the same
 * result, since every aggregate but `count(*)` skips NULL (and `count(*)` becomes
 * `count(CASE WHEN cond THEN 1 END)`). The text the plan holds is the script's text with these
 * spans replaced, so every other part of an expression keeps its offset for error positions.
 */

import { aggregateDocs, type CallExpr, childrenOf, type Expr, isAggregateCall } from '@sluice/core';

/** Flink's aggregate names that the engine spells otherwise, with the engine's name. */
export const FLINK_AGGREGATES: { readonly [flink: string]: string } = {
  first_value: 'first',
  last_value: 'last',
};

/** Flink aggregates the engine has no counterpart for, refused with the list of those it has. */
const MISSING = new Set([
  'stddev_pop',
  'stddev_samp',
  'stddev',
  'var_pop',
  'var_samp',
  'variance',
  'collect',
  'listagg',
  'array_agg',
  'json_objectagg',
  'json_arrayagg',
]);

/** One replaced span of the script. */
export interface Splice {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

/** `source[start, end)` with the splices inside it applied (splices must not overlap). */
export function spliced(source: string, start: number, end: number, splices: readonly Splice[]): string {
  let out = '';
  let at = start;
  for (const s of [...splices]
    .filter((x) => x.start >= start && x.end <= end)
    .sort((a, b) => a.start - b.start)) {
    out += source.slice(at, s.start) + s.text;
    at = s.end;
  }
  return out + source.slice(at, end);
}

/** The aggregates the engine has, for messages. */
export function engineAggregates(): string {
  const flink = Object.entries(FLINK_AGGREGATES).map(([f, e]) => `${f.toUpperCase()} (= ${e})`);
  return [...aggregateDocs.map((d) => d.name), ...flink].join(', ');
}

/**
 * Renames Flink's aggregate calls in `e` to the engine's names (in place: the tree is the
 * parser's own) and returns the splices that do the same to the text. Throws through `fail` for
 * a Flink aggregate the engine does not have.
 */
export function renameAggregates(e: Expr, fail: (offset: number, message: string) => never): Splice[] {
  const splices: Splice[] = [];
  const visit = (x: Expr): void => {
    if (x.kind === 'call') {
      const engine = FLINK_AGGREGATES[x.name];
      if (engine !== undefined) {
        splices.push({ start: x.start, end: x.start + x.name.length, text: engine });
        (x as CallExpr).name = engine;
      } else if (MISSING.has(x.name) && !isAggregateCall(x))
        fail(
          x.start,
          `not supported by Sluice SQL yet: the aggregate ${x.name.toUpperCase()}; the engine's aggregates are ${engineAggregates()}`,
        );
    }
    for (const c of childrenOf(x)) visit(c);
  };
  visit(e);
  return splices;
}

/**
 * `call FILTER (WHERE condition)` as one call whose value is NULL where the condition does not
 * hold: its tree and its text (made from the script's text of the call and of the condition).
 */
export function filteredCall(
  call: CallExpr,
  condition: { expr: Expr; text: string },
  callText: (from: number, to: number) => string,
): { expr: Expr; text: string } {
  const value: Expr = call.star
    ? { kind: 'literal', value: 1, start: call.start, end: call.end }
    : call.args[0];
  const guarded: Expr = {
    kind: 'case',
    operand: null,
    whens: [{ condition: condition.expr, result: value }],
    otherwise: null,
    start: condition.expr.start,
    end: value.end,
  };
  const valueText = call.star ? '1' : callText(value.start, value.end);
  const rest = call.args
    .slice(1)
    .map((a) => `, ${callText(a.start, a.end)}`)
    .join('');
  const text = `${call.name}(${call.distinct ? 'DISTINCT ' : ''}CASE WHEN ${condition.text} THEN ${valueText} END${rest})`;
  return {
    expr: { ...call, star: false, args: [guarded, ...call.args.slice(1)] },
    text,
  };
}
