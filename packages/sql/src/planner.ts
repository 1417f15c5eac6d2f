/**
 * The planner: statements in, the plan YAML would produce out — sources and sinks from
 * `CREATE TABLE`, and for each `INSERT INTO` the same steps a YAML pipeline would write (`filter`
 * for WHERE, `aggregate` for GROUP BY, `map` for a projection), with each expression as written in
 * the script and `Plan.locations` pointing each config path at its line and column, so that the
 * checks of `resolvePlan` (configs, types, changelogs, keys) report positions in the script.
 */

import { basename, dirname, extname, resolve } from 'node:path';
import {
  componentPath,
  didYouMean,
  type ErrorLocation,
  type Expr,
  formatDuration,
  formatExpression,
  formatName,
  isAggregateCall,
  mapChildren,
  type Plan,
  type PlanSink,
  type PlanSource,
  type PlanStep,
  type Registry,
} from '@sluice/core';
import type {
  CreateTable,
  Explain,
  Insert,
  Name,
  Over,
  Select,
  SetStatement,
  Statement,
  TableOption,
  TableRef,
} from './ast.ts';
import { type JoinPlanner, planJoin, type Relation, refuseAppendOnly } from './join.ts';
import { configFromOptions } from './options.ts';
import type { Positions } from './position.ts';
import {
  columnCountMessage,
  fieldsOf,
  hasAggregate,
  type OutputColumn,
  projection,
  type Target,
} from './projection.ts';
import { applySettings } from './settings.ts';

const ID = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const WINDOW_COLUMNS = ['window_start', 'window_end'];
/** Flink's time attribute of a window result: its last millisecond. */
const WINDOW_TIME = 'window_time';
/** The window table function of each window kind. */
const WINDOW_FUNCTIONS = {
  tumbling: 'TUMBLE',
  hopping: 'HOP',
  session: 'SESSION',
  cumulative: 'CUMULATE',
} as const;

/** A view, common table or subquery: its query, and its relation once planned. */
interface View {
  readonly select: Select;
  readonly name: Name;
  /** The prefix of its steps' ids. */
  readonly id: string;
  /** The scopes its query sees (where it was written). */
  readonly scopes: readonly Map<string, View>[];
  relation?: Relation;
}

class Planner implements JoinPlanner {
  readonly #registry: Registry;
  readonly #positions: Positions;
  readonly #tables = new Map<string, CreateTable>();
  readonly #views = new Map<string, View>();
  /**
   * The common tables and subqueries visible where the planner is, innermost last: each query
   * with a WITH or a subquery in FROM opens one while it is planned.
   */
  #scopes: Map<string, View>[] = [];
  readonly #sources = new Map<string, PlanSource>();
  readonly #steps: PlanStep[] = [];
  readonly #sinks: PlanSink[] = [];
  /** Config paths relative to a component, with the offset they came from. */
  readonly #locations: { id: string; path: string; offset: number }[] = [];

  constructor(registry: Registry, positions: Positions) {
    this.#registry = registry;
    this.#positions = positions;
  }

  fail(offset: number, message: string): never {
    throw this.#positions.error('CONFIG_INVALID', offset, message);
  }

  addStep(step: PlanStep): void {
    this.#steps.push(step);
  }

  locate(id: string, path: string, offset: number): void {
    this.#locations.push({ id, path, offset });
  }

