/**
 * What each statement does in the shell: DDL and SET change the session, a query shows its rows,
 * INSERT INTO starts a background job, EXPLAIN prints a plan, and the shell's own commands
 * (SHOW, DESCRIBE, DROP, RESET, STOP JOB, HELP, QUIT) look at or change the session.
 */

import { didYouMean } from '@sluice/core';
import { setKeys } from '@sluice/sql';
import { FUNCTIONS } from './completion.ts';
import { describeError } from './errors.ts';
import type { ShellJobs } from './jobs.ts';
import { type QueryOutput, RESULT_SINK, resultPlugin, runQuery } from './query.ts';
import { parseOne, RESULT_TABLE, Session, type SessionScript, ShellError } from './session.ts';
import { leadingWords } from './statements.ts';

export interface StatementContext extends Omit<QueryOutput, 'write'> {
  readonly session: Session;
  readonly jobs: ShellJobs;
  write(text: string): void;
  /** Records per batch of the sources of queries and jobs; absent: the pipeline default. */
  readonly batchSize?: number;
}

/** How a statement went: the shell goes on after `ok` and `error`, and ends after `quit`. */
export type StatementResult = 'ok' | 'error' | 'quit';

export const HELP = `Statements (end each with ';'):
  CREATE TABLE name (col TYPE, …) WITH ('connector' = '…', …)   a table to read or write
  CREATE [TEMPORARY] VIEW name AS SELECT …                       a named query
  CREATE MODEL name INPUT (…) WITH (…)                           an online or ONNX model
  SELECT …                       run a query and show its result live (Ctrl-C stops it)
  INSERT INTO table SELECT …     start a job in the background
  EXPLAIN SELECT … | EXPLAIN INSERT INTO …                       print the plan
  SET 'key' = 'value'            a setting; SET; lists them, RESET ['key']; forgets them
  SET 'sql-client.execution.result-mode' = 'table' | 'changelog' | 'tableau'
  SHOW TABLES | VIEWS | MODELS | FUNCTIONS | JOBS
  DESCRIBE name                  the columns of a table or view
  DROP TABLE | VIEW | MODEL name
  STOP JOB 'id'                  stop a job (drain, final checkpoint)
  HELP, CLEAR, QUIT
`;

/** Runs one statement (its text, without `;`). Never throws: errors are printed. */
export async function runStatement(
  statement: string,
  ctx: StatementContext,
  signal: AbortSignal,
): Promise<StatementResult> {
  const alone: SessionScript = { text: statement, parts: [{ text: statement, line: 1 }] };
  try {
    return await dispatch(statement, ctx, signal);
  } catch (err) {
    ctx.write(describeError(err, alone));
    return 'error';
  }
}

async function dispatch(
  statement: string,
  ctx: StatementContext,
  signal: AbortSignal,
): Promise<StatementResult> {
  const { session } = ctx;
  const [first, second, third] = leadingWords(statement);
  switch (first) {
    case 'QUIT':
    case 'EXIT':
      return 'quit';
    case 'HELP':
      ctx.write(HELP);
      return 'ok';
    case 'CLEAR':
      if (ctx.live) ctx.write('\x1b[H\x1b[2J');
      return 'ok';
    case 'SELECT':
    case 'WITH':
      return (await runQuery(session, statement, ctx, signal, ctx.batchSize)) ? 'ok' : 'error';
    case 'SHOW':
      return show(second, ctx);
    case 'DESCRIBE':
    case 'DESC': {
      const name = nameAfter(statement, 1);
      const entry = session.find(name);
      if (entry === undefined) throw new ShellError(unknownName(session, name));
      ctx.write(`${entry.columns.map((c) => `  ${c}`).join('\n')}\n`);
      return 'ok';
    }
    case 'DROP': {
      const name = nameAfter(statement, third === 'IF' ? 4 : 2);
      if (!session.drop(name) && third !== 'IF') throw new ShellError(unknownName(session, name));
      ctx.write(`[dropped] ${name}\n`);
      return 'ok';
    }
    case 'RESET': {
      const key = /'([^']*)'/.exec(statement)?.[1];
      session.reset(key);
      ctx.write(key === undefined ? '[reset] every setting\n' : `[reset] '${key}'\n`);
      return 'ok';
    }
    case 'STOP': {
      const id = /'([^']*)'|(\d+)\s*$/.exec(statement);
      const job = second === 'JOB' && id !== null ? ctx.jobs.find(id[1] ?? id[2]) : undefined;
      if (job === undefined)
        throw new ShellError(
          `no job '${id?.[1] ?? id?.[2] ?? ''}': SHOW JOBS lists them; STOP JOB '<id>' stops one`,
        );
      job.job.stop();
      await job.done;
      ctx.jobs.reported(job.id);
      ctx.write(`[job ${job.id}] ${job.ended ?? 'stopped'}\n`);
      return 'ok';
    }
    case 'SET':
      return set(statement, ctx);
    case 'CREATE':
      return create(statement, ctx);
    case 'INSERT':
    case 'EXECUTE':
      return insert(statement, ctx);
    case 'EXPLAIN':
      return explain(statement, ctx);
  }
  // Anything else: the parser says what it expected, with a caret.
  parseOne(statement, session.file);
  throw new ShellError(
    `the shell does not run ${first ?? 'an empty statement'} statements; HELP; lists them`,
  );
}

