/**
 * The query half of the statement parser: SELECT with its clauses (FROM, joins, window table
 * functions, subqueries, WHERE, GROUP BY, HAVING, OVER), WITH and UNION ALL, and the helpers every
 * statement uses (tokens, names, expressions and their texts, errors at line and column).
 * `parser.ts` adds the statements around queries.
 */

import {
  type Expr,
  formatName,
  isAggregateCall,
  mapChildren,
  parseExpressionFrom,
  type Token,
  TokenStream,
  tokenize,
} from '@sluice/core';
import type {
  CommonTable,
  FromItem,
  JoinTable,
  ModelTable,
  Name,
  Over,
  Select,
  SelectItem,
  TableOption,
  TableRef,
} from './ast.ts';
import { lateralJoin, parseLateralTable, parseOrderLimit } from './clause-parser.ts';
import { parseMatchRecognize } from './match-parser.ts';
import { parseOver, parseWindowClause, resolveWindows } from './over-parser.ts';
import { CLAUSE_WORDS, describe, NOT_YET } from './parser-words.ts';
import type { Positions } from './position.ts';
import { filteredCall, renameAggregates, type Splice, spliced } from './rewrite.ts';

/** Parses queries; see the file comment. */
export class QueryParser extends TokenStream {
  protected readonly source: string;
  readonly #positions: Positions;
  /** Spans of the script that expressions' texts replace (see `rewrite.ts`). */
  readonly #splices: Splice[] = [];
  /** How many subqueries without an alias the script has had, to name them. */
  #subqueries = 0;

  constructor(text: string, positions: Positions) {
    super(tokenize(text, { statements: true, backtickNames: true }));
    this.source = text;
    this.#positions = positions;
    // Flink writes quoted names in backticks; the engine's expressions (which get the texts of
    // the script's expressions) in double quotes: every backticked name's text is spliced so.
    for (const t of this.tokens) {
      if (t.kind === 'quoted' && text[t.start] === '`')
        this.#splices.push({ start: t.start, end: t.end, text: `"${t.text.replaceAll('"', '""')}"` });
    }
  }

  /** Throws CONFIG_PARSE at `offset`. */
  fail(offset: number, message: string): never {
    throw this.#positions.error('CONFIG_PARSE', offset, message);
  }

  notYet(t: Token, what: string): never {
    return this.fail(
      t.start,
      `not supported by Sluice SQL yet: ${what}; the README of @sluice/sql lists the SQL it plans`,
    );
  }

  expect(op: string, why: string): Token {
    const t = this.peek();
    if (t.kind !== 'op' || t.text !== op) this.fail(t.start, `expected '${op}' ${why}, found ${describe(t)}`);
    return this.next();
  }

  expectKeyword(word: string, why: string): Token {
    const t = this.peek();
    if (t.kind !== 'word' || t.upper !== word)
      this.fail(t.start, `expected ${word} ${why}, found ${describe(t)}`);
    return this.next();
  }

  name(what: string): Name {
    const t = this.peek();
    if (t.kind !== 'word' && t.kind !== 'quoted')
      this.fail(t.start, `expected ${what}, found ${describe(t)}`);
    this.pos++;
    return { text: t.text, start: t.start };
  }

  expression(): { expr: Expr; text: string } {
    const first = this.tokens[this.pos];
    const { expr, pos } = parseExpressionFrom(this.tokens, this.pos);
    this.pos = pos;
    // The tree's span leaves out parentheses around its first or last operand (`(a OR b) AND c`);
    // the text the plan holds, and the join's rewrite of it, take them in.
    expr.start = Math.min(expr.start, first.start);
    expr.end = Math.max(expr.end, this.tokens[pos - 1].end);
    this.#splices.push(...renameAggregates(expr, (at, message) => this.fail(at, message)));
    return { expr, text: this.textOf(expr.start, expr.end) };
  }

