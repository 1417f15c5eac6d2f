/**
 * The SQL shell (`sluice sql` with no file): statements typed over one or more lines, each ended
 * by `;`, run against a session of tables, views and models. It works on any pair of streams, so
 * that tests drive it with keystrokes: on a terminal it edits lines with history and completion
 * and redraws a query's result in place; on other input it runs the statements as a script and
 * prints results in tableau form.
 */

import { createInterface, type Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { runStatement, type StatementContext } from './commands.ts';
import { complete } from './completion.ts';
import { loadHistory, saveHistory } from './history.ts';
import { ShellJobs } from './jobs.ts';
import { Session } from './session.ts';
import { StatementBuffer } from './statements.ts';

export interface ShellOptions {
  readonly input: Readable;
  readonly output: Writable & { readonly columns?: number; readonly rows?: number };
  /** Line editing, history, completion, Ctrl-C and live redraws (a TTY); otherwise a script. */
  readonly terminal: boolean;
  /** The folder relative paths in WITH options resolve against. */
  readonly cwd: string;
  /** The history file (interactive only); none when undefined. */
  readonly historyFile?: string;
  /** Milliseconds between redraws of a live result (default 100). */
  readonly redrawInterval?: number;
  /** Records per batch of the sources of queries and jobs (default: the pipeline default). */
  readonly batchSize?: number;
  /**
   * For a script: aborting it stops the running query and the jobs (the CLI aborts it on
   * SIGINT). A script otherwise waits at its end for the jobs it started to end.
   */
  readonly stop?: AbortSignal;
}

const PROMPT = 'sluice> ';
const MORE = '     -> ';

const BANNER = `Sluice SQL shell. End each statement with ';' (it may span lines). HELP; lists the
commands; Tab completes; Ctrl-C stops a running query; Ctrl-D or QUIT; leaves.
`;

/**
 * Runs the shell until its input ends, Ctrl-D or QUIT. Resolves with the exit code: 0, or (for a
 * script) 1 when a statement failed. Background jobs still running are stopped before it ends.
 */
export async function runShell(options: ShellOptions): Promise<number> {
  const session = new Session(options.cwd);
  const jobs = new ShellJobs();
  const out = options.output;
  const ctx: StatementContext = {
    session,
    jobs,
    write: (text) => out.write(text),
    live: options.terminal,
    size: () => ({ width: out.columns ?? 80, height: out.rows ?? 24 }),
    ...(options.redrawInterval !== undefined ? { redrawInterval: options.redrawInterval } : {}),
    ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
  };
  const code = options.terminal ? await interactive(options, ctx) : await script(options, ctx);
  await jobs.stopAll();
  return code;
}

/** Piped statements: run in order, results in tableau form; errors are printed and counted. */
async function script(options: ShellOptions, ctx: StatementContext): Promise<number> {
  const rl = createInterface({ input: options.input, terminal: false, crlfDelay: Number.POSITIVE_INFINITY });
  const buffer = new StatementBuffer();
  let failed = false;
  const stop = options.stop ?? new AbortController().signal;
  const stopJobs = () => {
    for (const j of ctx.jobs.all) if (j.ended === undefined) j.job.stop();
  };
  stop.addEventListener('abort', stopJobs, { once: true });
  try {
    for await (const line of rl) {
      if (stop.aborted) break;
      for (const statement of buffer.push(line)) {
        if (stop.aborted) break;
        const r = await runStatement(statement, ctx, stop);
        failed ||= r === 'error';
        if (r === 'quit') return failed ? 1 : 0;
      }
    }
  } finally {
    rl.close();
  }
  if (buffer.pending && !stop.aborted) {
    ctx.write("error: the input ended inside a statement; end it with ';'\n");
    failed = true;
  }
  const running = ctx.jobs.all.filter((j) => j.ended === undefined);
  if (running.length > 0) {
    ctx.write(`waiting for ${running.length} job(s) to end (Ctrl-C stops them)\n`);
    await Promise.all(running.map((j) => j.done));
  }
  stop.removeEventListener('abort', stopJobs);
  ctx.write(ctx.jobs.news());
  if (ctx.jobs.all.some((j) => j.ended === 'failed')) failed = true;
  return failed ? 1 : 0;
}

/** A terminal: line editing, history, completion; Ctrl-C stops a query or clears the statement. */
function interactive(options: ShellOptions, ctx: StatementContext): Promise<number> {
  const history = options.historyFile !== undefined ? loadHistory(options.historyFile) : [];
  const rl: Interface = createInterface({
    input: options.input,
    output: options.output,
    terminal: true,
    history,
    historySize: 1000,
    removeHistoryDuplicates: true,
    completer: (line: string) => complete(ctx.session, line),
    prompt: PROMPT,
  });
  /** Complete statements, newest first: what the history file keeps. */
  const statements = [...history];
  const buffer = new StatementBuffer();
  const queue: string[] = [];
  let running: AbortController | undefined;
  let busy = false;
  let closed = false;
  let historyProblem = false;

  const remember = (statement: string) => {
    const entry = `${statement.replace(/\s*\n\s*/g, ' ')};`;
    const old = statements.indexOf(entry);
    if (old >= 0) statements.splice(old, 1);
    statements.unshift(entry);
    if (options.historyFile === undefined) return;
    try {
      saveHistory(options.historyFile, statements);
    } catch (err) {
      if (!historyProblem) ctx.write(`warning: cannot write the history: ${(err as Error).message}\n`);
      historyProblem = true;
    }
  };
  const prompt = () => {
    if (closed) return;
    const news = ctx.jobs.news();
    if (news !== '') ctx.write(news);
    rl.setPrompt(buffer.pending ? MORE : PROMPT);
    // Keep the cursor after what was typed ahead while a statement ran.
    rl.prompt(true);
  };

  return new Promise<number>((resolveShell) => {
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      running?.abort();
      if (!closed) rl.close();
      resolveShell(0);
    };
    const drain = async () => {
      if (busy) return;
      busy = true;
      while (queue.length > 0 && !closed) {
        const statement = queue.shift() as string;
        running = new AbortController();
        const r = await runStatement(statement, ctx, running.signal);
        running = undefined;
        if (r === 'quit') {
          busy = false;
          finish();
          return;
        }
      }
      busy = false;
      if (closed) finish();
      else prompt();
    };

    ctx.write(BANNER);
    rl.on('line', (line) => {
      const done = buffer.push(line);
      // The history holds whole statements, not the lines typed: readline added this line.
      history.length = 0;
      history.push(...statements);
      for (const statement of done) {
        remember(statement);
        queue.push(statement);
      }
      history.length = 0;
      history.push(...statements);
      if (/^\s*(quit|exit)\s*$/i.test(line) && !buffer.pending && done.length === 0) queue.push('QUIT');
      if (queue.length > 0) void drain();
      else if (!busy) prompt();
    });
    rl.on('SIGINT', () => {
      if (running !== undefined) {
        running.abort();
        return;
      }
      if (busy) return;
      buffer.clear();
      rl.write(null, { ctrl: true, name: 'e' });
      rl.write(null, { ctrl: true, name: 'u' });
      ctx.write('^C\n');
      prompt();
    });
    rl.on('close', () => {
      closed = true;
      ctx.write('\n');
      if (busy) running?.abort();
      else finish();
    });
    prompt();
  });
}