function show(what: string | undefined, ctx: StatementContext): StatementResult {
  const { session } = ctx;
  const list = (kind: 'table' | 'view' | 'model') => {
    const names = session.entries.filter((e) => e.kind === kind).map((e) => e.name);
    return names.length > 0 ? `${names.join('\n')}\n` : `No ${kind}s.\n`;
  };
  switch (what) {
    case 'TABLES':
      ctx.write(list('table'));
      return 'ok';
    case 'VIEWS':
      ctx.write(list('view'));
      return 'ok';
    case 'MODELS':
      ctx.write(list('model'));
      return 'ok';
    case 'JOBS':
      ctx.write(ctx.jobs.describe());
      return 'ok';
    case 'FUNCTIONS':
      ctx.write(`${FUNCTIONS.join('\n')}\n`);
      return 'ok';
  }
  throw new ShellError(`SHOW what? TABLES, VIEWS, MODELS, FUNCTIONS or JOBS`);
}

function set(statement: string, ctx: StatementContext): StatementResult {
  const { session } = ctx;
  if (leadingWords(statement).length === 1) {
    ctx.write(
      `${session
        .settings()
        .map(([k, v]) => `'${k}' = '${v}'`)
        .join('\n')}\n`,
    );
    return 'ok';
  }
  const parsed = parseOne(statement, session.file);
  if (parsed.kind !== 'set') throw new ShellError("expected SET 'key' = 'value'");
  const problem = Session.unknownKey(parsed.key, setKeys);
  if (problem !== undefined) throw new ShellError(problem);
  session.set(parsed.key, parsed.value, statement);
  ctx.write(`[set] '${parsed.key}' = '${parsed.value}'\n`);
  return 'ok';
}

async function create(statement: string, ctx: StatementContext): Promise<StatementResult> {
  const { session } = ctx;
  const parsed = parseOne(statement, session.file);
  if (parsed.kind === 'create_table') {
    const columns = parsed.columns.map((c) => c.name.text);
    session.add({ kind: 'table', name: parsed.name.text, text: statement, columns });
    ctx.write(`[created] table ${parsed.name.text} (${columns.join(', ')})\n`);
  } else if (parsed.kind === 'create_model') {
    const columns = parsed.input.map((c) => c.name.text);
    session.add({ kind: 'model', name: parsed.name.text, text: statement, columns });
    ctx.write(`[created] model ${parsed.name.text}\n`);
  } else if (parsed.kind === 'create_view') {
    return createView(statement, parsed.name.text, ctx);
  } else throw new ShellError('expected CREATE TABLE, VIEW or MODEL');
  return 'ok';
}

/** A view is planned once when created, which checks it and gives its columns. */
async function createView(statement: string, name: string, ctx: StatementContext): Promise<StatementResult> {
  const { session } = ctx;
  session.add({ kind: 'view', name, text: statement, columns: [] });
  const script = session.script(`SELECT * FROM ${name}`, `INSERT INTO ${RESULT_TABLE}\n`);
  try {
    const registry = await session.registry(
      script.text,
      resultPlugin(() => {}),
    );
    const { columns } = session.planQuery(script, registry, RESULT_SINK);
    session.drop(name);
    session.add({ kind: 'view', name, text: statement, columns });
    ctx.write(`[created] view ${name} (${columns.join(', ')})\n`);
    return 'ok';
  } catch (err) {
    session.drop(name);
    ctx.write(describeError(err, session.script(statement)));
    return 'error';
  }
}

async function insert(statement: string, ctx: StatementContext): Promise<StatementResult> {
  const { session } = ctx;
  const script = session.script(statement);
  try {
    const registry = await session.registry(script.text);
    const planned = session.planInsert(script, registry);
    const plan =
      ctx.batchSize === undefined
        ? planned
        : { ...planned, settings: { ...planned.settings, batchSize: ctx.batchSize } };
    const job = await ctx.jobs.start(plan, registry, statement, script);
    ctx.write(
      `[job ${job.id}] started in the background: SHOW JOBS lists it, STOP JOB '${job.id}' stops it\n`,
    );
    return 'ok';
  } catch (err) {
    ctx.write(describeError(err, script));
    return 'error';
  }
}

async function explain(statement: string, ctx: StatementContext): Promise<StatementResult> {
  const { session } = ctx;
  const body = /^\s*EXPLAIN(\s+PLAN\s+FOR)?\s+/i.exec(statement);
  const rest = body === null ? '' : statement.slice(body[0].length);
  const [word] = leadingWords(rest);
  const query = word === 'SELECT' || word === 'WITH';
  const script = query
    ? session.script(rest, `EXPLAIN INSERT INTO ${RESULT_TABLE}\n`)
    : session.script(statement);
  try {
    const registry = await session.registry(script.text, query ? resultPlugin(() => {}) : undefined);
    ctx.write(
      query ? session.explainQuery(script, registry, RESULT_SINK) : session.explain(script, registry),
    );
    return 'ok';
  } catch (err) {
    ctx.write(describeError(err, script));
    return 'error';
  }
}

/** The `n`th word of a statement (0-based), as written, without quotes. */
function nameAfter(statement: string, n: number): string {
  const words = statement.trim().split(/\s+/);
  return (words[n] ?? '').replace(/^[`"']|[`"']$/g, '');
}

/** "no table, view or model 'x'", with a near name when there is one. */
function unknownName(session: Session, name: string): string {
  const guess = didYouMean(name, session.names());
  return `no table, view or model '${name}'${guess ? ` — did you mean '${guess}'?` : ''}; SHOW TABLES lists the tables`;
}
