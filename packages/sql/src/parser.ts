/**
 * The statement parser: a recursive-descent parser over the tokens of the expression lexer, which
 * hands every scalar expression to the expression parser (`parseExpressionFrom`), so that a SQL
 * expression parses exactly as the same expression in a YAML pipeline.
 *
 * It reads the statements this front end plans (see `ast.ts`) and names the Flink SQL it does not
 * plan yet where it meets it, rather than failing on it as a syntax error. Queries are read by
 * `query-parser.ts`, which this file's parser extends with the statements around them.
 */

import type {
  ColumnDef,
  CreateFunction,
  CreateModel,
  CreateTable,
  CreateView,
  Explain,
  Insert,
  ModelColumn,
  Name,
  PrimaryKey,
  SetStatement,
  Statement,
  TableOption,
  Watermark,
} from './ast.ts';
import { describe, EXPLAIN_DETAILS, SUPPORTED } from './parser-words.ts';
import type { Positions } from './position.ts';
import { QueryParser } from './query-parser.ts';

/** Words that end a column's type: the clauses that may follow it. */
const COLUMN_CLAUSES = new Set(['METADATA', 'PRIMARY', 'COMMENT', 'CONSTRAINT']);

class ScriptParser extends QueryParser {
  script(): Statement[] {
    const statements: Statement[] = [];
    for (;;) {
      while (this.isOp(';')) this.pos++;
      if (this.peek().kind === 'end') return statements;
      statements.push(...this.statement());
      const t = this.peek();
      if (t.kind !== 'end' && !this.isOp(';'))
        this.fail(t.start, `expected ';' after the statement, found ${describe(t)}`);
    }
  }

  statement(): Statement[] {
    const t = this.peek();
    if (t.kind === 'word') {
      switch (t.upper) {
        case 'CREATE':
          return [this.create()];
        case 'INSERT':
          return [this.insert()];
        case 'EXECUTE':
          return this.statementSet();
        case 'SET':
          return [this.set()];
        case 'EXPLAIN':
          return [this.explain()];
        case 'SELECT':
          return this.fail(
            t.start,
            'a SELECT on its own has nowhere to go: write INSERT INTO <table> SELECT …, with the table created WITH a sink connector',
          );
      }
    }
    return this.fail(t.start, `expected a statement (${SUPPORTED}), found ${describe(t)}`);
  }

  set(): SetStatement {
    const start = this.expectKeyword('SET', 'to start the statement').start;
    const key = this.next();
    if (key.kind !== 'string')
      this.fail(
        key.start,
        `expected a setting name in single quotes, e.g. SET 'pipeline.name' = 'orders', found ${describe(key)}`,
      );
    this.expect('=', `after SET '${key.text}'`);
    const value = this.next();
    if (value.kind !== 'string' && value.kind !== 'number')
      this.fail(
        value.start,
        `expected the value of '${key.text}' in single quotes, found ${describe(value)}`,
      );
    return { kind: 'set', key: key.text, value: value.text, valueStart: value.start, start };
  }

  /** `EXPLAIN [PLAN FOR | detail, …] INSERT …` or `… EXECUTE STATEMENT SET …`. */
  explain(): Explain {
    const start = this.expectKeyword('EXPLAIN', 'to start the statement').start;
    if (this.acceptWord('PLAN')) this.expectKeyword('FOR', 'after EXPLAIN PLAN');
    // Flink's details (CHANGELOG_MODE, ESTIMATED_COST, …) choose what it prints; this prints all it has.
    while (this.peek().kind === 'word' && EXPLAIN_DETAILS.has(this.peek().upper)) {
      this.pos++;
      if (this.isOp(',')) this.pos++;
    }
    const t = this.peek();
    if (this.isWord('INSERT')) return { kind: 'explain', inserts: [this.insert()], start };
    if (this.isWord('EXECUTE')) return { kind: 'explain', inserts: this.statementSet(), start };
    if (this.isWord('SELECT') || this.isWord('WITH'))
      this.fail(
        t.start,
        'EXPLAIN a query with the table it writes into: EXPLAIN INSERT INTO <table> SELECT …',
      );
    return this.fail(
      t.start,
      `expected INSERT INTO or EXECUTE STATEMENT SET after EXPLAIN, found ${describe(t)}`,
    );
  }

