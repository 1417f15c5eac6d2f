/**
 * Plans `FROM a JOIN b ON …` as the `join` step YAML would write: a BETWEEN on the two event
 * times in ON makes an interval join (`between`), `FOR SYSTEM_TIME AS OF` a temporal join
 * (`temporal: true`), two window table functions joined on their bounds a window join
 * (`window`, see window-join.ts), and anything else the regular join, whose output is a changelog. Table
 * aliases and columns, qualified or not, are rewritten to the step's names: each input's record
 * by its id (`b.price` → `bids.price`).
 */

import { childrenOf, type Expr, formatDuration, formatName, type SinkSpec } from '@sluice/core';
import type { JoinTable, Select, SelectItem, TableRef } from './ast.ts';
import { conjuncts } from './plan-steps.ts';
import type { Positions } from './position.ts';
import {
  columnCountMessage,
  hasAggregate,
  integralNames,
  type OutputColumn,
  type Target,
} from './projection.ts';
import { pushFilters } from './pushdown.ts';
import type { JoinPlanner, LookupTable, QueryPlanner, Relation } from './query-planner.ts';
import { type Bound, boundText, planWindowInputs, resultsWindow } from './window-join.ts';

export type { JoinPlanner, Relation } from './query-planner.ts';

/** One input of the join: the relation, and the name the query calls it by (its alias or table). */
interface Side {
  readonly relation: Relation;
  readonly qualifier: string;
  readonly table: string;
}

/** A column of one side, as a reference resolves to. */
interface SideColumn {
  readonly side: 0 | 1;
  readonly column: string;
}

/** A window join's bounds, by the column each side reads them as, and whether each side may be missing. */
interface WindowBounds {
  readonly columns: readonly [ReadonlyMap<string, Bound>, ReadonlyMap<string, Bound>];
  readonly nullable: readonly [boolean, boolean];
}

const EXAMPLE = "b.t BETWEEN a.t - INTERVAL '5' SECOND AND a.t + INTERVAL '10' SECOND";

class JoinScope {
  readonly #p: JoinPlanner;
  readonly sides: readonly [Side, Side];
  readonly #source: string;
  readonly #bounds?: WindowBounds;

  constructor(p: JoinPlanner, sides: readonly [Side, Side], source: string, bounds?: WindowBounds) {
    this.#p = p;
    this.sides = sides;
    this.#source = source;
    if (bounds !== undefined) this.#bounds = bounds;
  }

  describeSides(): string {
    return this.sides
      .map((s) => (s.qualifier === s.table ? `'${s.table}'` : `'${s.qualifier}' (${s.table})`))
      .join(' and ');
  }

  /** The side column a reference reads, or undefined when `e` is no column reference. */
  column(e: Expr): SideColumn | undefined {
    if (e.kind === 'member' && e.object.kind === 'field') {
      const qualifier = e.object.name;
      const side = this.sides.findIndex((s) => s.qualifier === qualifier);
      if (side === 0 || side === 1) {
        const columns = this.sides[side].relation.columns;
        if (!columns.includes(e.name))
          this.#p.fail(
            e.start,
            this.#p.unknown('column', e.name, columns, `'${qualifier}' (${this.sides[side].table})`),
          );
        return { side, column: e.name };
      }
      if (this.unqualifiedSide(e.object.name, e.start) === undefined)
        this.#p.fail(e.start, `FROM has no table '${qualifier}'; it has ${this.describeSides()}`);
      return undefined;
    }
    if (e.kind !== 'field') return undefined;
    const side = this.unqualifiedSide(e.name, e.start);
    if (side === undefined) {
      const all = [...new Set(this.sides.flatMap((s) => s.relation.columns))];
      return this.#p.fail(
        e.start,
        this.#p.unknown('column', e.name, all, `the join of ${this.describeSides()}`),
      );
    }
    return { side, column: e.name };
  }

  /** The side that alone has column `name`; fails when both have it. */
  unqualifiedSide(name: string, offset: number): 0 | 1 | undefined {
    const has = this.sides.map((s) => s.relation.columns.includes(name));
    if (has[0] && has[1])
      return this.#p.fail(
        offset,
        `column '${name}' is in both ${this.describeSides()}: write ${this.sides[0].qualifier}.${name} or ${this.sides[1].qualifier}.${name}`,
      );
    return has[0] ? 0 : has[1] ? 1 : undefined;
  }

  /**
   * `e` as the join step reads it: every column as `<input id>.<column>` (with `bare`, as
   * `<column>`: a lookup step's key reads its input record's fields so).
   */
  rewrite(e: Expr, bare = false): string {
    const splices: { start: number; end: number; text: string }[] = [];
    const visit = (x: Expr) => {
      const c = this.column(x);
      if (c !== undefined) {
        const ref = this.sides[c.side].relation.ref;
        const bound = this.#bounds?.columns[c.side].get(c.column);
        const text =
          bound !== undefined
            ? boundText(bound, ref, this.#bounds?.nullable[c.side] === true)
            : bare
              ? formatName(c.column)
              : `${formatName(ref)}.${formatName(c.column)}`;
        splices.push({ start: x.start, end: x.end, text });
        return;
      }
      for (const child of childrenOf(x)) visit(child);
    };
    visit(e);
    let out = '';
    let at = e.start;
    for (const s of splices.sort((a, b) => a.start - b.start)) {
      out += this.#source.slice(at, s.start) + s.text;
      at = s.end;
    }
    return out + this.#source.slice(at, e.end);
  }
}

