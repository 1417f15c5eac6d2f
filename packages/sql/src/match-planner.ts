/**
 * Plans `MATCH_RECOGNIZE` as the `pattern` step a YAML pipeline would write: PARTITION BY is its
 * `key`, each variable of PATTERN a stage (strict contiguity, as SQL's concatenation; an
 * alternation `(B | C)` stages marked `alternative`), DEFINE their conditions (`true` for a
 * variable without one), MEASURES its measures, AFTER MATCH SKIP its `skip`, WITHIN its `within`,
 * with `running: true` (SQL's running semantics in DEFINE). A `map` then keeps the PARTITION BY
 * columns and the measures, Flink's output of ONE ROW PER MATCH.
 */

import { type Expr, formatDuration, mapChildren, type PlanStep } from '@sluice/core';
import type { MatchRecognize, Name, PatternVariable } from './ast.ts';
import type { OutputColumn } from './projection.ts';
import type { QueryPlanner, Relation } from './query-planner.ts';

const NOT_YET = 'not supported by Sluice SQL yet';

/** The functions that read the rows of one variable (or of the whole match). */
const ROW_FUNCTIONS = new Set(['first', 'last', 'prev', 'sum', 'avg', 'min', 'max', 'count']);

/** The bounds of a quantifier as the pattern step reads it (`''` for exactly one). */
function bounds(q: string): { min: number; max: number; greedy: boolean } {
  const greedy = !(q.length > 1 && q.endsWith('?'));
  const core = greedy ? q : q.slice(0, -1);
  if (core === '') return { min: 1, max: 1, greedy };
  if (core === '+') return { min: 1, max: Number.POSITIVE_INFINITY, greedy };
  if (core === '*') return { min: 0, max: Number.POSITIVE_INFINITY, greedy };
  if (core === '?') return { min: 0, max: 1, greedy };
  const m = /^\{(\d+)(?:(,)(\d*))?\}$/.exec(core);
  if (!m) return { min: 1, max: 1, greedy };
  const min = Number(m[1]);
  const max = m[2] === undefined ? min : m[3] === '' ? Number.POSITIVE_INFINITY : Number(m[3]);
  return { min, max, greedy };
}