  statementSet(): Insert[] {
    this.expectKeyword('EXECUTE', 'to start a statement set');
    this.expectKeyword('STATEMENT', 'in EXECUTE STATEMENT SET');
    this.expectKeyword('SET', 'in EXECUTE STATEMENT SET');
    this.expectKeyword('BEGIN', 'after EXECUTE STATEMENT SET');
    const inserts: Insert[] = [];
    for (;;) {
      while (this.isOp(';')) this.pos++;
      if (this.acceptWord('END')) break;
      if (!this.isWord('INSERT'))
        this.fail(
          this.peek().start,
          `expected INSERT INTO or END in the statement set, found ${describe(this.peek())}`,
        );
      inserts.push(this.insert());
    }
    return inserts;
  }

  create(): Statement {
    const start = this.expectKeyword('CREATE', 'to start the statement').start;
    const t = this.peek();
    if (this.acceptWord('TABLE')) return this.createTable(start);
    this.acceptWord('TEMPORARY');
    if (this.acceptWord('VIEW')) return this.createView(start);
    if (this.acceptWord('MODEL')) return this.createModel(start);
    this.acceptWord('SYSTEM');
    if (this.acceptWord('FUNCTION')) return this.createFunction(start);
    return this.fail(t.start, `expected TABLE, VIEW, MODEL or FUNCTION after CREATE, found ${describe(t)}`);
  }

  /** `CREATE [TEMPORARY] [SYSTEM] FUNCTION [IF NOT EXISTS] name AS 'class' [LANGUAGE lang]`. */
  createFunction(start: number): CreateFunction {
    if (this.acceptWord('IF')) {
      this.expectKeyword('NOT', 'in IF NOT EXISTS');
      this.expectKeyword('EXISTS', 'in IF NOT EXISTS');
    }
    const name = this.name('a function name after CREATE FUNCTION');
    this.expectKeyword(
      'AS',
      `and the implementation after CREATE FUNCTION ${name.text}, e.g. AS 'com.example.MyFunction'`,
    );
    const impl = this.next();
    if (impl.kind !== 'string')
      this.fail(impl.start, `expected the implementation as a string after AS, found ${describe(impl)}`);
    if (this.acceptWord('LANGUAGE')) this.next();
    if (this.isWord('USING'))
      this.fail(
        this.peek().start,
        'not supported by Sluice SQL: USING JAR (define the function from TypeScript)',
      );
    return { kind: 'create_function', name, start };
  }

  /** `CREATE MODEL name INPUT (col TYPE, …) [OUTPUT (col TYPE, …)] WITH (…)`, Flink 2.x's shape. */
  createModel(start: number): CreateModel {
    const name = this.name('a model name after CREATE MODEL');
    const shape = `CREATE MODEL ${name.text} INPUT (amount DOUBLE, country STRING) WITH ('type' = 'logistic_regression', 'label' = 'is_fraud')`;
    if (!this.isWord('INPUT'))
      this.fail(
        this.peek().start,
        `expected INPUT and the model's features after CREATE MODEL ${name.text}, found ${describe(this.peek())}: ${shape}`,
      );
    this.pos++;
    const input = this.modelColumns('INPUT', name.text);
    const output = this.acceptWord('OUTPUT') ? this.modelColumns('OUTPUT', name.text) : undefined;
    if (this.isWord('COMMENT')) this.notYet(this.peek(), 'COMMENT');
    this.expectKeyword('WITH', `and the model's options after its columns: ${shape}`);
    return {
      kind: 'create_model',
      name,
      input,
      ...(output ? { output } : {}),
      options: this.options(),
      start,
    };
  }

  /** The `(col TYPE, …)` of a model's INPUT or OUTPUT. */
  modelColumns(clause: string, model: string): ModelColumn[] {
    const open = this.expect('(', `and the columns after ${clause}`);
    const columns: ModelColumn[] = [];
    do {
      if (columns.length > 0) this.pos++;
      const at = this.peek();
      const { def, key } = this.column();
      if (def.computed || def.metadata || key)
        this.fail(
          at.start,
          `the ${clause} of model '${model}' lists plain columns with their types, e.g. ${clause} (amount DOUBLE)`,
        );
      if (columns.some((c) => c.name.text === def.name.text))
        this.fail(def.name.start, `column '${def.name.text}' is twice in the ${clause} of model '${model}'`);
      columns.push({ name: def.name, type: def.type });
    } while (this.isOp(','));
    this.expect(')', `to close the ${clause} columns opened at ${this.where(open.start)}`);
    return columns;
  }