/** `x`, `x + INTERVAL …` or `x - INTERVAL …`: the reference and the offset in ms. */
function shifted(e: Expr): { base: Expr; offset: number } | undefined {
  if (e.kind === 'binary' && (e.op === '+' || e.op === '-') && e.right.kind === 'literal') {
    const v = e.right.value;
    if (typeof v !== 'number') return undefined;
    return { base: e.left, offset: e.op === '+' ? v : -v };
  }
  return { base: e, offset: 0 };
}

function signed(ms: number): string {
  return ms < 0 ? `-${formatDuration(-ms)}` : formatDuration(ms);
}

/**
 * Plans a query whose FROM is a join; its steps are `<id>-join`, and with WHERE `<id>-where` and
 * `<id>-select` after it. With `target`, the output takes the target table's column names.
 */
export function planJoin(
  p: QueryPlanner,
  q: Select,
  join: JoinTable,
  id: string,
  source: string,
  target?: Target,
): Relation {
  // Two window table functions' rows joined on their bounds: a window join of the records.
  const windowed = planWindowInputs(p, join, id);
  const side = (t: TableRef): Side => ({
    relation: windowed?.relations[t === join.left ? 0 : 1] ?? p.relation(t.name),
    qualifier: t.alias?.text ?? t.name.text,
    table: t.name.text,
  });
  if (join.asOf !== undefined) {
    const lookup = p.lookupTable(join.right.name);
    const left = side(join.left);
    const at = join.asOf;
    const column =
      at.kind === 'member' && at.object.kind === 'field' && at.object.name === left.qualifier
        ? at.name
        : at.kind === 'field'
          ? at.name
          : undefined;
    if (lookup !== undefined && column !== undefined && column === left.relation.procTimeColumn)
      return planLookupJoin(p, q, join, left, lookup, id, source, target);
  }
  const sides: [Side, Side] = [side(join.left), side(join.right)];
  if (sides[0].relation.ref === sides[1].relation.ref)
    p.fail(
      join.right.name.start,
      `joining '${join.right.name.text}' with itself is not supported by Sluice SQL yet: the join step names its inputs by id`,
    );
  if (sides[0].qualifier === sides[1].qualifier)
    p.fail(
      join.right.name.start,
      `both tables are called '${sides[0].qualifier}': give one an alias, e.g. ${join.right.name.text} AS r`,
    );
  // Two window aggregates' results joined on their bounds (Nexmark q8): a window join too.
  const window = windowed ?? resultsWindow(p, join, [sides[0].relation, sides[1].relation] as const);
  let scope = new JoinScope(
    p,
    sides,
    source,
    windowed && {
      columns: windowed.bounds,
      nullable: [join.type === 'right' || join.type === 'full', join.type === 'left' || join.type === 'full'],
    },
  );
  const step = `${id}-join`;
  const config: { [key: string]: unknown } = {};

  // ON: the equalities between the sides are the key; a BETWEEN on the event times the interval.
  const kept: Expr[] = [];
  /** A comma join's WHERE conjuncts other than the key's equalities: a filter after the join. */
  const residual: Expr[] = [];
  let keyed = false;
  let between: [number, number] | undefined;
  const equates = (c: Expr): boolean => {
    if (c.kind !== 'binary' || c.op !== '=') return false;
    const [l, r] = [scope.column(c.left), scope.column(c.right)];
    return l !== undefined && r !== undefined && l.side !== r.side;
  };
  const on = conjuncts(join.on.expr);
  // Joined on the bounds alone (Nexmark q5: each window's counts with the window's maximum), the
  // bounds are the key too; with another key they go without saying within one window.
  const boundsKey =
    window !== undefined &&
    windowed === undefined &&
    !on.some((c) => !window.equalities.has(c) && equates(c));
  for (const c of on) {
    // A window join's bounds equalities are its `window` (boundEqualities checked them).
    if (window?.equalities.has(c) && !boundsKey) continue;
    let key = false;
    if (equates(c)) key = keyed = true;
    if (join.comma && !key) {
      residual.push(c);
      continue;
    }
    if (c.kind === 'between' && !c.negated) {
      const interval = intervalOf(p, scope, c);
      if (interval !== undefined) {
        if (window !== undefined)
          p.fail(
            c.start,
            'a join is a window join (on the windows’ bounds) or an interval join (BETWEEN on the event times), not both',
          );
        if (between !== undefined) p.fail(c.start, 'an interval join takes one BETWEEN on the event times');
        between = interval;
        p.locate(step, 'between', c.start);
        continue;
      }
    }
    kept.push(c);
  }
  // WHERE's conjuncts that read one side only filter that side's rows before the join.
  const where = q.where === undefined ? [] : conjuncts(q.where.expr);
  const pushed =
    windowed === undefined && window === undefined && join.asOf === undefined
      ? pushFilters(join, scope, [...residual, ...where])
      : undefined;
  let filters = [...residual, ...(q.where ? [q.where.expr] : [])];
  if (pushed !== undefined && pushed.after.length < residual.length + where.length) {
    filters = [...pushed.after];
    const filtered = sides.map((s, i) => {
      const own = pushed.sides[i];
      if (own.length === 0) return s;
      const ref = `${id}-${i === 0 ? 'left' : 'right'}-where`;
      const text = own.map((f) =>
        own.length === 1 ? scope.rewrite(f, true) : `(${scope.rewrite(f, true)})`,
      );
      p.addStep({ id: ref, type: 'filter', inputs: [s.relation.ref], config: { where: text.join(' AND ') } });
      p.locate(ref, '', own[0].start);
      p.locate(ref, 'where', own[0].start);
      return { ...s, relation: { ...s.relation, ref } };
    }) as [Side, Side];
    sides.splice(0, 2, ...filtered);
    scope = new JoinScope(p, sides, source);
  }
  if (!keyed)
    p.fail(
      join.on.expr.start,
      join.comma
        ? `a comma join needs an equality between a column of each table in WHERE, e.g. ${sides[0].qualifier}.id = ${sides[1].qualifier}.id: Sluice joins by key (cross joins are not supported)`
        : `a join needs an equality between a column of each table in ON, e.g. ${sides[0].qualifier}.id = ${sides[1].qualifier}.id: Sluice joins by key (joins without one, such as cross joins, are not supported)`,
    );
  config.on = kept
    .map((c) => (c.kind === 'binary' && c.op === 'or' ? `(${scope.rewrite(c)})` : scope.rewrite(c)))
    .join(' AND ');
  p.locate(step, 'on', join.on.expr.start);
  if (join.type !== 'inner') {
    config.kind = join.type;
    p.locate(step, 'kind', join.start);
  }
  if (between !== undefined) config.between = between.map(signed);
  if (window !== undefined) {
    config.window = window.window;
    p.locate(step, 'window', window.at);
  }
  if (join.asOf !== undefined) {
    if (between !== undefined)
      p.fail(
        join.asOf.start,
        'a join is temporal (FOR SYSTEM_TIME AS OF) or an interval join (BETWEEN on the event times), not both',
      );
    const left = sides[0];
    const at = scope.column(join.asOf);
    if (left.relation.timeColumn === undefined)
      p.fail(
        join.asOf.start,
        `a temporal join needs event time on '${left.table}': declare WATERMARK FOR <column> AS <column> - INTERVAL 'n' SECOND in its CREATE TABLE`,
      );
    if (at === undefined || at.side !== 0 || at.column !== left.relation.timeColumn)
      p.fail(
        join.asOf.start,
        `a temporal join looks up the version valid at the left record's event time: write FOR SYSTEM_TIME AS OF ${left.qualifier}.${left.relation.timeColumn}`,
      );
    if (join.type === 'right' || join.type === 'full')
      p.fail(
        join.start,
        `a temporal join keeps the left records only: write JOIN or LEFT JOIN, not ${join.type.toUpperCase()} JOIN`,
      );
    config.temporal = true;
    p.locate(step, 'temporal', join.asOf.start);
  }

  if (q.items === undefined)
    return p.fail(
      q.start,
      `SELECT * over a join is not supported yet: list the columns, e.g. SELECT ${sides[0].qualifier}.id, …`,
    );
  if (q.groupBy !== undefined || q.items.some((i) => hasAggregate(i.expr)))
    p.fail(
      q.start,
      'aggregating a join in one query is not supported by Sluice SQL yet: make the join a view (CREATE VIEW j AS SELECT … FROM … JOIN …) and GROUP BY over the view',
    );
  const output = joinOutput(p, q, scope, q.items, target);
  const fields = Object.fromEntries(output.map((c) => [c.name, c.text]));
  const inputs = sides.map((s) => s.relation.ref);
  const updating =
    between === undefined && window === undefined && join.asOf === undefined && join.type !== 'inner'
      ? {
          offset: join.start,
          reason: `${join.type.toUpperCase()} JOIN without a condition on the event times is a regular join, whose result is a changelog: a row ${join.type === 'full' ? 'of either table' : `of '${sides[join.type === 'left' ? 0 : 1].qualifier}'`} without a match is written at once, padded with NULL, and deleted when its first match arrives`,
        }
      : undefined;
  const made = updating ? { updating } : {};
  p.locate(step, '', join.start);
  if (filters.length === 0) {
    for (const c of output) p.locate(step, `fields.${c.name}`, c.start);
    p.addStep({ id: step, type: 'join', inputs, config: { ...config, fields } });
    return {
      ref: step,
      columns: output.map((c) => c.name),
      fromSource: false,
      ...made,
      ...integralNames(output),
    };
  }
  // WHERE filters the joined pairs (each side under its input id), then the projection.
  for (const f of filters) if (hasAggregate(f)) p.fail(f.start, 'WHERE cannot hold an aggregate');
  p.addStep({ id: step, type: 'join', inputs, config });
  const after = `${id}-where`;
  const condition =
    filters.length === 1
      ? scope.rewrite(filters[0])
      : filters.map((f) => `(${scope.rewrite(f)})`).join(' AND ');
  p.addStep({ id: after, type: 'filter', inputs: [step], config: { where: condition } });
  p.locate(after, '', filters[0].start);
  p.locate(after, 'where', filters[0].start);
  const select = `${id}-select`;
  p.addStep({ id: select, type: 'map', inputs: [after], config: { select: [], fields } });
  p.locate(select, '', output[0]?.start ?? q.start);
  for (const c of output) p.locate(select, `fields.${c.name}`, c.start);
  return {
    ref: select,
    columns: output.map((c) => c.name),
    fromSource: false,
    ...made,
    ...integralNames(output),
  };
}

