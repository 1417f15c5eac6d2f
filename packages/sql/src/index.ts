/**
 * Streaming SQL for Sluice: a script of Flink-style statements compiled to the plan a YAML
 * pipeline produces, which then passes the same gate (`resolvePlan`) and runs on the same engine.
 *
 * ```ts
 * const plan = compileSql(text, 'query.sql', { registry });
 * await Job.validate(plan, { registry });
 * ```
 */

import { readFile } from 'node:fs/promises';
import { type Plan, type Registry, SluiceError } from '@sluice/core';
import type { CreateTable, Explain, Statement } from './ast.ts';
import { explainPlan } from './explain.ts';
import { modelStepType } from './model.ts';
import { parseScript } from './parser.ts';
import { planStatements } from './planner.ts';
import { Positions } from './position.ts';
import { SET_KEYS } from './settings.ts';

export type { Statement } from './ast.ts';
export { expandSql, sql, sqlStep } from './sql-step.ts';

/** The keys a script's `SET 'key' = 'value'` may set (see `settings.ts`). */
export const setKeys: readonly string[] = Object.keys(SET_KEYS);

export interface SqlOptions {
  /** The component types the script's `'connector'` options may name. */
  readonly registry: Registry;
}

/**
 * Compiles a SQL script into a plan: sources and sinks from `CREATE TABLE` (their `WITH` options
 * are the component specs' options), steps from each `INSERT INTO … SELECT`, and `locations`
 * pointing every config path at its line and column in the script. The plan is not yet resolved:
 * `resolvePlan` (which `Job` runs) validates the configs and type-checks the expressions, and its
 * errors carry the script's positions. `file` names the script in messages; relative paths
 * resolve against its folder. Throws CONFIG_PARSE (syntax) or CONFIG_INVALID (a name or shape
 * the planner refuses) with file, line and column.
 */
export function compileSql(text: string, file: string, options: SqlOptions): Plan {
  const positions = new Positions(text, file);
  return planStatements(parseScript(text, positions), file, options.registry, positions);
}

/**
 * The plans of a script's `EXPLAIN` statements in words (see `explain.ts`), or undefined when it
 * has none; `only` tells whether the script has nothing but EXPLAINs to run. `compileSql` leaves
 * the EXPLAINs out of the plan it runs. Throws what compiling and resolving the explained
 * statements throw, with file, line and column.
 */
export function explainSql(
  text: string,
  file: string,
  options: SqlOptions,
): { readonly text: string; readonly only: boolean } | undefined {
  const positions = new Positions(text, file);
  const statements = parseScript(text, positions);
  if (!statements.some((s) => s.kind === 'explain')) return undefined;
  const explained = new Map<Explain, string[]>();
  const plan = planStatements(statements, file, options.registry, positions, explained);
  return {
    text: explainPlan(plan, explained, options.registry, positions),
    only: !statements.some((s) => s.kind === 'insert'),
  };
}

/**
 * The plan in words of the job a script runs (`sluice sql --explain`): its `INSERT INTO`
 * statements (a statement set's too) explained together, as one job, after the script's own
 * `EXPLAIN`s. Throws CONFIG_INVALID when the script has neither, and what compiling and resolving
 * throw, with file, line and column.
 */
export function explainScript(text: string, file: string, options: SqlOptions): string {
  const positions = new Positions(text, file);
  const statements = parseScript(text, positions);
  const inserts = statements.filter((s) => s.kind === 'insert');
  if (inserts.length === 0 && !statements.some((s) => s.kind === 'explain'))
    throw new SluiceError(
      'CONFIG_INVALID',
      'nothing to explain: the script has no INSERT INTO and no EXPLAIN',
      {
        file,
      },
    );
  // The inserts are planned where the last of them stands, after every statement they may read.
  const last = inserts.at(-1);
  const job: Explain | undefined = last && { kind: 'explain', inserts, start: inserts[0].start };
  const rewritten = statements.flatMap((s) => (s.kind !== 'insert' ? [s] : s === last && job ? [job] : []));
  const explained = new Map<Explain, string[]>();
  const plan = planStatements(rewritten, file, options.registry, positions, explained);
  return explainPlan(plan, explained, options.registry, positions);
}

