/**
 * The planner: statements in, the plan YAML would produce out — sources and sinks from
 * `CREATE TABLE`, and for each `INSERT INTO` the same steps a YAML pipeline would write (`filter`
 * for WHERE, `aggregate` for GROUP BY, `map` for a projection), with each expression as written in
 * the script and `Plan.locations` pointing each config path at its line and column, so that the
 * checks of `resolvePlan` (configs, types, changelogs, keys) report positions in the script.
 */

import { basename, dirname, extname, resolve } from 'node:path';
import {
  childrenOf,
  componentPath,
  didYouMean,
  type ErrorLocation,
  type Expr,
  formatDuration,
  formatExpression,
  formatName,
  isAggregateCall,
  isUserAggregate,
  isUserFunction,
  mapChildren,
  type Plan,
  type PlanSink,
  type PlanSource,
  type PlanStep,
  type Registry,
  resolvePlan,
  tableFunction,
} from '@sluice/core';
import { cascadedWindow, planAggregate, planDistinct, WINDOW_COLUMNS, WINDOW_TIME } from './aggregate.ts';
import type {
  CreateFunction,
  CreateTable,
  Explain,
  Insert,
  JoinTable,
  Name,
  Select,
  SetStatement,
  Statement,
  TableOption,
  TableRef,
  WindowTable,
} from './ast.ts';
import { fuseSteps } from './fuse.ts';
import { simplifyUnderFilters } from './implied.ts';
import { integralColumns, isIntegral } from './integral.ts';
import { planJoin, refuseAppendOnly } from './join.ts';
import { planLateral } from './lateral.ts';
import { planMatchRecognize } from './match-planner.ts';
import { Models } from './model.ts';
import { configFromOptions, type PlacedOption } from './options.ts';
import { planOrderLimit } from './order-limit.ts';
import { hasOverAggregate, isRowNumber, planOver } from './over.ts';
import type { Positions } from './position.ts';
import { procTimeColumnOf } from './proctime.ts';
import {
  columnCountMessage,
  fieldsOf,
  hasAggregate,
  integralNames,
  type OutputColumn,
  projection,
  type Target,
} from './projection.ts';
import { pruneColumns } from './prune.ts';
import type { LookupTable, QueryPlanner, Relation } from './query-planner.ts';
import { planRank } from './rank.ts';
import { applySettings } from './settings.ts';
import { shareExpressions } from './shared-expressions.ts';
import { checkUnionTypes, planUnionDistinct, setOperationWords } from './union.ts';

const ID = /^[A-Za-z_][A-Za-z0-9_-]*$/;
/** The window table function of each window kind. */
const WINDOW_FUNCTIONS = {
  tumbling: 'TUMBLE',
  hopping: 'HOP',
  session: 'SESSION',
  cumulative: 'CUMULATE',
} as const;

/**
 * Whether a step keeps the state of its keys for the life of the job unless given a `ttl`: an
 * aggregate without a window, a top-N, a deduplication, a regular join, an OVER aggregate but
 * over a bounded RANGE (the other joins and the windows forget by the watermark).
 */
function keepsStateForever(step: PlanStep): boolean {
  const c = step.config as {
    window?: unknown;
    between?: unknown;
    temporal?: unknown;
    rows?: unknown;
    range?: unknown;
  };
  switch (step.type) {
    case 'over_aggregate':
      // A RANGE frame over time forgets its rows, and its keys, as time passes them.
      return !(c.rows === undefined && typeof c.range === 'string' && c.range !== 'unbounded');
    case 'aggregate':
      return c.window === undefined;
    case 'top_n':
    case 'deduplicate':
      return true;
    case 'join':
      return c.between === undefined && c.window === undefined && c.temporal !== true;
    default:
      return false;
  }
}

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