/**
 * A lookup join (Flink's `JOIN t FOR SYSTEM_TIME AS OF s.proc_time AS r ON f(s.x) = r.k`, Nexmark
 * q13): the `lookup` step, asking table `t` — its connector a lookup type, its WITH options that
 * type's — for the row of each record's key: the left sides of ON's equalities, over the record,
 * against the table's columns on their right sides (the lookup's `key` option, where it has one).
 * An inner JOIN drops a record without a row, a LEFT JOIN keeps it with the row's columns NULL.
 */
function planLookupJoin(
  p: JoinPlanner,
  q: Select,
  join: JoinTable,
  left: Side,
  lookup: LookupTable,
  id: string,
  source: string,
  target: Target | undefined,
): Relation {
  const as = join.right.alias?.text ?? join.right.name.text;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(as))
    p.fail(
      (join.right.alias ?? join.right.name).start,
      `a looked-up table's name or alias must be a plain name (letters, digits and '_'): write AS r`,
    );
  if (join.type !== 'inner' && join.type !== 'left')
    p.fail(
      join.start,
      `a lookup join keeps the left records only: write JOIN or LEFT JOIN, not ${join.type.toUpperCase()} JOIN`,
    );
  if (q.where !== undefined)
    p.fail(
      q.where.expr.start,
      'not supported by Sluice SQL yet: WHERE after a lookup join (filter in a query around it)',
    );
  if (q.items === undefined)
    return p.fail(
      q.start,
      `SELECT * over a join is not supported yet: list the columns, e.g. SELECT ${left.qualifier}.id, …`,
    );
  const right: Side = {
    relation: { ref: as, columns: lookup.columns, fromSource: false },
    qualifier: as,
    table: join.right.name.text,
  };
  const scope = new JoinScope(p, [left, right], source);
  const sidesOf = (e: Expr): Set<0 | 1> => {
    const found = new Set<0 | 1>();
    const visit = (x: Expr) => {
      const c = scope.column(x);
      if (c !== undefined) found.add(c.side);
      else for (const child of childrenOf(x)) visit(child);
    };
    visit(e);
    return found;
  };
  const keys: string[] = [];
  const columns: string[] = [];
  for (const c of conjuncts(join.on.expr)) {
    const pair =
      c.kind === 'binary' && c.op === '='
        ? [c.left, c.right].map((e) => ({ e, read: scope.column(e), sides: sidesOf(e) }))
        : undefined;
    const r = pair?.find((x) => x.read?.side === 1);
    const l = pair?.find((x) => x !== r && !x.sides.has(1) && x.sides.size > 0);
    if (r?.read === undefined || l === undefined)
      return p.fail(
        c.start,
        `a lookup join's ON is equalities between an expression of '${left.qualifier}' and a column of '${as}', e.g. mod(${left.qualifier}.id, 100) = ${as}.key`,
      );
    keys.push(scope.rewrite(l.e, true));
    columns.push(r.read.column);
  }
  const output = joinOutput(p, q, scope, q.items, target);
  const table: { [key: string]: unknown } = { type: lookup.type, ...lookup.config };
  if (lookup.keyOption && table.key === undefined) table.key = columns.length === 1 ? columns[0] : columns;
  const step = `${id}-lookup`;
  p.addStep({
    id: step,
    type: 'lookup',
    inputs: [left.relation.ref],
    config: {
      table,
      key: keys.length === 1 ? keys[0] : keys,
      as,
      fields: Object.fromEntries(output.map((c) => [c.name, c.text])),
      on_miss: join.type === 'left' ? 'null' : 'drop',
    },
  });
  p.locate(step, '', join.start);
  p.locate(step, 'table', lookup.at);
  for (const o of lookup.options) p.locate(step, `table.${o.path}`, o.offset);
  p.locate(step, 'key', join.on.expr.start);
  for (const c of output) p.locate(step, `fields.${c.name}`, c.start);
  return { ref: step, columns: output.map((c) => c.name), fromSource: false };
}

