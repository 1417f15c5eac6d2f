/**
 * `sluice sql [script]`: the SQL shell on the terminal, or a script of statements (a file, or
 * statements piped to stdin) run in order with results printed in tableau form.
 */

import { createReadStream } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { text as readAll } from 'node:stream/consumers';
import { connectorTypesInSql, explainScript } from '@sluice/sql';
import { explain } from '../explain.ts';
import { registryFor } from '../plugins.ts';
import { historyFile } from './history.ts';
import { runShell } from './shell.ts';

/** Runs the shell or the script, or with `explain` prints the plan of the script's job; resolves with the exit code. */
export async function sqlCommand(
  file: string | undefined,
  options: { readonly explain?: boolean } = {},
): Promise<number> {
  if (options.explain === true) return explainCommand(file);
  if (file !== undefined) {
    try {
      await access(file);
    } catch {
      process.stderr.write(`sluice sql: cannot read ${file}\n`);
      return 1;
    }
    return script(createReadStream(file), dirname(resolve(file)));
  }
  if (process.stdin.isTTY !== true || process.stdout.isTTY !== true)
    return script(process.stdin, process.cwd());
  // The shell handles Ctrl-C itself (readline reads it as a key in raw mode).
  return runShell({
    input: process.stdin,
    output: process.stdout,
    terminal: true,
    cwd: process.cwd(),
    historyFile: historyFile(),
  });
}

/** Statements run as a script; the first SIGINT stops the query and jobs, a second exits at once. */
async function script(input: Readable, cwd: string): Promise<number> {
  const stop = new AbortController();
  const onSignal = () => {
    if (stop.signal.aborted) process.exit(130);
    process.stderr.write('sluice sql: stopping the query and jobs (again to exit at once)\n');
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await runShell({ input, output: process.stdout, terminal: false, cwd, stop: stop.signal });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * `sluice sql --explain`: the plan of the job the script (a file, or statements piped to stdin)
 * would run, in words, without running it; errors with file, line and column (exit 1).
 */
async function explainCommand(file: string | undefined): Promise<number> {
  const name = file ?? '<stdin>';
  let text: string;
  try {
    if (file !== undefined) text = await readFile(file, 'utf8');
    else if (process.stdin.isTTY !== true) text = await readAll(process.stdin);
    else {
      process.stderr.write('sluice sql --explain: give a script, or pipe its statements to stdin\n');
      return 1;
    }
  } catch {
    process.stderr.write(`sluice sql: cannot read ${name}\n`);
    return 1;
  }
  try {
    const registry = await registryFor(connectorTypesInSql(text, name));
    process.stdout.write(explainScript(text, file === undefined ? name : resolve(file), { registry }));
    return 0;
  } catch (err) {
    process.stderr.write(explain(err, name));
    return 1;
  }
}