/** Plans `m` into steps named `<id>-match…`; returns the relation of its output rows. */
export function planMatchRecognize(planner: QueryPlanner, m: MatchRecognize, id: string): Relation {
  const input = planner.relation(m.table.name);
  const where = `'${m.table.name.text}'`;
  const columns = input.columns;
  if (input.updating)
    planner.fail(
      m.start,
      `MATCH_RECOGNIZE reads an append-only table, as in Flink, and ${where} is updating (${input.updating.reason})`,
    );
  // ORDER BY: the event-time attribute first, ascending.
  const order = m.orderBy[0];
  if (input.timeColumn === undefined)
    planner.fail(
      order.column.start,
      input.procTimeColumn === order.column.text
        ? `${NOT_YET}: MATCH_RECOGNIZE ordered by processing time; order it by an event-time attribute (a column with WATERMARK FOR)`
        : `MATCH_RECOGNIZE orders rows by their event time, and ${where} has none: declare WATERMARK FOR <column> AS <column> - INTERVAL 'n' SECOND in its CREATE TABLE`,
    );
  if (order.column.text !== input.timeColumn || order.descending)
    planner.fail(
      order.column.start,
      `the first column of ORDER BY in MATCH_RECOGNIZE must be the time attribute of ${where}, ascending: '${input.timeColumn}' (its WATERMARK FOR)${columns.includes(order.column.text) && order.column.text !== input.timeColumn ? `; '${order.column.text}' is not a time attribute` : ''}`,
    );
  if (m.orderBy.length > 1)
    planner.fail(
      m.orderBy[1].column.start,
      `${NOT_YET}: ORDER BY columns after the time attribute in MATCH_RECOGNIZE (rows with the same time are matched in the order they arrive)`,
    );
  for (const c of m.partitionBy)
    if (!columns.includes(c.text)) planner.fail(c.start, planner.unknown('column', c.text, columns, where));

  // PATTERN: the variables, each once.
  const variables: PatternVariable[] = m.pattern.flat();
  const names = variables.map((v) => v.name.text);
  variables.forEach((v, i) => {
    if (names.indexOf(v.name.text) !== i)
      planner.fail(
        v.name.start,
        `${NOT_YET}: a variable twice in PATTERN ('${v.name.text}'); name the second occurrence differently and DEFINE it alike`,
      );
    const q = bounds(v.quantifier);
    if (q.max < 1 || q.min > q.max)
      planner.fail(
        v.quantifierStart,
        `quantifier ${v.quantifier} of ${v.name.text} matches no rows or has its bounds the wrong way round: {n} and {n,m} need 0 < m and n ≤ m`,
      );
    if (q.min === 0 && q.max === 1 && !q.greedy)
      planner.fail(
        v.quantifierStart,
        `the reluctant optional quantifier (${v.quantifier}) is not supported (nor by Flink); write ?`,
      );
  });
  for (const element of m.pattern)
    if (element.length > 1)
      for (const v of element)
        if (bounds(v.quantifier).min === 0)
          planner.fail(
            v.quantifierStart,
            `each variable of an alternation must take at least one row (${v.name.text}${v.quantifier} may take none); an optional alternation, (B | C)?, is not supported`,
          );
  const last = m.pattern[m.pattern.length - 1];
  for (const v of last) {
    const q = bounds(v.quantifier);
    if (q.greedy && q.min < q.max)
      planner.fail(
        v.quantifierStart,
        `the last variable of PATTERN cannot take a greedy quantifier (${v.name.text}${v.quantifier}), as in Flink: make it reluctant (${v.name.text}${v.quantifier}?) or end the pattern with a variable DEFINEd as the negation of ${v.name.text}'s condition`,
      );
  }
  if (m.pattern.every((e) => e.every((v) => bounds(v.quantifier).min === 0)))
    planner.fail(
      m.patternStart,
      'the PATTERN can match no rows at all (every variable is optional), which Flink refuses too: make a variable required',
    );
  const known = (v: Name, what: string): void => {
    if (!names.includes(v.text))
      planner.fail(v.start, planner.unknown('pattern variable', v.text, names, what));
  };

  // DEFINE: a condition per variable, each variable of PATTERN, once.
  const defined = new Map<string, { expr: Expr; text: string }>();
  for (const d of m.define) {
    known(d.variable, 'PATTERN');
    if (defined.has(d.variable.text))
      planner.fail(d.variable.start, `DEFINE gives '${d.variable.text}' twice`);
    defined.set(d.variable.text, d);
    checkReferences(planner, d.expr, names, columns, where);
  }
  if (m.skip.variable !== undefined) {
    known(m.skip.variable, 'PATTERN');
    const first = m.pattern[0];
    if (
      m.skip.kind === 'to_first' &&
      first.length === 1 &&
      first[0].name.text === m.skip.variable.text &&
      bounds(first[0].quantifier).min > 0
    )
      planner.fail(
        m.skip.start,
        `AFTER MATCH SKIP TO FIRST ${m.skip.variable.text} would start the next match where this one started (${m.skip.variable.text} begins every match), an endless loop Flink stops at run time; skip to a later variable, or SKIP TO NEXT ROW`,
      );
  }

  // MEASURES: named, after the PARTITION BY columns.
  const output: OutputColumn[] = m.partitionBy.map((c) => ({
    name: c.text,
    copies: c.text,
    text: c.text,
    start: c.start,
  }));
  for (const measure of m.measures) {
    checkReferences(planner, measure.expr, names, columns, where);
    const name = measure.alias.text;
    if (output.some((c) => c.name === name))
      planner.fail(
        measure.alias.start,
        `MATCH_RECOGNIZE gives two columns named '${name}' (its output is the PARTITION BY columns, then the measures); rename the measure`,
      );
    output.push({ name, copies: name, text: name, start: measure.alias.start });
  }
  if (output.length === 0)
    planner.fail(m.start, 'MATCH_RECOGNIZE gives no columns: add PARTITION BY or MEASURES … AS name');

  let ref = input.ref;
  if (m.partitionBy.length === 0) {
    // One partition, as Flink runs it without PARTITION BY (on one task).
    const keyed = `${id}-match-all`;
    planner.addStep({ id: keyed, type: 'key_by', inputs: [ref], config: { key: ["'all'"] } });
    planner.locate(keyed, '', m.start);
    ref = keyed;
  }
  const step = `${id}-match`;
  const stages = m.pattern.flatMap((element) =>
    element.map((v, i) => ({
      name: v.name.text,
      where: defined.get(v.name.text)?.text ?? 'true',
      ...(v.quantifier !== '' ? { quantifier: v.quantifier } : {}),
      ...(i > 0 ? { alternative: true } : {}),
    })),
  );
  const config: PlanStep['config'] = {
    ...(m.partitionBy.length > 0 ? { key: m.partitionBy.map((c) => c.text) } : {}),
    stages,
    ...(m.within !== undefined ? { within: formatDuration(m.within) } : {}),
    skip: m.skip.kind,
    ...(m.skip.variable !== undefined ? { skip_to: m.skip.variable.text } : {}),
    measures: Object.fromEntries(m.measures.map((x) => [x.alias.text, x.text])),
    running: true,
  };
  planner.addStep({ id: step, type: 'pattern', inputs: [ref], config });
  planner.locate(step, '', m.start);
  m.partitionBy.forEach((c, i) => {
    planner.locate(step, `key[${i}]`, c.start);
  });
  variables.forEach((v, i) => {
    const d = defined.get(v.name.text);
    planner.locate(step, `stages[${i}]`, v.name.start);
    planner.locate(step, `stages[${i}].where`, d?.expr.start ?? v.name.start);
    if (v.quantifier !== '') planner.locate(step, `stages[${i}].quantifier`, v.quantifierStart);
  });
  for (const x of m.measures) planner.locate(step, `measures.${x.alias.text}`, x.expr.start);
  if (m.skip.variable !== undefined) planner.locate(step, 'skip_to', m.skip.variable.start);
  const projected = planner.project(output, `${id}-measures`, step);
  return { ref: projected, columns: output.map((c) => c.name), fromSource: false };
}