/**
 * A join's select list as its output columns: `t.*` stands for each column of table t, as if
 * listed (`t.col`, written where the star is); names come from aliases, else the columns read;
 * the count must match `target`'s columns and no name may repeat.
 */
function joinOutput(
  p: JoinPlanner,
  q: Select,
  scope: JoinScope,
  items: readonly SelectItem[],
  target: Target | undefined,
): OutputColumn[] {
  const listed = items.flatMap((item): SelectItem[] => {
    if (item.star === undefined) return [item];
    const star = item.star;
    const side = scope.sides.find((s) => s.qualifier === star.text);
    if (side === undefined)
      return p.fail(star.start, `FROM has no table '${star.text}'; it has ${scope.describeSides()}`);
    return side.relation.columns.map((column) => ({
      expr: {
        kind: 'member',
        object: { kind: 'field', name: star.text, start: item.expr.end, end: item.expr.end },
        name: column,
        start: item.expr.end,
        end: item.expr.end,
      },
      text: `${star.text}.${formatName(column)}`,
    }));
  });
  const output: OutputColumn[] = listed.map((item, i) => {
    const read = scope.column(item.expr);
    const name = item.alias?.text ?? read?.column ?? p.nameOf(item.expr, i, target);
    const integral =
      read !== undefined && scope.sides[read.side].relation.integral?.has(read.column) === true;
    return {
      name: target?.columns[i] ?? name,
      text: scope.rewrite(item.expr),
      start: item.expr.start,
      ...(integral ? { integral } : {}),
    };
  });
  if (target && output.length !== target.columns.length)
    p.fail(q.start, columnCountMessage(output.length, target));
  const names = new Set<string>();
  for (const c of output) {
    if (names.has(c.name))
      p.fail(c.start, `the query gives two columns named '${c.name}'; rename one with AS`);
    names.add(c.name);
  }
  return output;
}

