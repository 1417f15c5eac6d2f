#!/usr/bin/env node
/**
 * `sluice`: run, validate and describe pipelines.
 *
 * Exit codes: 0 success (including a graceful stop on SIGINT/SIGTERM), 1 pipeline or runtime
 * error (explained in one paragraph on stderr), 2 usage error, 3 more dead letters than
 * `--max-dead-letters` allows, 130 a second interrupt.
 */

import { Command, CommanderError } from 'commander';
import { runCommand } from './run.ts';
import { describeCommand, validateCommand } from './validate.ts';

const program = new Command()
  .name('sluice')
  .description('Sluice: streaming data pipelines with event time, state, checkpoints and windows.')
  .version('0.1.0')
  .exitOverride();

program
  .command('run')
  .description('Run a pipeline (.yaml or .ts) until its input ends or it is stopped with Ctrl-C.')
  .argument('<pipeline>', 'pipeline file: .yaml, .yml or .ts')
  .option('--from-scratch', 'ignore existing checkpoints and start every source from its beginning')
  .option('--log-level <level>', 'debug, info, warn, error or silent', 'info')
  .option('--log-format <format>', 'json or text (default: text on a terminal, json otherwise)')
  .option('--no-status', 'no live status line on a terminal')
  .option(
    '--max-dead-letters <limit>',
    'fail the run (exit 3) when more records than this become dead letters: a count (0: any dead letter fails; watched while running, failing at once without a final checkpoint) or a percentage of the records read such as 5% (checked when the run ends)',
  )
  .addHelpText(
    'after',
    `
A run in which every record read became a dead letter ends with a warning (exit 0 unless
--max-dead-letters says otherwise). Exit codes: 0 done or stopped by Ctrl-C/SIGTERM, 1 error,
2 usage error, 3 dead-letter limit crossed, 130 second interrupt.`,
  )
  .action(async (file: string, opts: RunOptionsRaw) => {
    process.exitCode = await runCommand(file, opts);
  });

program
  .command('validate')
  .description(
    'Check a pipeline file without running it: options, expressions, schemas; a .ts pipeline is also type-checked with the TypeScript compiler of its project.',
  )
  .argument('<pipeline>', 'pipeline file: .yaml, .yml or .ts')
  .option('--no-type-check', 'do not type-check a .ts pipeline (no TypeScript compiler needed)')
  .action(async (file: string, opts: { typeCheck: boolean }) => {
    endQuietlyWhenStdoutCloses();
    process.exitCode = await validateCommand(file, { typeCheck: opts.typeCheck });
  });

program
  .command('describe')
  .description('List the components, or print the reference of one.')
  .argument('[type]', 'a source, step or sink type, e.g. file or aggregate')
  .action(async (type: string | undefined) => {
    endQuietlyWhenStdoutCloses();
    process.exitCode = await describeCommand(type);
  });

/**
 * `sluice describe | head`: the reader going away (EPIPE) ends the command quietly instead of with
 * a stack trace. (`run` leaves stdout to the `stdout` sink, which reports EPIPE as a sink error.)
 */
function endQuietlyWhenStdoutCloses(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(process.exitCode ?? 0);
  });
}

export interface RunOptionsRaw {
  fromScratch?: boolean;
  logLevel: string;
  logFormat?: string;
  status: boolean;
  maxDeadLetters?: string;
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else {
    throw err;
  }
}