  createTable(start: number): CreateTable {
    const name = this.name('a table name after CREATE TABLE');
    const open = this.expect('(', `and the columns of table '${name.text}'`);
    const columns: ColumnDef[] = [];
    let watermark: Watermark | undefined;
    let primaryKey: PrimaryKey | undefined;
    const setKey = (key: PrimaryKey) => {
      if (primaryKey !== undefined)
        this.fail(
          key.start,
          `table '${name.text}' has two primary keys; list every column in one PRIMARY KEY (…)`,
        );
      primaryKey = key;
    };
    for (;;) {
      const t = this.peek();
      if (this.isWord('WATERMARK')) {
        if (watermark !== undefined) this.fail(t.start, `table '${name.text}' has two WATERMARK clauses`);
        watermark = this.watermark();
      } else if (this.isWord('PRIMARY') || this.isWord('CONSTRAINT')) {
        setKey(this.primaryKey());
      } else {
        const column = this.column();
        columns.push(column.def);
        if (column.key !== undefined) setKey(column.key);
      }
      if (this.isOp(',')) {
        this.pos++;
        continue;
      }
      this.expect(')', `to close the columns of table '${name.text}' opened at ${this.where(open.start)}`);
      break;
    }
    if (columns.length === 0) this.fail(open.start, `table '${name.text}' declares no column`);
    this.expectKeyword(
      'WITH',
      `and its connector options, e.g. WITH ('connector' = 'file', 'path' = './in.jsonl') after the columns of table '${name.text}'`,
    );
    return {
      kind: 'create_table',
      name,
      columns,
      ...(watermark ? { watermark } : {}),
      ...(primaryKey ? { primaryKey } : {}),
      options: this.options(),
      start,
    };
  }

  /** `[CONSTRAINT name] PRIMARY KEY (col, …) NOT ENFORCED`. */
  primaryKey(): PrimaryKey {
    const start = this.peek().start;
    if (this.acceptWord('CONSTRAINT')) this.name('a constraint name after CONSTRAINT');
    this.expectKeyword('PRIMARY', 'after CONSTRAINT <name>');
    this.expectKeyword('KEY', 'after PRIMARY');
    const open = this.expect('(', 'and the key columns after PRIMARY KEY');
    const columns: Name[] = [this.name('a column name in PRIMARY KEY (…)')];
    while (this.isOp(',')) {
      this.pos++;
      columns.push(this.name('a column name in PRIMARY KEY (…)'));
    }
    this.expect(')', `to close the key columns opened at ${this.where(open.start)}`);
    this.notEnforced();
    return { columns, start };
  }

  /** `NOT ENFORCED` after a primary key: Sluice, as Flink, does not check that keys are unique. */
  notEnforced(): void {
    const t = this.peek();
    if (!(this.isWord('NOT') && this.isWord('ENFORCED', 1)))
      this.fail(
        t.start,
        `expected NOT ENFORCED after the primary key, found ${describe(t)}: Sluice, as Flink, does not check that rows have unique keys, so a key must be declared NOT ENFORCED`,
      );
    this.pos += 2;
  }

  column(): { def: ColumnDef; key?: PrimaryKey } {
    const name = this.name('a column name');
    if (this.acceptWord('AS')) {
      const computed = this.expression();
      if (this.isWord('COMMENT')) this.notYet(this.peek(), 'COMMENT');
      return { def: { name, type: '', computed } };
    }
    const first = this.peek();
    if (first.kind !== 'word' || first.upper === 'METADATA' || first.upper === 'PRIMARY')
      this.fail(first.start, `expected the type of column '${name.text}', found ${describe(first)}`);
    let depth = 0;
    let end = first.end;
    while (this.peek().kind !== 'end') {
      const t = this.peek();
      if (depth === 0 && t.kind === 'word' && COLUMN_CLAUSES.has(t.upper)) break;
      if (t.kind === 'op' && (t.text === '(' || t.text === '<')) depth++;
      else if (t.kind === 'op' && (t.text === ')' || t.text === '>')) {
        if (depth === 0) break;
        depth--;
      } else if (t.kind === 'op' && t.text === ',' && depth === 0) break;
      end = t.end;
      this.pos++;
    }
    const type = this.source.slice(first.start, end);
    let metadata: ColumnDef['metadata'];
    const at = this.peek();
    if (this.acceptWord('METADATA')) {
      let key = name.text;
      if (this.acceptWord('FROM')) {
        const k = this.next();
        if (k.kind !== 'string')
          this.fail(
            k.start,
            `expected the metadata key in single quotes after METADATA FROM, e.g. 'timestamp', found ${describe(k)}`,
          );
        key = k.text;
      }
      metadata = { key, virtual: this.acceptWord('VIRTUAL'), start: at.start };
    }
    let key: PrimaryKey | undefined;
    const keyAt = this.peek();
    if (this.acceptWord('PRIMARY')) {
      this.expectKeyword('KEY', 'after PRIMARY');
      this.notEnforced();
      key = { columns: [name], start: keyAt.start };
    }
    if (this.isWord('COMMENT')) this.notYet(this.peek(), 'COMMENT');
    return { def: { name, type, ...(metadata ? { metadata } : {}) }, ...(key ? { key } : {}) };
  }