/**
 * The `between` of an interval join, from `r.t BETWEEN l.t + lower AND l.t + upper` (or with the
 * sides swapped) on the two event-time columns; undefined for a BETWEEN that does not compare the
 * two sides, which stays a condition of ON.
 */
function intervalOf(
  p: JoinPlanner,
  scope: JoinScope,
  c: Extract<Expr, { kind: 'between' }>,
): [number, number] | undefined {
  const operand = scope.column(c.operand);
  const low = shifted(c.low);
  const high = shifted(c.high);
  const lowBase = low && scope.column(low.base);
  const highBase = high && scope.column(high.base);
  const sidesIn = new Set([operand?.side, lowBase?.side, highBase?.side].filter((s) => s !== undefined));
  if (sidesIn.size < 2) return undefined;
  if (
    operand === undefined ||
    low === undefined ||
    high === undefined ||
    lowBase === undefined ||
    highBase === undefined ||
    lowBase.side === operand.side ||
    highBase.side !== lowBase.side ||
    highBase.column !== lowBase.column
  )
    p.fail(c.start, `an interval join's condition compares the event times of the two tables: ${EXAMPLE}`);
  for (const col of [operand, lowBase]) {
    const s = scope.sides[col.side];
    if (s.relation.timeColumn === undefined)
      p.fail(
        c.start,
        `an interval join needs event time on both tables, and '${s.table}' has none: declare WATERMARK FOR <column> AS <column> - INTERVAL 'n' SECOND in its CREATE TABLE`,
      );
    if (col.column !== s.relation.timeColumn)
      p.fail(
        c.start,
        `an interval join compares event times, and that of '${s.qualifier}' comes from '${s.relation.timeColumn}' (its WATERMARK FOR): write ${s.qualifier}.${s.relation.timeColumn}`,
      );
  }
  if (low.offset > high.offset) p.fail(c.start, 'the lower bound of the interval is above its upper bound');
  // Right at s joins left at t when t + lower ≤ s ≤ t + upper; with the sides swapped, negate.
  return operand.side === 1 ? [low.offset, high.offset] : [-high.offset, -low.offset];
}