class Planner implements QueryPlanner {
  readonly #registry: Registry;
  readonly #positions: Positions;
  readonly #tables = new Map<string, CreateTable>();
  readonly #views = new Map<string, View>();
  readonly #models: Models;
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
    this.#models = new Models(this, registry, (offset) => {
      const { line, column } = positions.at(offset);
      return `line ${line}, column ${column}`;
    });
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
      if (s.kind === 'create_function') this.createFunction(s);
      else if (s.kind === 'create_table') this.createTable(s);
      else if (s.kind === 'create_model') {
        this.claimName(s.name);
        this.#models.declare(s);
      } else if (s.kind === 'create_view') {
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
    const { name, settings, stateTtl } = applySettings(sets, basename(file, extname(file)), this.#positions);
    if (stateTtl !== undefined)
      for (const step of this.#steps)
        if (keepsStateForever(step)) (step.config as { ttl?: string }).ttl ??= stateTtl;
    const planned = this.withLocations({
      name,
      sources: [...this.#sources.values()],
      steps: this.#steps,
      sinks: this.#sinks,
      settings,
      baseDir: resolve(dirname(file)),
    });
    const steps = [...this.#steps];
    fuseSteps(steps, this.#sinks);
    // A CASE decided under a filter may be a copy of a field now, which lets its map fuse with the next.
    let simplified = false;
    while (simplifyUnderFilters(steps)) {
      simplified = true;
      fuseSteps(steps, this.#sinks);
    }
    if (shareExpressions(steps, this.#sinks)) simplified = true;
    if (pruneColumns(steps, planned, this.#registry)) simplified = true;
    if (steps.length === this.#steps.length && !simplified) return planned;
    // Fused steps hold expressions from several places of the script, so an error in one would
    // point at the wrong place: a plan that does not resolve is given unfused, for resolution
    // to report its errors where they are written.
    try {
      resolvePlan(planned, this.#registry);
      const fused = this.withLocations({ ...planned, steps });
      resolvePlan(fused, this.#registry);
      return fused;
    } catch {
      return planned;
    }
  }

  /** `plan` with its `locations`: each config path the planner located, at its line and column. */
  withLocations(plan: Plan): Plan {
    const locations: { [path: string]: ErrorLocation } = {};
    for (const { id, path, offset } of this.#locations) {
      const full = componentPath(plan, id, path);
      if (full !== undefined && !Object.hasOwn(locations, full)) locations[full] = this.#positions.at(offset);
    }
    return { ...plan, locations };
  }

  /**
   * `CREATE FUNCTION name AS '…'`: the function must be defined from TypeScript
   * (`defineFunction`), since Sluice runs no Java; its expressions then call it as any function.
   */
  createFunction(s: CreateFunction): void {
    const name = s.name.text.toLowerCase();
    if (isUserFunction(name) || isUserAggregate(name) || tableFunction(name) !== undefined) return;
    this.fail(
      s.name.start,
      `function '${s.name.text}' is not defined: Sluice runs no Java class; define it from TypeScript before compiling the script, e.g. defineFunction({ name: '${name}', params: ['string'], returns: 'number', impl: (s) => … }) from @sluice/core (defineAggregateFunction for an aggregate, defineTableFunction for a table function)`,
    );
  }

  claimName(name: Name): void {
    if (this.#tables.has(name.text) || this.#views.has(name.text) || this.#models.has(name.text))
      this.fail(name.start, `'${name.text}' is already a table, view or model`);
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
    const key = new Set<string>();
    for (const k of t.primaryKey?.columns ?? []) {
      const column = t.columns.find((c) => c.name.text === k.text);
      if (column === undefined)
        this.fail(k.start, this.unknown('column', k.text, [...seen], `table '${t.name.text}'`));
      if (column.computed || column.metadata)
        this.fail(
          k.start,
          `the primary key of table '${t.name.text}' is made of physical columns; '${k.text}' is ${column.computed ? 'a computed' : 'a METADATA'} column`,
        );
      if (key.has(k.text)) this.fail(k.start, `column '${k.text}' is twice in the primary key`);
      key.add(k.text);
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

  declaredColumns(name: Name): readonly { name: string; type: string }[] | undefined {
    if (this.#scopes.some((s) => s.has(name.text)) || this.#views.has(name.text)) return undefined;
    return this.#tables.get(name.text)?.columns.map((c) => ({ name: c.name.text, type: c.type }));
  }

  lookupTable(name: Name): LookupTable | undefined {
    if (this.#scopes.some((s) => s.has(name.text)) || this.#views.has(name.text)) return undefined;
    const t = this.#tables.get(name.text);
    if (t === undefined) return undefined;
    const { type, at, rest } = this.connector(t);
    const spec = this.#registry.lookup(type);
    if (spec === undefined) return undefined;
    const { config, placed } = configFromOptions(rest, spec.config);
    const properties = (spec.config as { properties?: { [key: string]: unknown } }).properties;
    return {
      type,
      config,
      columns: t.columns.map((c) => c.name.text),
      keyOption: properties?.key !== undefined,
      at: at.start,
      options: placed.map((p) => ({ path: p.path, offset: p.option.start })),
    };
  }

  /** The connector option of a table, its type, and the rest of its options. */
  connector(t: CreateTable): { type: string; at: TableOption; rest: TableOption[] } {
    const at = t.options.find((o) => o.key === 'connector') as TableOption;
    return { type: String(at.value), at, rest: t.options.filter((o) => o !== at) };
  }

  /**
   * The source of table `name`, made on its first read; with computed columns, the `map`
   * (`<table>-columns`) after it that gives every declared column, in order.
   */
  source(t: CreateTable): Relation {
    const id = t.name.text;
    const columns = t.columns.map((c) => c.name.text);
    const timeColumn = t.watermark?.column.text;
    const { type, at, rest } = this.connector(t);
    const spec = this.#registry.source(type);
    const computed = new Map(t.columns.flatMap((c) => (c.computed ? [[c.name.text, c.computed]] : [])));
    const metadata = new Map(
      t.columns.flatMap((c) =>
        c.metadata ? [[c.name.text, this.metadata(t, c.name, c.metadata, type)]] : [],
      ),
    );
    const physical = t.columns.filter((c) => !c.computed && !c.metadata).map((c) => c.name.text);
    for (const c of computed.values())
      this.checkColumns(c.expr, physical, `table '${id}' (a computed column reads its physical columns)`);
    if (t.primaryKey !== undefined && spec !== undefined && spec.changelog === undefined)
      this.fail(
        t.primaryKey.start,
        `table '${id}' is read by a '${type}' source, whose records are appends, not a table's changes: a PRIMARY KEY on a table read declares the key of the changes a source reads (${this.changelogSources().join(', ') || 'no source type here reads them'}); remove it`,
      );
    // `pt AS PROCTIME()`: the processing-time attribute, the clock when the row is read.
    const procTimeColumn = procTimeColumnOf(this, t);
    const timeExpression =
      timeColumn !== undefined ? (computed.get(timeColumn) ?? metadata.get(timeColumn)) : undefined;
    if (!this.#sources.has(id)) {
      const { config, placed } = configFromOptions(rest, spec?.config);
      for (const c of t.columns)
        if (c.metadata)
          this.require(
            t,
            `the METADATA column '${c.name.text}'`,
            spec?.metadata?.[c.metadata.key]?.requires,
            config,
            placed,
          );
      this.locate(id, 'type', at.start);
      for (const p of placed) this.locate(id, p.path, p.option.start);
      const source: PlanSource = {
        id,
        type,
        config,
        ...(t.watermark
          ? {
              eventTime: timeExpression
                ? { expression: timeExpression.text, maxOutOfOrderness: t.watermark.delay }
                : { field: t.watermark.column.text, maxOutOfOrderness: t.watermark.delay },
            }
          : {}),
      };
      if (t.watermark) this.locate(id, 'event_time', t.watermark.start);
      this.locate(id, '', t.name.start);
      this.#sources.set(id, source);
      if (computed.size > 0 || metadata.size > 0)
        this.project(
          t.columns.map((c) =>
            c.computed
              ? {
                  name: c.name.text,
                  text: c.name.text === procTimeColumn ? 'now()' : c.computed.text,
                  start: c.computed.expr.start,
                }
              : c.metadata
                ? { name: c.name.text, text: metadata.get(c.name.text)?.text ?? '', start: c.metadata.start }
                : {
                    name: c.name.text,
                    copies: c.name.text,
                    text: formatName(c.name.text),
                    start: c.name.start,
                  },
          ),
          `${id}-columns`,
          id,
        );
    }
    if (computed.size > 0 || metadata.size > 0)
      return {
        ref: `${id}-columns`,
        columns,
        ...(timeColumn ? { timeColumn } : {}),
        ...(procTimeColumn ? { procTimeColumn } : {}),
        fromSource: false,
        integral: integralColumns(t.columns),
      };
    return {
      ref: id,
      columns,
      ...(timeColumn ? { timeColumn } : {}),
      fromSource: true,
      integral: integralColumns(t.columns),
    };
  }

  /** The expression that reads metadata `key` of a `type` source, for column `column`. */
  metadata(t: CreateTable, column: Name, m: { key: string; start: number }, type: string): { text: string } {
    const spec = this.#registry.source(type);
    // An unknown connector is the plan check's to report.
    if (spec === undefined) return { text: 'NULL' };
    const known = Object.keys(spec.metadata ?? {});
    const found = spec.metadata?.[m.key];
    if (found === undefined)
      this.fail(
        m.start,
        known.length === 0
          ? `column '${column.text}' of table '${t.name.text}' reads metadata, but a '${type}' source gives none${this.metadataSources()}`
          : this.unknown('metadata key', m.key, known, `a '${type}' source`),
      );
    return { text: found.expression };
  }

  /** ` (source types that do: …)`, for messages. */
  metadataSources(): string {
    const types = this.#registry
      .types('source')
      .filter((s) => this.#registry.source(s)?.metadata !== undefined);
    return types.length > 0 ? ` (source types that do: ${types.join(', ')})` : '';
  }

  /** The source types that read a table's changes. */
  changelogSources(): string[] {
    return this.#registry.types('source').filter((s) => this.#registry.source(s)?.changelog !== undefined);
  }

  /**
   * Sets the options `requires` (what a metadata key or a primary key needs of the component)
   * in `config` where the table leaves them out; fails where the table sets one otherwise.
   */
  require(
    t: CreateTable,
    what: string,
    requires: { readonly [option: string]: unknown } | undefined,
    config: { [key: string]: unknown },
    placed: readonly PlacedOption[],
  ): void {
    for (const [option, value] of Object.entries(requires ?? {})) {
      if (!Object.hasOwn(config, option)) {
        config[option] = value;
        continue;
      }
      if (JSON.stringify(config[option]) === JSON.stringify(value)) continue;
      const at = placed.find((p) => p.path === option)?.option.start ?? t.name.start;
      this.fail(
        at,
        `${what} needs '${option}' = '${Array.isArray(value) ? value.join(', ') : String(value)}': remove '${option}' from the options of table '${t.name.text}' (it is set for you), or set it so`,
      );
    }
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
    // Computed and virtual metadata columns are worked out when the table is read, not written (as in Flink).
    for (const c of table.columns)
      if (c.metadata && !c.metadata.virtual)
        this.fail(
          c.metadata.start,
          `not supported by Sluice SQL yet: writing metadata ('${c.metadata.key}' of column '${c.name.text}'); declare it METADATA … VIRTUAL to read it only, or drop it from the table written`,
        );
    const columns = table.columns.filter((c) => !c.computed && !c.metadata).map((c) => c.name.text);
    // A table without columns (only `compileQuery` makes one) takes the query's own columns.
    const target = columns.length > 0 ? { columns, table: s.sink } : undefined;
    const relation = this.query(s.query, table.name.text, target);
    // A table both read and written is a source and a sink; ids are unique in a plan.
    const id = this.#sources.has(table.name.text) ? `${table.name.text}-sink` : table.name.text;
    const { type, at, rest } = this.connector(table);
    const { config, placed } = configFromOptions(rest, this.#registry.sink(type)?.config);
    const keyed = this.primaryKeyOptions(table, type, config, placed);
    if (relation.updating && !keyed && !Object.hasOwn(config, 'changelog'))
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
    if (table.primaryKey && keyed)
      for (const option of Object.keys(keyed))
        if (!placed.some((p) => p.path === option)) this.locate(id, option, table.primaryKey.start);
  }

  /**
   * The options that make table `t`'s sink write upserts under its primary key (the spec's
   * `changelog.primaryKey`), added to `config`; undefined when `t` has no primary key.
   */
  primaryKeyOptions(
    t: CreateTable,
    type: string,
    config: { [key: string]: unknown },
    placed: readonly PlacedOption[],
  ): { readonly [option: string]: unknown } | undefined {
    if (t.primaryKey === undefined) return undefined;
    const spec = this.#registry.sink(type);
    if (spec === undefined) return undefined;
    const options = spec.changelog?.primaryKey?.(t.primaryKey.columns.map((c) => c.text));
    if (options === undefined) {
      const can = this.#registry.types('sink').filter((s) => this.#registry.sink(s)?.changelog?.primaryKey);
      return this.fail(
        t.primaryKey.start,
        `a '${type}' sink cannot write rows by a primary key, so table '${t.name.text}' cannot declare one; remove PRIMARY KEY${can.length > 0 ? ` or write into a table of a connector that can (${can.join(', ')})` : ''}`,
      );
    }
    this.require(t, `the PRIMARY KEY of table '${t.name.text}'`, options, config, placed);
    return options;
  }

  withRelation<T>(name: string, relation: Relation, plan: () => T): T {
    const scopes = this.#scopes;
    const view: View = {
      select: { from: { kind: 'table', name: { text: name, start: 0 } }, start: 0 },
      name: { text: name, start: 0 },
      id: relation.ref,
      scopes: [],
      relation,
    };
    this.#scopes = [...scopes, new Map([[name, view]])];
    try {
      return plan();
    } finally {
      this.#scopes = scopes;
    }
  }

  /**
   * Checks an event-time window table function over `input` (called `where` in messages): the
   * input has event time, the descriptor names its column, a HOP's size (a CUMULATE's max_size) is
   * a multiple of its slide (step), and SESSION's PARTITION BY names columns of the input.
   */
  checkEventWindow(window: WindowTable, input: Relation, where: string): void {
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

  /**
   * The query of the view, common table or subquery `name` (undefined for a table), with a way
   * to plan another query where it was written (seeing what it sees).
   */
  viewQuery(name: Name): { select: Select; plan: (q: Select, id: string) => Relation } | undefined {
    const view = this.#scopes.findLast((s) => s.has(name.text))?.get(name.text) ?? this.#views.get(name.text);
    if (view === undefined) return undefined;
    return {
      select: view.select,
      plan: (q, id) => {
        const scopes = this.#scopes;
        this.#scopes = [...view.scopes];
        try {
          return this.query(q, id);
        } finally {
          this.#scopes = scopes;
        }
      },
    };
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
    if (q.orderBy !== undefined || q.limit !== undefined) return planOrderLimit(this, q, id, target);
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
      q.from.kind === 'join'
        ? [q.from.left, q.from.right]
        : q.from.kind === 'table'
          ? [q.from]
          : q.from.kind === 'match_recognize' || q.from.kind === 'lateral'
            ? [q.from.table]
            : [];
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
    const { unionAll: _, with: __, unionDistinct: ___, ...first } = q;
    checkUnionTypes(this, q);
    const head = this.query(first, `${id}-union1`, target);
    const columns = head.columns;
    const planned = [
      { relation: head },
      ...(q.unionAll ?? []).map((part, i) => ({
        relation: this.query(part, `${id}-union${i + 2}`, {
          columns,
          table: { text: '', start: q.start },
          union: setOperationWords(q),
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
    return q.unionDistinct !== undefined ? planUnionDistinct(this, q, relation, id) : relation;
  }

  /** Plans one SELECT; see `query`. */
  select(query: Select, id: string, target?: Target): Relation {
    let q = query;
    if (q.from.kind === 'table') {
      // ROW_NUMBER() in a subquery, or in a view or common table the query reads by name.
      const from = q.from;
      const name = from.name.text;
      const scope = this.#scopes.findLast((s) => s.has(name));
      const ranked =
        from.query ?? (scope ?? (this.#tables.has(name) ? undefined : this.#views))?.get(name)?.select;
      if (ranked?.items?.some((i) => i.over !== undefined && isRowNumber(i.expr)))
        return planRank(this, q, { ...from, query: ranked }, id, target);
    }
    if (hasOverAggregate(q)) return planOver(this, q, id, target);
    const star = q.from.kind === 'join' ? undefined : q.items?.find((i) => i.star !== undefined);
    if (star !== undefined)
      this.fail(
        star.expr.start,
        `${star.text} selects the columns of one table of a join; over one table, write *`,
      );
    if (q.from.kind === 'table' && q.groupBy?.some((g) => groupWindowType(g.expr) !== undefined))
      q = this.groupWindow(q, q.from);
    const over = q.items?.find((i) => i.over !== undefined);
    if (over !== undefined)
      this.fail(
        over.expr.start,
        `ROW_NUMBER() is planned as Flink plans it, for top-N and deduplication: SELECT … FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY c DESC) AS rn FROM t) WHERE rn <= N`,
      );

    if (q.having && q.groupBy === undefined && !(q.items ?? []).some((i) => hasAggregate(i.expr)))
      this.fail(
        q.having.expr.start,
        'HAVING filters the results of a GROUP BY or of aggregates: add GROUP BY',
      );
    if (q.from.kind === 'join') {
      if (q.groupBy !== undefined || (q.items ?? []).some((i) => hasAggregate(i.expr)))
        return this.joinAggregate(q, q.from, id, target);
      return planJoin(this, q, q.from, id, this.#positions.text, target);
    }
    if (q.from.kind === 'model') {
      // The model's step, then the query over its output as over a table of that name.
      const relation = this.#models.plan(q.from, id);
      const name = q.from.alias ?? q.from.table;
      return this.withRelation(name.text, relation, () =>
        this.select({ ...q, from: { kind: 'table', name } }, id, target),
      );
    }
    if (q.from.kind === 'match_recognize') {
      // The pattern step, then the query over its rows as over a table of the alias's name.
      const relation = planMatchRecognize(this, q.from, id);
      const name = q.from.alias ?? { text: `${q.from.table.name.text}_match`, start: q.from.start };
      return this.withRelation(name.text, relation, () =>
        this.select({ ...q, from: { kind: 'table', name } }, id, target),
      );
    }
    if (q.from.kind === 'lateral') return planLateral(this, q, q.from, id, target);
    let window = q.from.kind === 'window' ? q.from : undefined;
    let input = this.relation(q.from.kind === 'window' ? q.from.table : q.from.name);
    const where = `'${q.from.kind === 'window' ? q.from.table.text : q.from.name.text}'`;
    const processing = window !== undefined && input.procTimeColumn === window.timeColumn.text;
    if (processing && window) {
      if (
        window.type === 'session' ||
        !(q.groupBy !== undefined || (q.items ?? []).some((i) => hasAggregate(i.expr)))
      )
        this.fail(
          window.start,
          `a processing-time ${WINDOW_FUNCTIONS[window.type]} is planned for a window aggregation of TUMBLE, HOP or CUMULATE only (GROUP BY window_start, window_end)`,
        );
    } else if (window) this.checkEventWindow(window, input, where);
    const aggregating = q.groupBy !== undefined || (q.items ?? []).some((i) => hasAggregate(i.expr));
    if (q.starWith && aggregating)
      this.fail(q.start, 'SELECT *, … cannot be grouped: list the GROUP BY columns and the aggregates');
    if (window && !aggregating) {
      // The window table function's rows themselves: each record with the bounds of each of its windows.
      input = this.windowRows(window, input, id);
      window = undefined;
    }
    let columns = window ? [...input.columns, ...WINDOW_COLUMNS, WINDOW_TIME] : input.columns;
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
    if (aggregating && q.groupBy?.some((g) => g.expr.kind !== 'field')) {
      const grouped = this.groupExpressions(q, input.columns, id, ref, where);
      q = grouped.query;
      ref = grouped.ref;
      columns = [...grouped.columns, ...(window ? [...WINDOW_COLUMNS, WINDOW_TIME] : [])];
    }
    for (const item of q.items ?? []) {
      const e = item.expr;
      if (e.kind === 'call' && ['predict', 'ml_predict', 'ml_score'].includes(e.name))
        this.fail(
          e.start,
          `a model is applied in FROM, as in Flink: SELECT …, prediction, score FROM ML_PREDICT(TABLE t, MODEL m, DESCRIPTOR(feature, …)) (ML_SCORE for an ONNX model)`,
        );
      this.checkColumns(e, columns, where);
    }
    for (const g of q.groupBy ?? []) this.checkColumns(g.expr, columns, where);
    let output: OutputColumn[];
    let outputRef = ref;
    let copiesFrom: readonly string[];
    const cascaded = aggregating && !window ? cascadedWindow(q, input) : undefined;
    if (aggregating) {
      const planned = planAggregate(
        this,
        q,
        id,
        ref,
        window !== undefined,
        target,
        processing,
        cascaded,
        input.integral,
      );
      output = planned.output;
      outputRef = planned.ref;
      copiesFrom = planned.columns;
    } else {
      const star = q.items === undefined || q.starWith === true;
      const all = input.columns.map((c) => ({ name: c, copies: c, text: formatName(c), start: q.start }));
      output = [
        ...(star ? all.map((c) => (input.integral?.has(c.name) ? { ...c, integral: true } : c)) : []),
        ...(q.items ?? []).map((item, i) => {
          // PROCTIME(): the wall clock when the row is read (Flink's processing-time attribute).
          const proctime =
            item.expr.kind === 'call' && item.expr.name === 'proctime' && item.expr.args.length === 0;
          return {
            name:
              item.alias?.text ??
              (item.expr.kind === 'field'
                ? item.expr.name
                : this.nameOf(item.expr, (star ? all.length : 0) + i, target)),
            ...(item.expr.kind === 'field' ? { copies: item.expr.name } : {}),
            text: proctime ? 'now()' : item.text,
            start: item.expr.start,
            ...(proctime ? { proctime: true } : {}),
            ...(isIntegral(item.expr, input.integral) ? { integral: true } : {}),
          };
        }),
      ];
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
    const procTimeColumn = aggregating
      ? undefined
      : (output.find((c) => c.proctime === true)?.name ??
        (input.procTimeColumn !== undefined
          ? output.find((c) => c.copies === input.procTimeColumn && c.name === input.procTimeColumn)?.name
          : undefined));
    const unchanged =
      output.length === copiesFrom.length &&
      output.every((c, i) => c.copies === copiesFrom[i] && c.name === copiesFrom[i]) &&
      !(input.fromSource && !aggregating) &&
      // A cascaded aggregate's records also carry its own windows' bounds: the projection drops them.
      cascaded === undefined;
    if (!unchanged) outputRef = this.project(output, `${id}-select`, outputRef);
    if (q.distinct)
      outputRef = planDistinct(
        this,
        q,
        id,
        outputRef,
        output,
        input.updating !== undefined || (aggregating && !window),
      );
    // A window aggregate's results, which a window join may join on their bounds (Nexmark q8).
    const bounds = new Map<string, 'window_start' | 'window_end'>();
    for (const c of output)
      if (c.copies === 'window_start' || c.copies === 'window_end') bounds.set(c.name, c.copies);
    if (cascaded !== undefined && input.windowed !== undefined)
      for (const c of output) {
        const bound = c.copies === undefined ? undefined : input.windowed.bounds.get(c.copies);
        if (bound !== undefined) bounds.set(c.name, bound);
      }
    const resultsOf = cascaded !== undefined ? input.windowed?.window : window;
    const windowed =
      aggregating &&
      resultsOf &&
      !processing &&
      resultsOf.type !== 'session' &&
      !q.distinct &&
      bounds.size > 0
        ? { windowed: { window: resultsOf, bounds } }
        : {};
    return {
      ref: outputRef,
      columns: output.map((c) => c.name),
      ...(timeColumn ? { timeColumn } : {}),
      ...(procTimeColumn ? { procTimeColumn } : {}),
      fromSource: false,
      ...windowed,
      ...integralNames(output),
    };
  }

  /**
   * GROUP BY over a join in one query (Nexmark q4's `SELECT MAX(B.price), A.category FROM auction
   * A, bid B WHERE … GROUP BY A.id, A.category`): the join is planned as a query of its own
   * (`<id>-joined`) giving each column the aggregate reads — `col`, or `<table>_col` where two
   * tables' columns share a name — and the aggregate reads those.
   */
  joinAggregate(q: Select, join: JoinTable, id: string, target: Target | undefined): Relation {
    if (q.items === undefined)
      return this.fail(q.start, 'SELECT * cannot be grouped: list the GROUP BY columns and the aggregates');
    const star = q.items.find((i) => i.star !== undefined);
    if (star !== undefined)
      this.fail(
        star.expr.start,
        `${star.text} cannot be grouped: list the GROUP BY columns and the aggregates`,
      );
    const qualifiers = new Set([join.left, join.right].map((s) => (s.alias ?? s.name).text));
    const refs = new Map<string, { expr: Expr; column: string; qualifier?: string }>();
    const collect = (e: Expr): void => {
      if (e.kind === 'member' && e.object.kind === 'field' && qualifiers.has(e.object.name)) {
        refs.set(formatExpression(e), { expr: e, column: e.name, qualifier: e.object.name });
        return;
      }
      if (e.kind === 'field') {
        refs.set(formatExpression(e), { expr: e, column: e.name });
        return;
      }
      for (const c of childrenOf(e)) collect(c);
    };
    for (const i of q.items) collect(i.expr);
    for (const g of q.groupBy ?? []) collect(g.expr);
    if (q.having) collect(q.having.expr);
    const names = new Map<string, string>();
    const taken = new Set<string>();
    for (const [text, r] of refs) {
      const shared = [...refs.values()].some((o) => o !== r && o.column === r.column);
      let name = shared && r.qualifier !== undefined ? `${r.qualifier}_${r.column}` : r.column;
      while (taken.has(name)) name = `_${name}`;
      taken.add(name);
      names.set(text, name);
    }
    const joined: Select = {
      from: join,
      items: [...refs].map(([text, r]) => ({
        expr: r.expr,
        text,
        alias: { text: names.get(text) as string, start: r.expr.start },
      })),
      ...(q.where ? { where: q.where } : {}),
      start: q.start,
    };
    const relation = this.query(joined, `${id}-joined`);
    let replaced = false;
    const replace = (e: Expr): Expr => {
      if (e.kind === 'member' || e.kind === 'field') {
        const name = names.get(formatExpression(e));
        if (name !== undefined) {
          replaced = true;
          return { kind: 'field', name, start: e.start, end: e.end };
        }
      }
      return mapChildren(e, replace);
    };
    const term = <T extends { expr: Expr; text: string }>(x: T): T => {
      replaced = false;
      const expr = replace(x.expr);
      return replaced ? { ...x, expr, text: formatExpression(expr) } : x;
    };
    const name = `${id}-joined`;
    const { where: _, ...rest } = q;
    const outer: Select = {
      ...rest,
      from: { kind: 'table', name: { text: name, start: join.start } },
      items: q.items.map(term),
      ...(q.groupBy ? { groupBy: q.groupBy.map(term) } : {}),
      ...(q.having ? { having: term(q.having) } : {}),
    };
    return this.withRelation(name, relation, () => this.select(outer, id, target));
  }

  /**
   * Flink's group window functions, `GROUP BY k, SESSION(ts, INTERVAL '10' SECOND)` (or
   * `TUMBLE(ts, size)`, `HOP(ts, slide, size)`) with `SESSION_START(…)`, `SESSION_END(…)` and
   * `SESSION_ROWTIME(…)` (likewise `TUMBLE_…`, `HOP_…`) in the select list: the same query over
   * the window table function (a SESSION partitioned by the other GROUP BY columns), grouped by
   * `window_start, window_end`, the auxiliary functions reading `window_start`, `window_end` and
   * `window_time`.
   */
  groupWindow(q: Select, from: TableRef): Select {
    const calls = (q.groupBy ?? []).filter((g) => groupWindowType(g.expr) !== undefined);
    if (calls.length > 1) this.fail(calls[1].expr.start, 'GROUP BY holds one group window function');
    const call = calls[0].expr;
    const type = groupWindowType(call) as WindowTable['type'];
    const name = WINDOW_FUNCTIONS[type];
    const args = call.kind === 'call' ? call.args : [];
    const shape =
      type === 'hopping' ? 'HOP(time, slide, size)' : `${name}(time, ${type === 'session' ? 'gap' : 'size'})`;
    const time = args[0];
    if (args.length !== (type === 'hopping' ? 3 : 2) || time?.kind !== 'field')
      this.fail(call.start, `write ${shape}, with the event-time column and INTERVAL literals`);
    const lengths = args.slice(1).map((a) => {
      if (a.kind !== 'literal' || typeof a.value !== 'number' || a.value <= 0)
        this.fail(a.start, `${name}'s lengths are positive intervals, e.g. INTERVAL '10' SECOND`);
      return a.value;
    });
    if (from.query !== undefined)
      this.fail(
        from.name.start,
        `${name}(…) in GROUP BY reads a table or view by name: make the subquery a view`,
      );
    const others = (q.groupBy ?? []).filter((g) => g.expr !== call);
    const partitionBy = others.map((g) =>
      g.expr.kind === 'field'
        ? { text: g.expr.name, start: g.expr.start }
        : this.fail(g.expr.start, `beside ${name}(…), GROUP BY takes columns`),
    );
    const window: WindowTable = {
      kind: 'window',
      type,
      table: from.name,
      timeColumn: { text: time.name, start: time.start },
      size: type === 'hopping' ? lengths[1] : lengths[0],
      ...(type === 'hopping' ? { slide: lengths[0] } : {}),
      ...(type === 'session' ? { partitionBy } : {}),
      start: call.start,
    };
    const auxiliary: { [fn: string]: string } = {
      [`${name.toLowerCase()}_start`]: 'window_start',
      [`${name.toLowerCase()}_end`]: 'window_end',
      [`${name.toLowerCase()}_rowtime`]: WINDOW_TIME,
    };
    let replaced = false;
    const replace = (e: Expr): Expr => {
      if (e.kind === 'call' && Object.hasOwn(auxiliary, e.name)) {
        replaced = true;
        return { kind: 'field', name: auxiliary[e.name], start: e.start, end: e.end };
      }
      if (e.kind === 'call' && /^(tumble|hop|session)_(start|end|rowtime|proctime)$/.test(e.name))
        this.fail(e.start, `${e.name.toUpperCase()} does not match the group window, ${name}(…)`);
      return mapChildren(e, replace);
    };
    const items = q.items?.map((item) => {
      replaced = false;
      const expr = replace(item.expr);
      return replaced ? { ...item, expr, text: formatExpression(expr) } : item;
    });
    const bound = (column: string): { expr: Expr; text: string } => ({
      expr: { kind: 'field', name: column, start: call.start, end: call.end },
      text: column,
    });
    return {
      ...q,
      from: window,
      ...(items ? { items } : {}),
      groupBy: [...others, bound('window_start'), bound('window_end')],
    };
  }

  /**
   * `GROUP BY expression` (Flink's `GROUP BY DATE_FORMAT(dateTime, 'yyyy-MM-dd')`): a `map`
   * (`<id>-group`) before the aggregate computes each grouping expression into a column of its
   * own — named by the select item that is that expression (`… AS day`), else `_group<n>` — and
   * the query is rewritten to group by those columns and to read them wherever the select list
   * or HAVING repeats the expression outside an aggregate. Expressions are the same when their
   * canonical text is.
   */
  groupExpressions(
    q: Select,
    input: readonly string[],
    id: string,
    ref: string,
    where: string,
  ): { query: Select; ref: string; columns: string[] } {
    const named = new Map<string, string>();
    const taken = new Set(input);
    const groupBy = (q.groupBy ?? []).map((g, i) => {
      if (g.expr.kind === 'field') return g;
      this.checkColumns(g.expr, input, where);
      if (hasAggregate(g.expr)) this.fail(g.expr.start, 'GROUP BY cannot hold an aggregate');
      const text = formatExpression(g.expr);
      let name = named.get(text);
      if (name === undefined) {
        const item = q.items?.find((it) => it.alias !== undefined && formatExpression(it.expr) === text);
        name = item?.alias?.text;
        if (name === undefined || taken.has(name)) {
          let n = i + 1;
          name = `_group${n}`;
          while (taken.has(name)) name = `_group${++n}`;
        }
        taken.add(name);
        named.set(text, name);
      }
      const field: Expr = { kind: 'field', name, start: g.expr.start, end: g.expr.end };
      return { expr: field, text: formatName(name), source: g };
    });
    const computed = groupBy.filter((g) => 'source' in g);
    const step = `${id}-group`;
    this.project(
      [
        ...input.map((c) => ({ name: c, copies: c, text: formatName(c), start: q.start })),
        ...[...named].map(([, name]) => {
          const g = computed.find((c) => c.expr.kind === 'field' && c.expr.name === name)?.source;
          return { name, text: g?.text ?? '', start: g?.expr.start ?? q.start };
        }),
      ],
      step,
      ref,
    );
    let replaced = false;
    const replace = (e: Expr): Expr => {
      if (e.kind !== 'field' && e.kind !== 'literal') {
        const name = named.get(formatExpression(e));
        if (name !== undefined) {
          replaced = true;
          return { kind: 'field', name, start: e.start, end: e.end };
        }
      }
      return isAggregateCall(e) ? e : mapChildren(e, replace);
    };
    const items = q.items?.map((item) => {
      replaced = false;
      const expr = replace(item.expr);
      // An item that does not repeat a grouping expression keeps its text (and its offsets).
      return replaced ? { ...item, expr, text: formatExpression(expr) } : item;
    });
    const having = q.having && { expr: replace(q.having.expr), text: q.having.text };
    return {
      query: {
        ...q,
        groupBy: groupBy.map(({ expr, text }) => ({ expr, text })),
        ...(items ? { items } : {}),
        ...(having ? { having } : {}),
      },
      ref: step,
      columns: [...input, ...named.values()],
    };
  }

  /**
   * A window table function's rows without aggregation, as Flink gives them: each record once per
   * window it falls in, with `window_start`, `window_end` and `window_time`. A TUMBLE is one
   * `map`; a HOP of size/slide = k windows per record, k maps (the j-th window back) merged by a
   * `union`; a CUMULATE of n steps, n maps each behind a `filter` keeping the records inside its
   * window. SESSION rows need the sessions merged first, so they are refused.
   */
  windowRows(window: WindowTable, input: Relation, id: string): Relation {
    if (window.type === 'session')
      this.fail(
        window.start,
        'SESSION rows without aggregation are not supported yet: aggregate the sessions with GROUP BY window_start, window_end',
      );
    const t = `epoch_ms(${formatName(input.timeColumn as string)})`;
    const floor = (length: number) => `${t} - mod(mod(${t}, ${length}) + ${length}, ${length})`;
    const parts: { start: string; end: string; where?: string }[] = [];
    if (window.type === 'tumbling')
      parts.push({ start: floor(window.size), end: `${floor(window.size)} + ${window.size}` });
    else if (window.type === 'hopping') {
      const slide = window.slide as number;
      for (let j = 0; j < window.size / slide; j++) {
        const start = j === 0 ? floor(slide) : `${floor(slide)} - ${j * slide}`;
        parts.push({ start, end: `${start} + ${window.size}` });
      }
    } else {
      const step = window.slide as number;
      for (let k = 1; k <= window.size / step; k++) {
        const end = `${floor(window.size)} + ${k * step}`;
        parts.push({ start: floor(window.size), end, where: `${t} < ${end}` });
      }
    }
    const refs = parts.map((part, i) => {
      const name = parts.length > 1 ? `${id}-window${i + 1}` : `${id}-window`;
      let ref = input.ref;
      if (part.where !== undefined) {
        this.#steps.push({
          id: `${name}-where`,
          type: 'filter',
          inputs: [ref],
          config: { where: part.where },
        });
        this.locate(`${name}-where`, '', window.start);
        ref = `${name}-where`;
      }
      const at = window.start;
      return this.project(
        [
          ...input.columns.map((c) => ({ name: c, copies: c, text: formatName(c), start: at })),
          { name: 'window_start', text: part.start, start: at },
          { name: 'window_end', text: part.end, start: at },
          { name: WINDOW_TIME, text: `${part.end} - 1`, start: at },
        ],
        name,
        ref,
      );
    });
    let ref = refs[0];
    if (refs.length > 1) {
      ref = `${id}-window`;
      this.#steps.push({ id: ref, type: 'union', inputs: refs, config: {} });
      this.locate(ref, '', window.start);
    }
    return {
      ref,
      columns: [...input.columns, ...WINDOW_COLUMNS, WINDOW_TIME],
      ...(input.timeColumn ? { timeColumn: input.timeColumn } : {}),
      fromSource: false,
    };
  }

  /**
   * The name of an unnamed computed column: in an INSERT, the target column at its position (as
   * Flink writes columns by position); elsewhere a field of a ROW (`bid.price`) is named after
   * the field (`price`), as in Flink, and anything else needs AS.
   */
  nameOf(e: Expr, position: number, target: { columns: readonly string[] } | undefined): string {
    const name = target?.columns[position] ?? (e.kind === 'member' ? e.name : undefined);
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
}

/** The window a group window function of GROUP BY (`TUMBLE(ts, size)`, `HOP(…)`, `SESSION(…)`) makes. */
function groupWindowType(e: Expr): WindowTable['type'] | undefined {
  if (e.kind !== 'call') return undefined;
  return e.name === 'tumble'
    ? 'tumbling'
    : e.name === 'hop'
      ? 'hopping'
      : e.name === 'session'
        ? 'session'
        : undefined;
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
