/**
 * The commands of `sluice`, built by `sluiceProgram()`.
 */

import { pipelineFileExtensions } from '@sluice/core';
import { Command } from 'commander';
import { type NexmarkOptionsRaw, nexmarkCommand, nexmarkDefault } from './nexmark.ts';
import { queryCommand } from './query.ts';
import { runCommand } from './run.ts';
import { sqlCommand } from './sql-shell/command.ts';
import { topCommand } from './top.ts';
import { describeCommand, validateCommand } from './validate.ts';
import { runWorkerCommand } from './worker.ts';
import { NO_LIVE_OWNER_EXIT, type StatusOptionsRaw, statusCommand } from './workers-status.ts';

/**
 * The `sluice` command line: every command with its options, help and action. `main.ts` parses
 * the process's arguments with it; the CLI reference page (docs/reference/cli.md) is its help.
 */
export function sluiceProgram(): Command {
  const program = new Command()
    .name('sluice')
    .description('Sluice: streaming data pipelines with event time, state, checkpoints and windows.')
    .version('0.1.0')
    .exitOverride();

  program
    .command('run')
    .description(
      'Run a pipeline (.yaml, .ts or a .sql script) until its input ends or it is stopped with Ctrl-C.',
    )
    .argument('<pipeline>', `pipeline file: ${pipelineFileExtensions()}, or a .sql script`)
    .option('--from-scratch', 'ignore existing checkpoints and start every source from its beginning')
    .option('--log-level <level>', 'debug, info, warn, error or silent', 'info')
    .option('--log-format <format>', 'json or text (default: text on a terminal, json otherwise)')
    .option('--no-status', 'no live status line on a terminal')
    .option(
      '--serve <[host:]port>',
      "serve the operations API, /metrics and the pipeline's views over HTTP (needs @sluice/server; host default 127.0.0.1; tokens from SLUICE_READ_TOKEN and SLUICE_ADMIN_TOKEN; SLUICE_INGEST_TOKEN guards http_server sources without a token of their own)",
    )
    .option(
      '--serve-tls-cert <file>',
      'with --serve: serve HTTPS with this PEM certificate (chain); needs --serve-tls-key',
    )
    .option('--serve-tls-key <file>', 'with --serve: the PEM private key of --serve-tls-cert')
    .option(
      '--serve-rate-limit <rate>',
      'with --serve: requests per second per client address, optionally with how many at once after a quiet spell: 50 or 50,200 (the burst defaults to the rate); beyond it 429 with Retry-After. Default: no limit',
    )
    .option(
      '--max-dead-letters <limit>',
      'fail the run (exit 3) when more records than this become dead letters: a count (0: any dead letter fails; watched while running, failing at once without a final checkpoint) or a percentage of the records read such as 5% (checked when the run ends)',
    )
    .option(
      '--worker-id <id>',
      'run as one worker of a pipeline scaled out over Kafka: the workers with the same pipeline share its partitions (one task per partition number), each task checkpointing to the shared --checkpoint-store',
    )
    .option(
      '--checkpoint-store <url>',
      'with --worker-id: the shared checkpoint store, postgres://user@host:5432/db or s3://bucket/prefix/?endpoint=…&force_path_style=true (credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; default: $SLUICE_CHECKPOINT_STORE)',
    )
    .option(
      '--lease <duration>',
      "with --worker-id: how long a killed worker's tasks stay its own before another worker takes them over (default 10s)",
    )
    .option(
      '--threads <n>',
      'with --worker-id: run n workers of the group in this process, one per worker thread, named <id>.0 … <id>.<n-1>, so that one process uses n cores (default: the number of cores; 1 runs one worker named <id> on the main thread)',
    )
    .option(
      '--restart-attempts <n>',
      "restart a job that failed transiently (a sink or source unreachable past its own retries, a lost connection) from its last checkpoint, up to n times in a row (a run of an hour without failure starts the count again); a configuration or data error fails at once. Default: 10 for each task of a --worker-id worker (the worker's other tasks run on meanwhile), 0 (no restart) for a single process",
    )
    .option(
      '--restart-backoff <delays>',
      "with restarts: first[,longest] — the delay before the first restart, growing 1.5 times with each further failure in a row up to the longest, each moved by up to ±10%, such as 500ms,30s (default 1s,1m: the defaults of Flink's exponential-delay restart strategy)",
    )
    .addHelpText(
      'after',
      `
A run in which every record read became a dead letter ends with a warning (exit 0 unless
--max-dead-letters says otherwise). Exit codes: 0 done or stopped by Ctrl-C/SIGTERM, 1 error,
2 usage error, 3 dead-letter limit crossed, 130 second interrupt.`,
    )
    .action(async (file: string, opts: RunOptionsRaw) => {
      const { workerId } = opts;
      if (workerId === undefined && opts.threads !== undefined) {
        process.stderr.write(
          'sluice: --threads needs --worker-id (the threads are workers of a scaled-out pipeline)\n',
        );
        process.exitCode = 2;
        return;
      }
      process.exitCode =
        workerId === undefined
          ? await runCommand(file, opts)
          : await runWorkerCommand(file, { ...opts, workerId });
    });

  program
    .command('validate')
    .description(
      'Check a pipeline file without running it: options, expressions, schemas; a .ts pipeline is also type-checked with the TypeScript compiler of its project.',
    )
    .argument('<pipeline>', `pipeline file: ${pipelineFileExtensions()}, or a .sql script`)
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

  program
    .command('query')
    .description(
      "Run read-only SQL over the DuckDB file a pipeline's duckdb sink writes: answered by the running pipeline when its sink sets serve_queries, else by the file opened read-only.",
    )
    .argument('<pipeline>', `pipeline file: ${pipelineFileExtensions()}, or a .sql script`)
    .argument('<sql>', 'one SELECT statement')
    .option('--sink <id>', 'the duckdb sink to query, when the pipeline has several')
    .option('--json', 'print one JSON object per row instead of a table')
    .action(async (file: string, sql: string, opts: { sink?: string; json?: boolean }) => {
      endQuietlyWhenStdoutCloses();
      process.exitCode = await queryCommand(file, sql, opts);
    });

  program
    .command('sql')
    .description(
      'The SQL shell: with no script on a terminal, an interactive session (statements over several lines ended by ;, history, Tab completion, SELECT results shown live, INSERT INTO jobs in the background); a script, or statements piped to stdin, run in order with results printed in tableau form.',
    )
    .argument('[script]', 'a .sql file of statements to run instead of the interactive shell')
    .option(
      '--explain',
      "print the plan of the script's job (its INSERT INTO statements, as EXPLAIN prints them: steps, keys, state, changelog modes, watermarks) without running it",
    )
    .addHelpText(
      'after',
      `
History is kept in $SLUICE_HOME/sql-history (default ~/.sluice/sql-history). HELP; in the shell
lists its statements. SET 'sql-client.execution.result-mode' = 'table' | 'changelog' | 'tableau'
chooses how a SELECT is shown; Ctrl-C stops a running SELECT, Ctrl-D or QUIT; ends the shell
(stopping its jobs). Exit codes: 0 done, 1 a statement of a script or of piped input failed.`,
    )
    .action(async (file: string | undefined, opts: { explain?: boolean }) => {
      endQuietlyWhenStdoutCloses();
      process.exitCode = await sqlCommand(file, opts);
    });

  program
    .command('top')
    .description(
      'Watch a running pipeline in the terminal: status, watermark lag, checkpoint age, and per source, step and sink its rates, totals and queue fill (from the API of `sluice run --serve`).',
    )
    .argument('[url]', 'the server of `sluice run --serve`', 'http://127.0.0.1:8080')
    .option('--token <token>', 'read token (default: SLUICE_READ_TOKEN)')
    .option('--interval <ms>', 'milliseconds between frames', '1000')
    .option('--once', 'print one frame and exit')
    .action(async (url: string, opts: { token?: string; interval: string; once?: boolean }) => {
      const interval = Number(opts.interval);
      if (!Number.isInteger(interval) || interval < 100) {
        process.stderr.write('sluice top: --interval must be a whole number of milliseconds, at least 100\n');
        process.exitCode = 2;
        return;
      }
      endQuietlyWhenStdoutCloses();
      process.exitCode = await topCommand(url, { token: opts.token, interval, once: opts.once === true });
    });

  program
    .command('status')
    .description(
      'Show the workers of a pipeline scaled out over Kafka (`sluice run --worker-id`): each worker with the partitions the group assigned it, and each task (partition number) with its owner, lease, newest checkpoint, lag and state size — from the brokers and the shared checkpoint store.',
    )
    .argument('<pipeline>', `pipeline file the workers run: ${pipelineFileExtensions()}, or a .sql script`)
    .option(
      '--checkpoint-store <url>',
      'the shared checkpoint store the workers use, postgres://user@host:5432/db or s3://bucket/prefix/?endpoint=… (default: $SLUICE_CHECKPOINT_STORE)',
    )
    .option('--format <format>', 'table (readable) or json (for scripts)', 'table')
    .addHelpText(
      'after',
      `
A task's lag is the end offset of each partition it reads less the offset of its newest
checkpoint (the tasks commit no offsets to the group), so it is as fresh as that checkpoint.
Its state size is the size of that checkpoint. A task has a live owner when a worker holds its
slot in the store with a lease it keeps renewing; a killed worker's tasks show "lease expired"
until the group gives them to another worker (after the source's session_timeout).
Exit codes: 0 every task has a live owner, ${NO_LIVE_OWNER_EXIT} some task has none (the last line
names them), 1 error (the pipeline file, the brokers or the store; or neither the group nor the
store knows the pipeline), 2 usage error.`,
    )
    .action(async (file: string, opts: StatusOptionsRaw) => {
      endQuietlyWhenStdoutCloses();
      process.exitCode = await statusCommand(file, opts);
    });

  program
    .command('nexmark')
    .description(
      'Write Nexmark benchmark events (persons, auctions, bids) as JSON lines to a file or stdout, or to a Kafka topic.',
    )
    .requiredOption('--events <count>', 'how many events to write (event numbers 0 to count - 1)')
    .option(
      '--events-per-second <n>',
      `event-time density: events per second of event time (default ${nexmarkDefault('events_per_second')})`,
    )
    .option(
      '--base-time <time>',
      `event time of event 0: ISO-8601 or epoch ms (default ${nexmarkDefault('base_time')})`,
    )
    .option('--seed <n>', `seed of the random values (default ${nexmarkDefault('seed')})`)
    .option(
      '-o, --output <file>',
      'JSON-lines file to write, - for stdout (the default without --kafka-brokers)',
    )
    .option(
      '--kafka-brokers <list>',
      'comma-separated Kafka bootstrap brokers, e.g. 127.0.0.1:9092 (with --topic)',
    )
    .option('--topic <name>', 'Kafka topic to write the events to (with --kafka-brokers)')
    .addHelpText(
      'after',
      `
Each line (or Kafka message value) is one event in the reference suite's form:
{"event_type":0|1|2,"person":{...}|null,"auction":{...}|null,"bid":{...}|null}
The events are those of the \`nexmark\` source with the same options (see sluice describe
nexmark): the same seed gives the same events. Read them back with the \`file\` source
(format json) or the \`kafka\` source. Exit codes: 0 done, 1 error, 2 usage error.`,
    )
    .action(async (opts: NexmarkOptionsRaw) => {
      endQuietlyWhenStdoutCloses();
      process.exitCode = await nexmarkCommand(opts);
    });

  return program;
}

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
  serve?: string;
  serveTlsCert?: string;
  serveTlsKey?: string;
  serveRateLimit?: string;
  workerId?: string;
  checkpointStore?: string;
  lease?: string;
  threads?: string;
  restartAttempts?: string;
  restartBackoff?: string;
}