/**
 * Refuses, in SQL's words, a regular outer join written into table `table` whose sink (of spec
 * `spec`, with `config` and no `changelog` option) takes only appends; the plan check would
 * refuse it too, in YAML's.
 */
export function refuseAppendOnly(
  spec: SinkSpec | undefined,
  positions: Positions,
  updating: { reason: string; offset: number },
  table: string,
  config: { [key: string]: unknown },
): void {
  // An unknown connector is the plan check's to report.
  if (spec === undefined || (spec.changelog?.consumes(config) ?? ['append']).includes('retract')) return;
  const hint = spec.changelog?.hint
    .replaceAll('[fields]', '<columns>')
    .replace(/`(\w+): ([^`]+)`/g, "'$1' = '$2'");
  const fix = hint
    ? `have table '${table}' write the changes: in its WITH options, ${hint}`
    : `write into a table whose connector can write changes (a '${spec.type}' sink cannot)`;
  throw positions.error(
    'PLAN_CHANGELOG_MISMATCH',
    updating.offset,
    `${updating.reason}; table '${table}' (${spec.type}) takes only appends. Make it an interval join with a BETWEEN on the two event times in ON (b.t BETWEEN a.t - INTERVAL '1' MINUTE AND a.t + INTERVAL '1' MINUTE), use an inner JOIN, or ${fix}`,
  );
}