/** Where `compileQuery` and `explainQuery` send a query's rows: a table name no script uses, and a sink type. */
export interface QueryTarget {
  readonly into: string;
  readonly sink: string;
}

/**
 * Compiles a script whose last statement is `INSERT INTO <into> SELECT …`, where `into` names no
 * table of the script, for a client that shows a query's rows (the SQL shell): the rows go to a
 * sink of type `sink` (with no options) under the query's own column names, which the resolved
 * plan's schema of the sink's input lists. Throws what `compileSql` throws.
 */
export function compileQuery(text: string, file: string, options: SqlOptions & QueryTarget): Plan {
  const positions = new Positions(text, file);
  const statements = parseScript(text, positions);
  const last = statements.at(-1);
  if (last?.kind !== 'insert' || last.sink.text !== options.into)
    throw new SluiceError(
      'CONFIG_INVALID',
      `the query must end the script as INSERT INTO ${options.into} …`,
      {
        file,
      },
    );
  const table = queryTable(options, last.sink.start);
  return planStatements([...statements.slice(0, -1), table, last], file, options.registry, positions);
}

/**
 * The plan in words (as `explainSql` gives it) of a script whose last statement is
 * `EXPLAIN INSERT INTO <into> SELECT …`, `into` being the query's rows as in `compileQuery`.
 */
export function explainQuery(text: string, file: string, options: SqlOptions & QueryTarget): string {
  const positions = new Positions(text, file);
  const statements = parseScript(text, positions);
  const last = statements.at(-1);
  const insert = last?.kind === 'explain' && last.inserts.length === 1 ? last.inserts[0] : undefined;
  if (last === undefined || insert === undefined || insert.sink.text !== options.into)
    throw new SluiceError(
      'CONFIG_INVALID',
      `the script must end with EXPLAIN INSERT INTO ${options.into} …`,
      {
        file,
      },
    );
  const explained = new Map<Explain, string[]>();
  const table = queryTable(options, insert.sink.start);
  const plan = planStatements(
    [...statements.slice(0, -1), table, last],
    file,
    options.registry,
    positions,
    explained,
  );
  return explainPlan(plan, explained, options.registry, positions);
}

/** The table without columns a query's rows go to: the planner gives it the query's columns. */
function queryTable(target: QueryTarget, at: number): CreateTable {
  return {
    kind: 'create_table',
    name: { text: target.into, start: at },
    columns: [],
    options: [{ key: 'connector', value: target.sink, start: at }],
    start: at,
  };
}

/**
 * The statements of a script as the parser reads them (for a client that keeps a session of
 * them, such as the SQL shell). Throws CONFIG_PARSE with file, line and column.
 */
export function parseSql(text: string, file: string): Statement[] {
  return parseScript(text, new Positions(text, file));
}

/** Reads a SQL script and compiles it with `compileSql`; an unreadable file is CONFIG_PARSE. */
export async function loadSqlFile(file: string, options: SqlOptions): Promise<Plan> {
  return compileSql(await readScript(file), file, options);
}

/**
 * The connector types a script names (`'connector' = 'kafka'`) and the step types its models
 * become (`learn_predict`, `predict`, `score`), for loading the packages that provide them; empty
 * when the script does not parse (compiling it reports why).
 */
export function connectorTypesInSql(text: string, file = 'script.sql'): Set<string> {
  const types = new Set<string>();
  let statements: ReturnType<typeof parseScript>;
  try {
    statements = parseScript(text, new Positions(text, file));
  } catch {
    return types;
  }
  for (const s of statements) {
    if (s.kind === 'create_model') types.add(modelStepType(s));
    if (s.kind !== 'create_table') continue;
    const connector = s.options.find((o) => o.key === 'connector');
    if (connector !== undefined) types.add(String(connector.value));
  }
  return types;
}

/** The text of a script file; CONFIG_PARSE when it cannot be read. */
export async function readScript(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new SluiceError('CONFIG_PARSE', `cannot read the SQL script: ${(err as Error).message}`, {
      file,
      cause: err,
    });
  }
}