  /** The script's text from `start` to `end`, with the rewrites of `rewrite.ts` applied. */
  textOf(start: number, end: number): string {
    return spliced(this.source, start, end, this.#splices);
  }

  /** A select item's expression, with an aggregate's `FILTER (WHERE …)` folded into its call. */
  selectExpression(): { expr: Expr; text: string; again: () => string } {
    const item = this.expression();
    if (!(this.isWord('FILTER') && this.isOp('(', 1)))
      return { ...item, again: () => this.textOf(item.expr.start, item.expr.end) };
    const at = this.next();
    if (item.expr.kind !== 'call' || !isAggregateCall(item.expr))
      this.fail(
        at.start,
        'FILTER (WHERE …) follows an aggregate call, e.g. count(*) FILTER (WHERE price > 10)',
      );
    const open = this.expect('(', 'after FILTER');
    this.expectKeyword('WHERE', 'in FILTER (WHERE condition)');
    const condition = this.expression();
    this.expect(')', `to close the FILTER opened at ${this.where(open.start)}`);
    const call = item.expr;
    const text = (from: number, to: number) => this.textOf(from, to);
    const again = () =>
      filteredCall(call, { expr: condition.expr, text: text(condition.expr.start, condition.expr.end) }, text)
        .text;
    return { ...filteredCall(call, condition, text), again };
  }

  /**
   * A single-table query's expressions with `q.col` (q: the table's alias, or its name) read as
   * `col`, as SQL reads a qualified column; a ROW column of another name (`bid.price` over a
   * table with a `bid` column) stays a field access. The texts are made again with those spans
   * replaced.
   */
  unqualify(parts: {
    items?: SelectItem[];
    again: (() => string)[];
    where?: { expr: Expr; text: string };
    groupBy?: { expr: Expr; text: string }[];
    having?: { expr: Expr; text: string };
    qualifier: string;
  }): void {
    const found: Splice[] = [];
    const strip = (e: Expr): Expr => {
      if (e.kind === 'member' && e.object.kind === 'field' && e.object.name === parts.qualifier) {
        found.push({ start: e.start, end: e.end, text: formatName(e.name) });
        return { kind: 'field', name: e.name, start: e.start, end: e.end };
      }
      return mapChildren(e, strip);
    };
    const term = <T extends { expr: Expr; text: string }>(t: T): T => ({ ...t, expr: strip(t.expr) });
    const items = parts.items?.map((i) => ({
      ...term(i),
      ...(i.over
        ? {
            over: { ...i.over, partitionBy: i.over.partitionBy.map(term), orderBy: i.over.orderBy.map(term) },
          }
        : {}),
    }));
    const where = parts.where && term(parts.where);
    const groupBy = parts.groupBy?.map(term);
    const having = parts.having && term(parts.having);
    if (found.length === 0) return;
    // A qualified column's splice replaces the backticked names inside it (splices never overlap).
    const within = (x: Splice) => found.some((f) => x.start >= f.start && x.end <= f.end);
    const kept = this.#splices.filter((x) => !within(x));
    this.#splices.splice(0, this.#splices.length, ...kept, ...found);
    const again = <T extends { expr: Expr; text: string }>(t: T): T => ({
      ...t,
      text: this.textOf(t.expr.start, t.expr.end),
    });
    if (parts.items && items)
      parts.items.splice(
        0,
        parts.items.length,
        ...items.map((i, n) => ({
          ...i,
          text: parts.again[n](),
          ...(i.over
            ? {
                over: {
                  ...i.over,
                  partitionBy: i.over.partitionBy.map(again),
                  orderBy: i.over.orderBy.map(again),
                },
              }
            : {}),
        })),
      );
    if (parts.where && where) Object.assign(parts.where, again(where));
    if (parts.groupBy && groupBy) parts.groupBy.splice(0, parts.groupBy.length, ...groupBy.map(again));
    if (parts.having && having) Object.assign(parts.having, again(having));
  }

  where(offset: number): string {
    const { line, column } = this.#positions.at(offset);
    return `line ${line}, column ${column}`;
  }

  /** `[WITH name AS (query), …] select [UNION ALL select …]`. */
  query(): Select {
    const common: CommonTable[] = [];
    if (this.acceptWord('WITH')) {
      do {
        if (common.length > 0) this.pos++;
        const name = this.name('the name of a common table after WITH');
        if (this.isOp('('))
          this.notYet(this.peek(), 'column lists of a common table (name the columns with AS in its query)');
        if (this.isWord('RECURSIVE') || name.text.toUpperCase() === 'RECURSIVE')
          this.notYet(this.tokens[this.pos - 1], 'WITH RECURSIVE');
        this.expectKeyword('AS', `after WITH ${name.text}: WITH ${name.text} AS (SELECT …)`);
        const open = this.expect('(', `before the query of common table '${name.text}'`);
        const query = this.query();
        this.expect(')', `to close the query of '${name.text}' opened at ${this.where(open.start)}`);
        if (common.some((c) => c.name.text === name.text))
          this.fail(name.start, `WITH names '${name.text}' twice`);
        common.push({ name, query });
      } while (this.isOp(','));
    }
    let first: Select;
    if (this.isOp('(')) {
      const open = this.next();
      first = this.query();
      this.expect(')', `to close the query opened at ${this.where(open.start)}`);
      // `(q ORDER BY … LIMIT n) UNION …`: the order or limit is q's, not the whole query's.
      if ((first.orderBy !== undefined || first.limit !== undefined) && this.isWord('UNION'))
        first = this.subquery(first, open.start);
    } else first = this.select();
    // A chain of UNION ALL or of UNION is one set operation of all its queries; where the two
    // mix (`a UNION b UNION ALL c`), the chain so far, left-associative as in SQL, becomes a
    // subquery the rest reads.
    let head = first;
    let parts: Select[] = [...(first.unionAll ?? [])];
    let distinct = first.unionAll === undefined ? undefined : first.unionDistinct !== undefined;
    let at = first.unionDistinct;
    while (this.isWord('UNION')) {
      const union = this.next();
      const all = this.acceptWord('ALL');
      if (!all) this.acceptWord('DISTINCT');
      if (distinct !== undefined && distinct === all) {
        head = this.subquery(setOperation(head, parts, distinct ? at : undefined), union.start);
        parts = [];
      }
      if (distinct !== !all) at = union.start;
      distinct = !all;
      if (this.isOp('(')) {
        const open = this.next();
        parts.push(this.query());
        this.expect(')', `to close the query opened at ${this.where(open.start)}`);
      } else parts.push(this.select());
    }
    const ordered = parseOrderLimit(this);
    const t = this.peek();
    if (t.kind === 'word' && NOT_YET[t.upper] !== undefined) this.notYet(t, NOT_YET[t.upper]);
    let whole = setOperation(head, parts, distinct ? at : undefined);
    // ORDER BY or LIMIT after a query that has its own (in parentheses) orders or limits that
    // query's result: it is read as a subquery.
    if (ordered !== undefined && (whole.orderBy !== undefined || whole.limit !== undefined))
      whole = this.subquery(whole, ordered.start);
    return {
      ...whole,
      ...(common.length > 0 ? { with: [...(whole.with ?? []), ...common] } : {}),
      ...(ordered?.orderBy !== undefined ? { orderBy: ordered.orderBy, orderByStart: ordered.start } : {}),
      ...(ordered?.limit !== undefined ? { limit: ordered.limit } : {}),
    };
  }

  /** `SELECT * FROM (query) AS <name>`: a query read as a subquery, at `start`. */
  subquery(query: Select, start: number): Select {
    this.#subqueries++;
    const name = { text: `set${this.#subqueries}`, start };
    return { from: { kind: 'table', name, query }, start };
  }

  select(): Select {
    const start = this.expectKeyword('SELECT', 'to start the query').start;
    const distinct = this.acceptWord('DISTINCT');
    if (!distinct) this.acceptWord('ALL');
    let items: SelectItem[] | undefined;
    const again: (() => string)[] = [];
    const star = this.isOp('*');
    if (star) this.pos++;
    const starWith = star && this.isOp(',');
    if (starWith) this.pos++;
    if (!star || starWith) {
      items = [];
      do {
        if (items.length > 0) this.pos++;
        const [a, dot, all] = [this.peek(), this.peek(1), this.peek(2)];
        if (
          (a.kind === 'word' || a.kind === 'quoted') &&
          dot.kind === 'op' &&
          dot.text === '.' &&
          all.kind === 'op' &&
          all.text === '*'
        ) {
          // `t.*`: every column of table t of a join (the join planner expands it).
          const name = this.name('a table name before .*');
          this.pos += 2;
          const expr: Expr = { kind: 'field', name: name.text, start: name.start, end: all.end };
          items.push({ expr, text: `${name.text}.*`, star: name });
          again.push(() => `${name.text}.*`);
          continue;
        }
        const { expr, text, again: made } = this.selectExpression();
        again.push(made);
        let over: Over | undefined;
        if (this.isWord('OVER')) {
          over = this.over(expr);
          const after = this.peek();
          if (after.kind === 'op' && after.text !== ',' && after.text !== ')')
            this.fail(
              after.start,
              'an OVER aggregate is a select item of its own here: compute an expression of it (… OVER w * 2) in a query around this one',
            );
        }
        let alias: Name | undefined;
        if (this.acceptWord('AS')) alias = this.name('a column name after AS');
        else if (
          (this.peek().kind === 'word' && !CLAUSE_WORDS.has(this.peek().upper)) ||
          this.peek().kind === 'quoted'
        )
          alias = this.name('a column name');
        items.push({ expr, text, ...(alias ? { alias } : {}), ...(over ? { over } : {}) });
      } while (this.isOp(','));
    }
    this.expectKeyword('FROM', 'after the select list');
    let from = this.from();
    const t = this.peek();
    if (t.kind === 'word' && NOT_YET[t.upper] !== undefined) this.notYet(t, NOT_YET[t.upper]);
    let comma: TableRef | undefined;
    if (this.isOp(',')) {
      if (from.kind !== 'table')
        this.notYet(t, 'a comma join of a join or window (join two tables, then the view)');
      this.pos++;
      comma = this.tableRef('a table, view or subquery after the comma');
      if (this.isOp(',') || this.joinType() !== undefined)
        this.notYet(this.peek(), 'joins of more than two tables (join two in a view, then join the view)');
      if (!this.isWord('WHERE'))
        this.notYet(this.peek(), 'comma joins without WHERE (cross joins): Sluice joins by key');
    }
    let where = this.acceptWord('WHERE') ? this.expression() : undefined;
    if (comma !== undefined && where !== undefined && from.kind === 'table') {
      from = {
        kind: 'join',
        type: 'inner',
        left: from,
        right: comma,
        on: where,
        comma: true,
        start: from.name.start,
      };
      where = undefined;
    }
    let groupBy: { expr: Expr; text: string }[] | undefined;
    if (this.acceptWord('GROUP')) {
      this.expectKeyword('BY', 'after GROUP');
      groupBy = [this.expression()];
      while (this.isOp(',')) {
        this.pos++;
        groupBy.push(this.expression());
      }
    }
    const having = this.acceptWord('HAVING') ? this.expression() : undefined;
    if (this.isWord('WINDOW')) {
      const windows = parseWindowClause(this);
      if (items) items.splice(0, items.length, ...resolveWindows(this, items, windows));
    }
    const unnamed = items?.find((i) => i.over?.window !== undefined)?.over?.window;
    if (unnamed !== undefined) resolveWindows(this, items ?? [], new Map());
    if (
      from.kind === 'table' ||
      ((from.kind === 'model' || from.kind === 'match_recognize') && from.alias !== undefined)
    )
      this.unqualify({
        ...(items ? { items } : {}),
        again,
        ...(where ? { where } : {}),
        ...(groupBy ? { groupBy } : {}),
        ...(having ? { having } : {}),
        qualifier: from.kind === 'table' ? (from.alias ?? from.name).text : (from.alias?.text ?? ''),
      });
    const after = this.peek();
    if (after.kind === 'word' && NOT_YET[after.upper] !== undefined) this.notYet(after, NOT_YET[after.upper]);
    return {
      ...(distinct ? { distinct } : {}),
      ...(items ? { items } : {}),
      ...(starWith ? { starWith } : {}),
      from,
      ...(where ? { where } : {}),
      ...(groupBy ? { groupBy } : {}),
      ...(having ? { having } : {}),
      start,
    };
  }

  from(): FromItem {
    const t = this.peek();
    if (this.isWord('TABLE') && this.isOp('(', 1)) return this.windowTable();
    if ((this.isWord('ML_PREDICT') || this.isWord('ML_SCORE')) && this.isOp('(', 1)) return this.modelTable();
    if (this.isWord('LATERAL') || this.isWord('UNNEST'))
      this.notYet(t, `${t.upper} as the first item of FROM (write t, LATERAL TABLE(f(…)))`);
    const left = this.tableRef('a table or view name after FROM');
    if (this.isWord('MATCH_RECOGNIZE')) return parseMatchRecognize(this, left);
    const lateral = lateralJoin(this);
    if (lateral !== undefined) return parseLateralTable(this, left, lateral);
    if (this.isWord('FOR'))
      this.fail(this.peek().start, 'FOR SYSTEM_TIME AS OF belongs to the right table of a JOIN');
    const join = this.peek();
    const type = this.joinType();
    if (type === undefined) return left;
    if (this.isOp('(')) {
      const right = this.tableRef('a table, view or subquery after JOIN');
      this.expectKeyword(
        'ON',
        `and the join condition after JOIN (…) ${right.name.text}, e.g. ON a.id = b.id`,
      );
      const on = this.expression();
      const next = this.peek();
      if (this.joinType() !== undefined || this.isOp(','))
        this.notYet(next, 'joins of more than two tables (join two in a view, then join the view)');
      return { kind: 'join', type, left, right, on, start: join.start };
    }
    const rightName = this.name('a table or view name after JOIN');
    const early = this.alias();
    let asOf: Expr | undefined;
    if (this.isWord('FOR')) {
      const at = this.next();
      if (early !== undefined)
        this.fail(at.start, 'write the alias after FOR SYSTEM_TIME AS OF …, as Flink does');
      this.expectKeyword('SYSTEM_TIME', 'after FOR: FOR SYSTEM_TIME AS OF <left table>.<time column>');
      this.expectKeyword('AS', 'in FOR SYSTEM_TIME AS OF');
      this.expectKeyword('OF', 'in FOR SYSTEM_TIME AS OF');
      asOf = this.expression().expr;
    }
    const alias = early ?? this.alias();
    const right: TableRef = { kind: 'table', name: rightName, ...(alias ? { alias } : {}) };
    this.expectKeyword('ON', `and the join condition after JOIN ${right.name.text}, e.g. ON a.id = b.id`);
    const on = this.expression();
    const next = this.peek();
    if (this.joinType() !== undefined || this.isOp(','))
      this.notYet(next, 'joins of more than two tables (join two in a view, then join the view)');
    return { kind: 'join', type, left, right, on, ...(asOf ? { asOf } : {}), start: join.start };
  }

  /** `ML_PREDICT(TABLE t, MODEL m, DESCRIPTOR(col, …)) [[AS] alias]`, or the same with ML_SCORE. */
  modelTable(): ModelTable {
    const fn = this.next();
    const name = fn.upper === 'ML_SCORE' ? 'ML_SCORE' : 'ML_PREDICT';
    const call = `${name}(TABLE t, MODEL m, DESCRIPTOR(feature, …))`;
    this.expect('(', `after ${name}: ${call}`);
    this.expectKeyword('TABLE', `before the table name: ${call}`);
    const table = this.name(`a table or view name: ${call}`);
    this.expect(',', `after the table: ${call}`);
    this.expectKeyword('MODEL', `before the model name: ${call}`);
    const model = this.name(`a model name: ${call}`);
    this.expect(',', `after the model: ${call}`);
    const descriptor = this.expectKeyword('DESCRIPTOR', `for the feature columns: ${call}`).start;
    this.expect('(', 'after DESCRIPTOR');
    const columns: Name[] = [];
    do {
      if (columns.length > 0) this.pos++;
      columns.push(this.name('a column in DESCRIPTOR(…)'));
    } while (this.isOp(','));
    this.expect(')', 'to close DESCRIPTOR(…)');
    let config: TableOption[] | undefined;
    if (this.isOp(',')) {
      this.pos++;
      config = this.modelConfig(name);
    }
    this.expect(')', `to close ${name}(…)`);
    const alias = this.alias();
    return {
      kind: 'model',
      fn: name,
      table,
      model,
      columns,
      descriptor,
      ...(config ? { config } : {}),
      ...(alias ? { alias } : {}),
      start: fn.start,
    };
  }

  /**
   * The fourth argument of ML_PREDICT / ML_SCORE, as in Flink: `[CONFIG =>] MAP['key', 'value', …]`,
   * options for this call that override the model's.
   */
  modelConfig(fn: string): TableOption[] {
    const form = `${fn}(TABLE t, MODEL m, DESCRIPTOR(…), CONFIG => MAP['option', 'value', …])`;
    if (this.isWord('CONFIG')) {
      this.pos++;
      const eq = this.expect('=', `after CONFIG: ${form}`);
      const gt = this.peek();
      if (gt.kind !== 'op' || gt.text !== '>' || gt.start !== eq.end)
        this.fail(eq.start, `expected '=>' after CONFIG: ${form}`);
      this.pos++;
    }
    this.expectKeyword('MAP', `for the options of this call: ${form}`);
    const open = this.expect('[', `after MAP: ${form}`);
    const options: TableOption[] = [];
    while (!this.isOp(']')) {
      if (options.length > 0) this.expect(',', 'between the entries of MAP[…]');
      const key = this.next();
      if (key.kind !== 'string')
        this.fail(key.start, `expected an option name in single quotes in MAP[…], found ${describe(key)}`);
      this.expect(',', `after option '${key.text}': MAP['option', 'value', …] alternates names and values`);
      const v = this.next();
      let value: string | number | boolean;
      if (v.kind === 'string') value = v.text;
      else if (v.kind === 'number') value = v.value;
      else if (v.kind === 'word' && (v.upper === 'TRUE' || v.upper === 'FALSE')) value = v.upper === 'TRUE';
      else
        return this.fail(
          v.start,
          `expected the value of option '${key.text}' in MAP[…] (a string in single quotes), found ${describe(v)}`,
        );
      if (options.some((o) => o.key === key.text))
        this.fail(key.start, `option '${key.text}' is given twice`);
      options.push({ key: key.text, value, start: key.start });
    }
    this.expect(']', `to close the MAP[ opened at ${this.where(open.start)}`);
    return options;
  }

  /** `OVER (…)` or `OVER w` after `ROW_NUMBER()` or an aggregate call (`over-parser.ts`). */
  over(fn: Expr): Over {
    return parseOver(this, fn);
  }

  /** A table name and its optional alias. */
  tableRef(what: string): TableRef {
    if (this.isOp('(')) {
      const open = this.next();
      const query = this.query();
      this.expect(')', `to close the subquery opened at ${this.where(open.start)}`);
      const alias = this.alias();
      const name = alias ?? { text: `subquery${++this.#subqueries}`, start: open.start };
      return { kind: 'table', name, query };
    }
    const name = this.name(what);
    const alias = this.alias();
    return { kind: 'table', name, ...(alias ? { alias } : {}) };
  }

  /** `AS alias`, or a bare alias word that starts no clause. */
  alias(): Name | undefined {
    if (this.acceptWord('AS')) return this.name('a table alias after AS');
    const t = this.peek();
    if (
      t.kind === 'word' &&
      !CLAUSE_WORDS.has(t.upper) &&
      t.upper !== 'FOR' &&
      NOT_YET[t.upper] === undefined
    )
      return this.name('a table alias');
    return undefined;
  }

  /** Consumes `[INNER|LEFT|RIGHT|FULL] [OUTER] JOIN` and says which; undefined when none is next. */
  joinType(): JoinTable['type'] | undefined {
    const t = this.peek();
    if (t.kind !== 'word') return undefined;
    if (t.upper === 'CROSS') this.notYet(t, 'CROSS JOIN (Sluice joins by key: write JOIN … ON a.k = b.k)');
    const type =
      t.upper === 'JOIN' || t.upper === 'INNER'
        ? 'inner'
        : t.upper === 'LEFT'
          ? 'left'
          : t.upper === 'RIGHT'
            ? 'right'
            : t.upper === 'FULL'
              ? 'full'
              : undefined;
    if (type === undefined) return undefined;
    if (t.upper !== 'JOIN') {
      this.pos++;
      if (type !== 'inner') this.acceptWord('OUTER');
    }
    this.expectKeyword('JOIN', `after ${t.upper}`);
    return type;
  }

  windowTable(): FromItem {
    const start = this.expectKeyword('TABLE', 'before a window function').start;
    this.expect('(', 'after TABLE');
    const fn = this.peek();
    if ((fn.upper === 'ML_PREDICT' || fn.upper === 'ML_SCORE') && this.isOp('(', 1)) {
      // `TABLE(ML_PREDICT(…))`, as the window functions are written, is the same as `ML_PREDICT(…)`.
      const model = this.modelTable();
      this.expect(')', 'to close TABLE(…)');
      const alias = this.alias();
      return { ...model, ...(alias ? { alias } : {}) };
    }
    const kinds = { TUMBLE: 'tumbling', HOP: 'hopping', SESSION: 'session', CUMULATE: 'cumulative' } as const;
    if (fn.kind !== 'word' || !Object.hasOwn(kinds, fn.upper))
      this.fail(
        fn.start,
        `expected the window function TUMBLE, HOP, SESSION or CUMULATE after TABLE(, found ${describe(fn)}`,
      );
    const type = kinds[fn.upper as keyof typeof kinds];
    this.pos++;
    const lengths = { TUMBLE: 'size', HOP: 'slide, size', SESSION: 'gap', CUMULATE: 'step, max_size' }[
      fn.upper as keyof typeof kinds
    ];
    const partition = fn.upper === 'SESSION' ? ' [PARTITION BY key]' : '';
    const call = `${fn.upper}(TABLE t${partition}, DESCRIPTOR(time_column), ${lengths})`;
    this.expect('(', `after ${fn.upper}: ${call}`);
    this.expectKeyword('TABLE', `before the table name: ${call}`);
    const table = this.name(`a table or view name: ${call}`);
    const partitionBy: Name[] = [];
    if (this.isWord('PARTITION')) {
      const at = this.next();
      if (type !== 'session') this.fail(at.start, `PARTITION BY belongs to SESSION windows; ${call}`);
      this.expectKeyword('BY', 'after PARTITION');
      do {
        if (partitionBy.length > 0) this.pos++;
        partitionBy.push(this.name('a column after PARTITION BY'));
      } while (this.isOp(',') && !this.isWord('DESCRIPTOR', 1));
    }
    this.expect(',', `after the table: ${call}`);
    this.expectKeyword('DESCRIPTOR', `for the time column: ${call}`);
    this.expect('(', 'after DESCRIPTOR');
    const timeColumn = this.name('the time column in DESCRIPTOR(…)');
    this.expect(')', 'to close DESCRIPTOR(…)');
    this.expect(',', `after DESCRIPTOR(${timeColumn.text}): ${call}`);
    const two = type === 'hopping' || type === 'cumulative';
    const first = this.interval(
      type === 'hopping'
        ? 'the slide'
        : type === 'cumulative'
          ? 'the step'
          : type === 'session'
            ? 'the gap'
            : 'the size',
    );
    let size = first;
    let slide: number | undefined;
    if (two) {
      this.expect(',', `after the ${type === 'hopping' ? 'slide' : 'step'}: ${call}`);
      slide = first;
      size = this.interval(type === 'hopping' ? 'the size' : 'the max_size');
    }
    if (this.isOp(',')) this.notYet(this.peek(), 'window offsets');
    this.expect(')', `to close ${fn.upper}(…)`);
    this.expect(')', 'to close TABLE(…)');
    return {
      kind: 'window',
      type,
      table,
      timeColumn,
      size,
      ...(slide !== undefined ? { slide } : {}),
      ...(partitionBy.length > 0 ? { partitionBy } : {}),
      start,
    };
  }

  /** An `INTERVAL 'n' unit`, in ms. */
  interval(what: string): number {
    const t = this.peek();
    if (!this.isWord('INTERVAL'))
      this.fail(t.start, `expected ${what} as an interval, e.g. INTERVAL '10' SECOND, found ${describe(t)}`);
    const { expr } = this.expression();
    if (expr.kind !== 'literal' || typeof expr.value !== 'number' || expr.value <= 0)
      this.fail(t.start, `${what} must be a positive interval, e.g. INTERVAL '10' SECOND`);
    return expr.value;
  }
}

/** `head` with the queries `parts` after it: their UNION (`distinct`, its offset) or UNION ALL. */
function setOperation(head: Select, parts: readonly Select[], distinct: number | undefined): Select {
  const { unionAll: _, unionDistinct: __, ...rest } = head;
  if (parts.length === 0) return head;
  return { ...rest, unionAll: parts, ...(distinct !== undefined ? { unionDistinct: distinct } : {}) };
}