  watermark(): Watermark {
    const start = this.expectKeyword('WATERMARK', 'to start the watermark').start;
    this.expectKeyword('FOR', 'after WATERMARK');
    const column = this.name('the event-time column after WATERMARK FOR');
    this.expectKeyword('AS', `and the watermark expression after WATERMARK FOR ${column.text}`);
    const { expr } = this.expression();
    const shape = `write WATERMARK FOR ${column.text} AS ${column.text} - INTERVAL 'n' SECOND (the largest lateness the source allows), or AS ${column.text} for none`;
    if (expr.kind === 'field' && expr.name === column.text) return { column, delay: 0, start };
    if (
      expr.kind === 'binary' &&
      expr.op === '-' &&
      expr.left.kind === 'field' &&
      expr.left.name === column.text &&
      expr.right.kind === 'literal' &&
      typeof expr.right.value === 'number' &&
      this.tokens.find((t) => t.start === expr.right.start)?.upper === 'INTERVAL'
    ) {
      if (expr.right.value < 0)
        this.fail(expr.right.start, `the watermark delay cannot be negative; ${shape}`);
      return { column, delay: expr.right.value, start };
    }
    return this.fail(
      expr.start,
      `the watermark must be the column or the column minus an interval: ${shape}`,
    );
  }

  options(): TableOption[] {
    const open = this.expect('(', "after WITH, e.g. WITH ('connector' = 'file', 'path' = './in.jsonl')");
    const options: TableOption[] = [];
    while (!this.isOp(')')) {
      if (options.length > 0) this.expect(',', 'between options');
      const key = this.next();
      if (key.kind !== 'string')
        this.fail(key.start, `expected an option name in single quotes, e.g. 'path', found ${describe(key)}`);
      this.expect('=', `after option '${key.text}'`);
      const v = this.next();
      let value: string | number | boolean;
      if (v.kind === 'string') value = v.text;
      else if (v.kind === 'number') value = v.value;
      else if (v.kind === 'word' && (v.upper === 'TRUE' || v.upper === 'FALSE')) value = v.upper === 'TRUE';
      else if (v.kind === 'op' && v.text === '-' && this.peek().kind === 'number') value = -this.next().value;
      else
        return this.fail(
          v.start,
          `expected the value of option '${key.text}' (a string in single quotes), found ${describe(v)}`,
        );
      if (options.some((o) => o.key === key.text))
        this.fail(key.start, `option '${key.text}' is given twice`);
      options.push({ key: key.text, value, start: key.start });
    }
    this.expect(')', `to close the options opened at ${this.where(open.start)}`);
    return options;
  }

  createView(start: number): CreateView {
    const name = this.name('a view name after CREATE VIEW');
    this.expectKeyword('AS', `and a query after CREATE VIEW ${name.text}`);
    return { kind: 'create_view', name, query: this.query(), start };
  }

  insert(): Insert {
    const start = this.expectKeyword('INSERT', 'to start the statement').start;
    this.expectKeyword('INTO', 'after INSERT');
    const sink = this.name('a table name after INSERT INTO');
    // `INSERT INTO t (SELECT …)` is a query in parentheses; `INSERT INTO t (a, b)` a column list.
    if (this.isOp('(') && !this.isWord('SELECT', 1) && !this.isWord('WITH', 1) && !this.isOp('(', 1))
      this.notYet(this.peek(), 'a column list after INSERT INTO');
    return { kind: 'insert', sink, query: this.query(), start };
  }
}

/**
 * Parses a SQL script into its statements. Throws CONFIG_PARSE with the file, line and column of
 * the first syntax error.
 */
export function parseScript(text: string, positions: Positions): Statement[] {
  try {
    return new ScriptParser(text, positions).script();
  } catch (err) {
    throw positions.relocate(err);
  }
}