  /**
   * The plan of the script's INSERTs or, with `explained`, of its EXPLAINs' (whose sinks'
   * ids it adds to `explained`, by statement).
   */
  plan(statements: readonly Statement[], file: string, explained?: Map<Explain, string[]>): Plan {
    for (const s of statements) {
      if (s.kind === 'set') continue;
      if (s.kind === 'explain') {
        if (explained === undefined) continue;
        const before = this.#sinks.length;
        for (const insert of s.inserts) this.insert(insert);
        explained.set(
          s,
          this.#sinks.slice(before).map((k) => k.id),
        );
        continue;
      }
      if (s.kind === 'insert' && explained !== undefined) continue;
      if (s.kind === 'create_table') this.createTable(s);
      else if (s.kind === 'create_view') {
        this.claimName(s.name);
        this.#views.set(s.name.text, { select: s.query, name: s.name, id: s.name.text, scopes: [] });
      } else this.insert(s);
    }
    if (this.#sinks.length === 0) {
      const at = statements.length > 0 ? statements[statements.length - 1].start : 0;
      this.fail(
        at,
        statements.some((s) => s.kind === 'explain')
          ? 'the script only explains: EXPLAIN prints a plan and runs nothing; add INSERT INTO <table> SELECT … FROM … to run a query'
          : 'the script writes nowhere: add INSERT INTO <table> SELECT … FROM …',
      );
    }
    const sets = statements.filter((s): s is SetStatement => s.kind === 'set');
    const { name, settings } = applySettings(sets, basename(file, extname(file)), this.#positions);
    const plan: Plan = {
      name,
      sources: [...this.#sources.values()],
      steps: this.#steps,
      sinks: this.#sinks,
      settings,
      baseDir: resolve(dirname(file)),
    };
    const locations: { [path: string]: ErrorLocation } = {};
    for (const { id, path, offset } of this.#locations) {
      const full = componentPath(plan, id, path);
      if (full !== undefined && !Object.hasOwn(locations, full)) locations[full] = this.#positions.at(offset);
    }
    return { ...plan, locations };
  }

  claimName(name: Name): void {
    if (this.#tables.has(name.text) || this.#views.has(name.text))
      this.fail(name.start, `'${name.text}' is already a table or view`);
    if (!ID.test(name.text))
      this.fail(
        name.start,
        `'${name.text}' cannot name a table or view: it names a source, sink or step of the plan, so it must start with a letter or '_' and hold only letters, digits, '_' and '-'`,
      );
  }

  createTable(t: CreateTable): void {
    this.claimName(t.name);
    const seen = new Set<string>();
    for (const c of t.columns) {
      if (seen.has(c.name.text)) this.fail(c.name.start, `column '${c.name.text}' is declared twice`);
      seen.add(c.name.text);
    }
    if (t.watermark && !seen.has(t.watermark.column.text))
      this.fail(
        t.watermark.column.start,
        this.unknown('column', t.watermark.column.text, [...seen], `table '${t.name.text}'`),
      );
    if (!t.options.some((o) => o.key === 'connector'))
      this.fail(
        t.name.start,
        `table '${t.name.text}' names no connector: add 'connector' = '<type>' to its WITH options (${this.#registry.types('source').join(', ')} to read; ${this.#registry.types('sink').join(', ')} to write)`,
      );
    this.#tables.set(t.name.text, t);
  }

  unknown(what: string, name: string, known: readonly string[], where: string): string {
    const guess = didYouMean(name, [...known]);
    return `${where} has no ${what} '${name}'${guess ? ` — did you mean '${guess}'?` : ''}; it has ${known.length > 0 ? known.map((k) => `'${k}'`).join(', ') : 'none'}`;
  }

  /** The connector option of a table, its type, and the rest of its options. */
  connector(t: CreateTable): { type: string; at: TableOption; rest: TableOption[] } {
    const at = t.options.find((o) => o.key === 'connector') as TableOption;
    return { type: String(at.value), at, rest: t.options.filter((o) => o !== at) };
  }

  /** The source of table `name`, made on its first read. */
  source(t: CreateTable): Relation {
    const id = t.name.text;
    const columns = t.columns.map((c) => c.name.text);
    const timeColumn = t.watermark?.column.text;
    if (!this.#sources.has(id)) {
      const { type, at, rest } = this.connector(t);
      const { config, placed } = configFromOptions(rest, this.#registry.source(type)?.config);
      this.locate(id, 'type', at.start);
      for (const p of placed) this.locate(id, p.path, p.option.start);
      const source: PlanSource = {
        id,
        type,
        config,
        ...(t.watermark
          ? { eventTime: { field: t.watermark.column.text, maxOutOfOrderness: t.watermark.delay } }
          : {}),
      };
      if (t.watermark) this.locate(id, 'event_time', t.watermark.start);
      this.locate(id, '', t.name.start);
      this.#sources.set(id, source);
    }
    return { ref: id, columns, ...(timeColumn ? { timeColumn } : {}), fromSource: true };
  }

  /** What FROM `name` reads: a table's source, or a view's planned query. */
  relation(name: Name): Relation {
    // A common table or subquery hides a table of its name, as in SQL.
    const table = this.#tables.get(name.text);
    const view = this.#scopes.findLast((s) => s.has(name.text))?.get(name.text) ?? this.#views.get(name.text);
    if (view) {
      if (view.relation === undefined) {
        // Planned on first use, in the scopes where it was written; a view that reads itself
        // would recurse, so mark it first.
        view.relation = { ref: '', columns: [], fromSource: false };
        const scopes = this.#scopes;
        this.#scopes = [...view.scopes];
        try {
          view.relation = this.query(view.select, view.id);
        } finally {
          this.#scopes = scopes;
        }
      } else if (view.relation.ref === '') this.fail(name.start, `view '${name.text}' reads itself`);
      return view.relation;
    }
    if (table) return this.source(table);
    return this.fail(
      name.start,
      this.unknown(
        'table or view',
        name.text,
        [
          ...new Set([
            ...this.#scopes.flatMap((s) => [...s.keys()]),
            ...this.#tables.keys(),
            ...this.#views.keys(),
          ]),
        ],
        'the script',
      ),
    );
  }

  insert(s: Insert): void {
    const table = this.#tables.get(s.sink.text);
    if (table === undefined) {
      if (this.#views.has(s.sink.text))
        this.fail(
          s.sink.start,
          `'${s.sink.text}' is a view; INSERT INTO needs a table created WITH a sink connector`,
        );
      this.fail(s.sink.start, this.unknown('table', s.sink.text, [...this.#tables.keys()], 'the script'));
    }
    if (this.#sinks.some((k) => k.id === table.name.text || k.id === `${table.name.text}-sink`))
      this.fail(
        s.start,
        `INSERT INTO ${s.sink.text} appears twice; to write several queries into one table, INSERT their UNION ALL`,
      );
    const columns = table.columns.map((c) => c.name.text);
    const relation = this.query(s.query, table.name.text, { columns, table: s.sink });
    // A table both read and written is a source and a sink; ids are unique in a plan.
    const id = this.#sources.has(table.name.text) ? `${table.name.text}-sink` : table.name.text;
    const { type, at, rest } = this.connector(table);
    const { config, placed } = configFromOptions(rest, this.#registry.sink(type)?.config);
    if (relation.updating && !Object.hasOwn(config, 'changelog'))
      refuseAppendOnly(
        this.#registry.sink(type),
        this.#positions,
        relation.updating,
        table.name.text,
        config,
      );
    this.#sinks.push({ id, type, input: relation.ref, config });
    this.locate(id, '', s.start);
    this.locate(id, 'type', at.start);
    for (const p of placed) this.locate(id, p.path, p.option.start);
  }

  /** Checks that every field `e` reads is one of `columns`. */
  checkColumns(e: Expr, columns: readonly string[], where: string): void {
    for (const f of fieldsOf(e)) {
      if (f.kind === 'field' && !columns.includes(f.name))
        this.fail(f.start, this.unknown('column', f.name, columns, where));
    }
  }

  /**
   * Plans a query: its steps are named `<id>-where`, `<id>-aggregate` and `<id>-select`. With
   * `target` (an INSERT), the output takes the target table's column names, by position.
   */
  query(q: Select, id: string, target?: Target): Relation {
    const local = new Map<string, View>();
    const scopes = this.#scopes;
    for (const c of q.with ?? []) {
      this.checkLocalName(c.name, local);
      local.set(c.name.text, {
        select: c.query,
        name: c.name,
        id: `${id}-${c.name.text}`,
        scopes: [...scopes, local],
      });
    }
    const from =
      q.from.kind === 'join' ? [q.from.left, q.from.right] : q.from.kind === 'table' ? [q.from] : [];
    for (const ref of from)
      if (ref.query !== undefined) {
        this.checkLocalName(ref.name, local);
        local.set(ref.name.text, {
          select: ref.query,
          name: ref.name,
          id: `${id}-${ref.name.text}`,
          scopes: [...scopes, local],
        });
      }
    if (local.size === 0) return q.unionAll ? this.union(q, id, target) : this.select(q, id, target);
    this.#scopes = [...scopes, local];
    try {
      return q.unionAll ? this.union(q, id, target) : this.select(q, id, target);
    } finally {
      this.#scopes = scopes;
    }
  }

  /** Checks the name of a common table or subquery: unique in its query, and usable as an id. */
  checkLocalName(name: Name, local: ReadonlyMap<string, View>): void {
    if (local.has(name.text))
      this.fail(name.start, `'${name.text}' names two common tables or subqueries of one query`);
    if (!ID.test(name.text))
      this.fail(
        name.start,
        `'${name.text}' cannot name a common table or subquery: it names steps of the plan, so it must start with a letter or '_' and hold only letters, digits, '_' and '-'`,
      );
  }

  /**
   * UNION ALL: each query planned on its own (as `<id>-union<n>`), the first with the INSERT's
   * target if any and each later one with the first one's column names (by position, as an
   * INSERT's), then merged by a `union` step.
   */
  union(q: Select, id: string, target: Target | undefined): Relation {
    const { unionAll: _, with: __, ...first } = q;
    const head = this.query(first, `${id}-union1`, target);
    const columns = head.columns;
    const planned = [
      { relation: head },
      ...(q.unionAll ?? []).map((part, i) => ({
        relation: this.query(part, `${id}-union${i + 2}`, {
          columns,
          table: { text: '', start: q.start },
          union: true,
        }),
      })),
    ];
    const inputs = planned.map(({ relation }) => relation.ref);
    const step = `${id}-union`;
    this.#steps.push({ id: step, type: 'union', inputs, config: {} });
    this.locate(step, '', q.start);
    const time = planned[0].relation.timeColumn;
    const updating = planned.find((p) => p.relation.updating)?.relation.updating;
    const relation: Relation = {
      ref: step,
      columns,
      ...(time !== undefined && planned.every((p) => p.relation.timeColumn === time)
        ? { timeColumn: time }
        : {}),
      fromSource: false,
      ...(updating ? { updating } : {}),
    };
    return relation;
  }

  /** Plans one SELECT; see `query`. */
  select(q: Select, id: string, target?: Target): Relation {
    if (q.from.kind === 'table' && q.from.query?.items?.some((i) => i.over !== undefined))
      return this.rank(q, q.from, id, target);
    const over = q.items?.find((i) => i.over !== undefined);
    if (over !== undefined)
      this.fail(
        over.expr.start,
        `ROW_NUMBER() is planned as Flink plans it, for top-N and deduplication: SELECT … FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY c DESC) AS rn FROM t) WHERE rn <= N`,
      );
    if (q.starWith)
      this.fail(
        q.start,
        'SELECT *, … is planned only with ROW_NUMBER() (top-N and deduplication): list the columns',
      );
    if (q.having && q.groupBy === undefined && !(q.items ?? []).some((i) => hasAggregate(i.expr)))
      this.fail(
        q.having.expr.start,
        'HAVING filters the results of a GROUP BY or of aggregates: add GROUP BY',
      );
    if (q.from.kind === 'join') return planJoin(this, q, q.from, id, this.#positions.text, target);
    const window = q.from.kind === 'window' ? q.from : undefined;
    const input = this.relation(q.from.kind === 'window' ? q.from.table : q.from.name);
    const where = `'${q.from.kind === 'window' ? q.from.table.text : q.from.name.text}'`;
    if (window) {
      if (input.timeColumn === undefined)
        this.fail(
          window.start,
          `${WINDOW_FUNCTIONS[window.type]} needs event time, and ${where} has none: declare WATERMARK FOR <column> AS <column> - INTERVAL 'n' SECOND in its CREATE TABLE`,
        );
      if (window.timeColumn.text !== input.timeColumn)
        this.fail(
          window.timeColumn.start,
          `windows follow the event time of ${where}, which comes from '${input.timeColumn}' (its WATERMARK FOR): write DESCRIPTOR(${input.timeColumn})`,
        );
      if (window.slide !== undefined && window.size % window.slide !== 0)
        this.fail(
          window.start,
          `${WINDOW_FUNCTIONS[window.type]}'s ${window.type === 'hopping' ? 'size' : 'max_size'} (${formatDuration(window.size)}) must be a whole multiple of its ${window.type === 'hopping' ? 'slide' : 'step'} (${formatDuration(window.slide)})`,
        );
      for (const c of window.partitionBy ?? [])
        if (!input.columns.includes(c.text))
          this.fail(c.start, this.unknown('column', c.text, input.columns, where));
    }
    const columns = window ? [...input.columns, ...WINDOW_COLUMNS, WINDOW_TIME] : input.columns;
    let ref = input.ref;
    if (q.where) {
      this.checkColumns(q.where.expr, input.columns, where);
      if (hasAggregate(q.where.expr))
        this.fail(
          q.where.expr.start,
          'WHERE cannot hold an aggregate: filter the results of a GROUP BY with HAVING',
        );
      const step = `${id}-where`;
      this.#steps.push({ id: step, type: 'filter', inputs: [ref], config: { where: q.where.text } });
      this.locate(step, '', q.where.expr.start);
      this.locate(step, 'where', q.where.expr.start);
      ref = step;
    }
    for (const item of q.items ?? []) this.checkColumns(item.expr, columns, where);
    for (const g of q.groupBy ?? []) this.checkColumns(g.expr, columns, where);
    const aggregating = q.groupBy !== undefined || (q.items ?? []).some((i) => hasAggregate(i.expr));
    if (window && !aggregating)
      this.fail(
        window.start,
        'a window table function needs GROUP BY window_start, window_end (window aggregation); other uses are not supported yet',
      );
    let output: OutputColumn[];
    let outputRef = ref;
    let copiesFrom: readonly string[];
    if (aggregating) {
      const planned = this.aggregate(q, id, ref, window !== undefined, target);
      output = planned.output;
      outputRef = planned.ref;
      copiesFrom = planned.columns;
    } else {
      output =
        q.items === undefined
          ? input.columns.map((c) => ({ name: c, copies: c, text: formatName(c), start: q.start }))
          : q.items.map((item, i) => ({
              name:
                item.alias?.text ??
                (item.expr.kind === 'field' ? item.expr.name : this.nameOf(item.expr, i, target)),
              ...(item.expr.kind === 'field' ? { copies: item.expr.name } : {}),
              text: item.text,
              start: item.expr.start,
            }));
      copiesFrom = input.columns;
    }
    if (target) {
      if (output.length !== target.columns.length)
        this.fail(q.start, columnCountMessage(output.length, target));
      output = output.map((c, i) => ({ ...c, name: target.columns[i] }));
    }
    const names = new Set<string>();
    for (const c of output) {
      if (names.has(c.name))
        this.fail(c.start, `the query gives two columns named '${c.name}'; rename one with AS`);
      names.add(c.name);
    }
    const timeColumn =
      !aggregating && input.timeColumn !== undefined
        ? output.find((c) => c.copies === input.timeColumn && c.name === input.timeColumn)?.name
        : undefined;
    const unchanged =
      output.length === copiesFrom.length &&
      output.every((c, i) => c.copies === copiesFrom[i] && c.name === copiesFrom[i]) &&
      !(input.fromSource && !aggregating);
    if (!unchanged) outputRef = this.project(output, `${id}-select`, outputRef);
    if (q.distinct)
      outputRef = this.distinct(q, id, outputRef, output, input.updating ?? (aggregating && !window));
    return {
      ref: outputRef,
      columns: output.map((c) => c.name),
      ...(timeColumn ? { timeColumn } : {}),
      fromSource: false,
    };
  }

  /**
   * Flink's top-N and deduplication: `SELECT … FROM (SELECT …, ROW_NUMBER() OVER (PARTITION BY k
   * ORDER BY o) AS rn FROM t) WHERE rn <= N`. Ordered by the event-time column or PROCTIME()
   * alone, with `rn = 1` and the row number not selected, it is a `deduplicate` (ASC keeps the
   * first row, DESC the last); otherwise a `top_n`, which writes the row number into `rn` when
   * the outer query selects it (so rows whose rank moves are updated, as in Flink).
   */
  rank(outer: Select, ref: TableRef, id: string, target: Target | undefined): Relation {
    const inner = ref.query as Select;
    const items = inner.items ?? [];
    const overs = items.filter((i) => i.over !== undefined);
    if (overs.length > 1) this.fail(overs[1].expr.start, 'a query can hold one ROW_NUMBER() OVER (…)');
    const item = overs[0];
    const over = item.over as Over;
    if (item.alias === undefined)
      this.fail(item.expr.start, 'name the row number with AS, e.g. ROW_NUMBER() OVER (…) AS rn');
    const rn = item.alias.text;
    if (inner.groupBy !== undefined || items.some((i) => hasAggregate(i.expr)) || inner.distinct)
      this.fail(
        inner.start,
        'ROW_NUMBER() ranks the rows of a query without GROUP BY or DISTINCT: aggregate in a view or subquery first, and rank its rows',
      );
    const rest = items.filter((i) => i !== item);
    const plain: Select = inner.starWith
      ? (() => {
          if (rest.length > 0)
            this.fail(
              rest[0].expr.start,
              'with SELECT *, ROW_NUMBER() … list no other column: list them all instead of *',
            );
          const { items: _, starWith: __, ...others } = inner;
          return others;
        })()
      : { ...inner, items: rest };
    const input = this.query(plain, `${id}-${ref.name.text}`);
    if (input.updating)
      this.fail(
        over.start,
        `ROW_NUMBER() ranks an append-only stream, and this one is updating: ${input.updating.reason}`,
      );
    const where = `the query of ROW_NUMBER()`;
    for (const p of over.partitionBy) this.checkColumns(p.expr, input.columns, where);
    for (const o of over.orderBy)
      if (!(o.expr.kind === 'call' && o.expr.name === 'proctime'))
        this.checkColumns(o.expr, input.columns, where);
    if (outer.where === undefined)
      this.fail(
        outer.start,
        `ROW_NUMBER() is planned as top-N or deduplication: keep the first rows with WHERE ${rn} <= N (or ${rn} = 1)`,
      );
    const n = this.rowLimit(outer.where.expr, rn);
    const selected =
      outer.items === undefined ||
      outer.items.some((i) => fieldsOf(i.expr).some((f) => f.kind === 'field' && f.name === rn));
    const term = over.orderBy.length === 1 ? over.orderBy[0] : undefined;
    const proctime = over.orderBy.find((o) => o.expr.kind === 'call' && o.expr.name === 'proctime');
    const byTime =
      term !== undefined &&
      (term === proctime || (term.expr.kind === 'field' && term.expr.name === input.timeColumn));
    const key = over.partitionBy.length > 0 ? { key: over.partitionBy.map((p) => p.text) } : {};
    let step: string;
    let columns = input.columns;
    if (byTime && n === 1 && !selected) {
      step = `${id}-deduplicate`;
      const config = {
        ...key,
        keep: term.descending ? 'last' : 'first',
        time: term === proctime ? 'processing' : 'event',
      };
      this.#steps.push({ id: step, type: 'deduplicate', inputs: [input.ref], config });
    } else {
      if (proctime !== undefined)
        this.fail(
          proctime.expr.start,
          `ORDER BY PROCTIME() is planned for deduplication only: ORDER BY PROCTIME() alone, WHERE ${rn} = 1, and ${rn} not selected`,
        );
      step = `${id}-top-n`;
      const config = {
        ...key,
        order_by: over.orderBy.map((o) => (o.descending ? `${o.text} DESC` : o.text)),
        n,
        ...(selected ? { rank_field: rn } : {}),
      };
      this.#steps.push({ id: step, type: 'top_n', inputs: [input.ref], config });
      if (selected) {
        // The step writes the rank last; the query has it where ROW_NUMBER() stands.
        const at = inner.starWith ? input.columns.length : items.indexOf(item);
        columns = [...input.columns.slice(0, at), rn, ...input.columns.slice(at)];
        if (at < input.columns.length)
          step = this.project(
            columns.map((c) => ({ name: c, copies: c, text: formatName(c), start: item.expr.start })),
            `${id}-rank`,
            step,
          );
      }
    }
    this.locate(step, '', over.start);
    const ranked: View = {
      select: inner,
      name: ref.name,
      id: step,
      scopes: [],
      relation: {
        ref: step,
        columns,
        ...(input.timeColumn ? { timeColumn: input.timeColumn } : {}),
        fromSource: false,
      },
    };
    const scopes = this.#scopes;
    this.#scopes = [...scopes, new Map([[ref.name.text, ranked]])];
    try {
      const { where: _, ...rest } = outer;
      return this.select({ ...rest, from: { kind: 'table', name: ref.name } }, id, target);
    } finally {
      this.#scopes = scopes;
    }
  }

  /** N of `rn <= N`, `rn < N + 1` or `rn = 1` (either side), the only filters of a row number planned. */
  rowLimit(e: Expr, rn: string): number {
    const shape = `write WHERE ${rn} <= N (top-N) or WHERE ${rn} = 1`;
    if (e.kind === 'binary') {
      const flipped: { [op: string]: string } = { '<=': '>=', '<': '>', '=': '=', '>=': '<=', '>': '<' };
      const [op, column, bound] =
        e.left.kind === 'field' && e.left.name === rn
          ? [e.op, e.left, e.right]
          : e.right.kind === 'field' && e.right.name === rn
            ? [flipped[e.op], e.right, e.left]
            : [undefined, undefined, undefined];
      if (
        column !== undefined &&
        bound.kind === 'literal' &&
        typeof bound.value === 'number' &&
        Number.isInteger(bound.value)
      ) {
        const n =
          op === '<='
            ? bound.value
            : op === '<'
              ? bound.value - 1
              : op === '=' && bound.value === 1
                ? 1
                : undefined;
        if (n !== undefined && n >= 1) return n;
      }
    }
    return this.fail(
      e.start,
      `the filter of a row number must keep its first rows: ${shape}, and filter other columns in a query around it`,
    );
  }

  /**
   * `SELECT DISTINCT`: a `deduplicate` keeping the first row of each combination of all the
   * columns, so a row passes the first time it occurs. Rows equal in every column are one row,
   * so which of them arrives first does not matter, and processing time keeps the output
   * append-only without waiting for a watermark.
   */
  distinct(q: Select, id: string, input: string, output: readonly OutputColumn[], updating: unknown): string {
    if (updating)
      this.fail(
        q.start,
        'SELECT DISTINCT over an updating result (a GROUP BY without a window, or a regular join) is not supported yet: its rows can be retracted',
      );
    const step = `${id}-distinct`;
    this.#steps.push({
      id: step,
      type: 'deduplicate',
      inputs: [input],
      config: { key: output.map((c) => formatName(c.name)), keep: 'first', time: 'processing' },
    });
    this.locate(step, '', q.start);
    return step;
  }

  /**
   * The name of an unnamed computed column: in an INSERT, the target column at its position (as
   * Flink writes columns by position); elsewhere (a view) it needs AS.
   */
  nameOf(e: Expr, position: number, target: { columns: readonly string[] } | undefined): string {
    const name = target?.columns[position];
    return name ?? this.fail(e.start, 'name this column with AS, e.g. price * 2 AS doubled');
  }

  /** A `map` that gives exactly the columns `output`, in order. */
  project(output: readonly OutputColumn[], id: string, input: string): string {
    const { config, paths } = projection(output);
    this.#steps.push({ id, type: 'map', inputs: [input], config });
    this.locate(id, '', output[0]?.start ?? 0);
    for (const [path, offset] of paths) this.locate(id, path, offset);
    return id;
  }

  /** The `aggregate` step of a GROUP BY; returns its output columns as the SELECT names them. */
  aggregate(
    q: Select,
    id: string,
    input: string,
    windowed: boolean,
    target: { columns: readonly string[] } | undefined,
  ): { ref: string; output: OutputColumn[]; columns: string[] } {
    if (q.items === undefined)
      return this.fail(q.start, 'SELECT * cannot be grouped: list the GROUP BY columns and the aggregates');
    const keys: string[] = [];
    const groupWindow = new Set<string>();
    const step = `${id}-aggregate`;
    (q.groupBy ?? []).forEach((g) => {
      if (g.expr.kind !== 'field')
        this.fail(
          g.expr.start,
          'GROUP BY takes columns; to group by a computed value, compute it in a view first',
        );
      if (WINDOW_COLUMNS.includes(g.expr.name) || g.expr.name === WINDOW_TIME) groupWindow.add(g.expr.name);
      else {
        this.locate(step, `key[${keys.length}]`, g.expr.start);
        keys.push(g.expr.name);
      }
    });
    const window = q.from.kind === 'window' ? q.from : undefined;
    if (window && !WINDOW_COLUMNS.every((c) => groupWindow.has(c)))
      this.fail(
        q.groupBy?.[0]?.expr.start ?? q.start,
        'a window aggregation groups by window_start and window_end: add both to GROUP BY',
      );
    const passing = [...keys, ...(windowed ? WINDOW_COLUMNS : [])];
    const fields: { [name: string]: string } = {};
    /** The fields the select list computes, by their expression's canonical text. */
    const computed = new Map<string, string>();
    const output: OutputColumn[] = [];
    for (const [position, item] of q.items.entries()) {
      const e = item.expr;
      if (e.kind === 'field' && passing.includes(e.name)) {
        output.push({ name: item.alias?.text ?? e.name, copies: e.name, text: item.text, start: e.start });
        continue;
      }
      if (windowed && e.kind === 'field' && e.name === WINDOW_TIME) {
        // window_time is window_end - 1 ms, the event time the aggregate gives each result;
        // the projection after the aggregate computes it.
        output.push({ name: item.alias?.text ?? WINDOW_TIME, text: 'window_end - 1', start: e.start });
        continue;
      }
      for (const f of fieldsOf(e, [], true))
        if (f.kind === 'field' && f.name === WINDOW_TIME)
          this.fail(
            f.start,
            'window_time can be selected as a column of its own only (it is window_end - 1)',
          );
        else if (f.kind === 'field' && !passing.includes(f.name))
          this.fail(
            f.start,
            `column '${f.name}' is neither in GROUP BY nor inside an aggregate such as first(${f.name})`,
          );
      const name = item.alias?.text ?? this.nameOf(e, position, target);
      if (passing.includes(name) || Object.hasOwn(fields, name))
        this.fail(
          item.alias?.start ?? e.start,
          `the query gives two columns named '${name}'; rename one with AS`,
        );
      fields[name] = item.text;
      computed.set(formatExpression(e), name);
      this.locate(step, `fields.${name}`, e.start);
      output.push({ name, copies: name, text: formatName(name), start: e.start });
    }
    const config: { [key: string]: unknown } = { ...(keys.length > 0 ? { key: keys } : {}), fields };
    if (window) {
      if (window.type === 'session') {
        // The engine keeps the sessions of each aggregate key, Flink those of each PARTITION BY
        // key: the two agree when they are the same columns.
        const partition = (window.partitionBy ?? []).map((c) => c.text);
        if (partition.length !== keys.length || !partition.every((c) => keys.includes(c)))
          this.fail(
            q.groupBy?.[0]?.expr.start ?? q.start,
            `a SESSION window aggregation groups by the session's PARTITION BY columns (${partition.length > 0 ? partition.join(', ') : 'none'}) and window_start, window_end; GROUP BY ${keys.length > 0 ? keys.join(', ') : 'no other column'} would split or merge the sessions`,
          );
      }
      config.window =
        window.type === 'tumbling'
          ? { type: 'tumbling', size: formatDuration(window.size) }
          : window.type === 'hopping'
            ? {
                type: 'hopping',
                size: formatDuration(window.size),
                slide: formatDuration(window.slide ?? window.size),
              }
            : window.type === 'session'
              ? { type: 'session', gap: formatDuration(window.size) }
              : {
                  type: 'cumulative',
                  size: formatDuration(window.size),
                  step: formatDuration(window.slide ?? window.size),
                };
      this.locate(step, 'window', window.start);
    }
    this.#steps.push({ id: step, type: 'aggregate', inputs: [input], config });
    this.locate(step, '', q.start);
    const ref = q.having ? this.having(q.having.expr, id, step, passing, fields, computed) : step;
    return { ref, output, columns: [...passing, ...Object.keys(fields)] };
  }

  /**
   * HAVING: a `filter` after the aggregate. Each aggregate call of the condition is a field the
   * select list computes already, or one the aggregate computes for it (named `_having_<n>`,
   * dropped by the projection after); the filter reads those fields and the GROUP BY columns.
   */
  having(
    condition: Expr,
    id: string,
    input: string,
    passing: readonly string[],
    fields: { [name: string]: string },
    computed: ReadonlyMap<string, string>,
  ): string {
    for (const f of fieldsOf(condition, [], true))
      if (f.kind === 'field' && !passing.includes(f.name))
        this.fail(
          f.start,
          `HAVING reads column '${f.name}', which is neither in GROUP BY nor inside an aggregate such as max(${f.name})`,
        );
    const aggregate = `${id}-aggregate`;
    let n = 0;
    const replace = (e: Expr): Expr => {
      if (!isAggregateCall(e)) return mapChildren(e, replace);
      const same = computed.get(formatExpression(e));
      if (same !== undefined) return { kind: 'field', name: same, start: e.start, end: e.end };
      let name = `_having_${++n}`;
      while (Object.hasOwn(fields, name) || passing.includes(name)) name = `_having_${++n}`;
      fields[name] = formatExpression(e);
      this.locate(aggregate, `fields.${name}`, e.start);
      return { kind: 'field', name, start: e.start, end: e.end };
    };
    const where = formatExpression(replace(condition));
    const step = `${id}-having`;
    this.#steps.push({ id: step, type: 'filter', inputs: [input], config: { where } });
    this.locate(step, '', condition.start);
    this.locate(step, 'where', condition.start);
    return step;
  }
}

/** Plans parsed statements; see the file comment. */
export function planStatements(
  statements: readonly Statement[],
  file: string,
  registry: Registry,
  positions: Positions,
  explained?: Map<Explain, string[]>,
): Plan {
  return new Planner(registry, positions).plan(statements, file, explained);
}