/**
 * Checks the columns and variables a DEFINE condition or a measure reads: `col` a column of the
 * table, `V.col` a variable of PATTERN and a column; MATCH_PROCTIME() is refused.
 */
function checkReferences(
  planner: QueryPlanner,
  e: Expr,
  variables: readonly string[],
  columns: readonly string[],
  where: string,
): void {
  const visit = (x: Expr): Expr => {
    if (x.kind === 'call' && ROW_FUNCTIONS.has(x.name) && x.args.length > 0) {
      // An aggregate or offset reads the rows of one variable (or of the whole match).
      const named = new Set<string>();
      const plain: Expr[] = [];
      const scan = (y: Expr): Expr => {
        if (y.kind === 'member' && y.object.kind === 'field' && variables.includes(y.object.name)) {
          named.add(y.object.name);
          return y;
        }
        if (y.kind === 'field') plain.push(y);
        return mapChildren(y, scan);
      };
      scan(x.args[0]);
      if (named.size > 1 || (named.size === 1 && plain.length > 0))
        planner.fail(
          x.start,
          `${x.name.toUpperCase()}(…) reads the rows of one pattern variable, as in Flink: ${[...named].join(' and ')}${plain.length > 0 ? ` and the unqualified '${plain[0].kind === 'field' ? plain[0].name : ''}'` : ''} are named here`,
        );
    }
    if (x.kind === 'member' && x.object.kind === 'field') {
      const qualifier = x.object;
      if (variables.includes(qualifier.name)) {
        if (!columns.includes(x.name))
          planner.fail(x.start, planner.unknown('column', x.name, columns, where));
        return x;
      }
      if (!columns.includes(qualifier.name))
        planner.fail(
          qualifier.start,
          planner.unknown('pattern variable', qualifier.name, variables, 'PATTERN'),
        );
      return x;
    }
    if (x.kind === 'field' && !variables.includes(x.name) && !columns.includes(x.name))
      planner.fail(x.start, planner.unknown('column', x.name, columns, where));
    if (x.kind === 'call' && x.name === 'match_proctime')
      planner.fail(
        x.start,
        `${NOT_YET}: MATCH_PROCTIME() (MATCH_ROWTIME() gives the time of a match's last row)`,
      );
    return mapChildren(x, visit);
  };
  visit(e);
}
