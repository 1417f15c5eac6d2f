/**
 * Nexmark in SQL, Sluice beside Apache Flink 2.3 (issue 11): the same query text
 * (packages/sql/src/nexmark/qN.sql) over the same events, a JSON-lines file written once by
 * `sluice nexmark`, each engine a child process measured whole by GNU time (CPU user + system of
 * the process and its children, wall, peak RSS): `sluice sql` (no checkpoints, as Flink's
 * default) and the Flink peer (bench/peers/flink-sql: a local MiniCluster, STREAMING runtime
 * mode, parallelism 1 and 2). The engines alternate within a run; medians of `--runs`. Each
 * engine's output of the first run is compared with Sluice's (bench/nexmark-flink-compare.ts).
 * A run of q0 over 50 events measures each engine's fixed cost (start-up, planning, shut-down),
 * reported beside the rates; in brackets, Sluice's rate without it ("net") and Flink's over the
 * CPU its job used after submission ("job", which the peer measures in each run: a separate
 * fixed-cost run of the JVM varies too much with the machine's load to subtract).
 *
 *   node bench/nexmark-flink.ts [--events 1000000] [--runs 3] [--parallelism 1,2] [--only q0,q5] [--skip q9]
 *     [--cpu-prof DIR]   (a V8 CPU profile of each Sluice run, for bench/profile-summary.ts)
 *
 * Adaptations, the same for both engines unless said: `dateTime` is quoted (a reserved word in
 * Flink); the `datagen` table reads the file (`file` in Sluice, `filesystem` + `json` in Flink,
 * whose DDL declares the nested epoch-ms times BIGINT and converts them, see
 * bench/peers/flink-sql/sql/tables.sql); results go to a JSON-lines file, as a Debezium changelog
 * where the engine's plan is updating.
 */

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { median } from './measure.ts';
import { compareOutputs, type Verdict } from './nexmark-flink-compare.ts';
import { SCRATCH_DIR } from './scratch-dir.ts';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '3' },
    parallelism: { type: 'string', default: '1,2' },
    only: { type: 'string' },
    skip: { type: 'string' },
    'cpu-prof': { type: 'string' },
  },
});
const EVENTS = Number(args.events);
const RUNS = Number(args.runs);
const PARALLELISM = args.parallelism.split(',').map(Number);
const SEED = 1;
const ROOT = join(import.meta.dirname, '..');
const QUERY_DIR = join(ROOT, 'packages/sql/src/nexmark');
const PEER = join(import.meta.dirname, 'peers/flink-sql');
const NODE = process.execPath;
const SLUICE = join(ROOT, 'packages/cli/bin/sluice.cjs');

/**
 * The queries both engines run over a bounded file. Left out: q6 (Flink has no such query), q10
 * (a filesystem sink partitioned by time), q12 (processing-time windows: a function of the
 * machine's speed, not of the input), q13 (a processing-time lookup join of a file, which Flink's
 * filesystem connector cannot look up) and q14 (a user-defined Java function in Flink).
 */
const ALL = ['q0', 'q1', 'q2', 'q3', 'q4', 'q5', 'q7', 'q8', 'q9', 'q11', 'q15', 'q16', 'q17', 'q18', 'q19'];
const QUERIES = [...ALL, 'q20', 'q21', 'q22'].filter(
  (q) =>
    (args.only === undefined || args.only.split(',').includes(q)) &&
    (args.skip === undefined || !args.skip.split(',').includes(q)),
);
/** Queries whose result is an updating stream, per engine (the other engine may plan it append-only). */
const UPDATING = {
  sluice: new Set(['q4', 'q9', 'q15', 'q16', 'q17', 'q18', 'q19']),
  flink: new Set(['q4', 'q9', 'q15', 'q16', 'q17', 'q18', 'q19']),
};

/** `dateTime` quoted wherever it stands bare: Flink reserves the word; Sluice takes either. */
export function quoteDateTime(sql: string): string {
  return sql.replace(/(?<![`\w])dateTime(?![`\w])/g, '`dateTime`');
}

const sq = (s: string) => s.replaceAll("'", "''");

function sluiceScript(q: string, events: string, out: string): string {
  const tables = readFileSync(join(QUERY_DIR, 'tables.sql'), 'utf8').replace(
    /WITH \('connector' = 'nexmark'[^;]*;/,
    `WITH ('connector' = 'file', 'path' = '${sq(events)}', 'format' = 'json');`,
  );
  const sink = `'connector' = 'file', 'path' = '${sq(join(out, 'out.jsonl'))}'${UPDATING.sluice.has(q) ? ", 'changelog' = 'debezium'" : ''}`;
  const query = readFileSync(join(QUERY_DIR, `${q}.sql`), 'utf8').replace('{{SINK}}', sink);
  return `SET 'execution.checkpointing.interval' = '0';\n${quoteDateTime(`${tables}\n${query}`)}`;
}

function flinkScript(q: string, events: string, out: string): string {
  const tables = readFileSync(join(PEER, 'sql/tables.sql'), 'utf8').replace(
    '{{SOURCE}}',
    `'connector' = 'filesystem', 'path' = '${sq(events)}', 'format' = 'json'`,
  );
  const format = UPDATING.flink.has(q) ? 'debezium-json' : 'json';
  const sink = `'connector' = 'filesystem', 'path' = '${sq(out)}', 'format' = '${format}'`;
  const query = readFileSync(join(QUERY_DIR, `${q}.sql`), 'utf8').replace('{{SINK}}', sink);
  return quoteDateTime(`${tables}\n${query}`);
}

/** One whole-process measurement. */
interface Run {
  cpuS: number;
  wallS: number;
  rssMb: number;
  /** Flink: JVM start to job submission, and the job's run time (seconds, wall and CPU). */
  startupS?: number;
  jobS?: number;
  startupCpuS?: number;
  jobCpuS?: number;
}

/** Runs `cmd` under GNU time; rejects with its stderr when it fails. */
function timed(cmd: string, argv: readonly string[], cwd: string): Promise<{ run: Run; stdout: string }> {
  const timeFile = join(SCRATCH_DIR, 'time.txt');
  return new Promise((resolve, reject) => {
    const c = spawn('/usr/bin/time', ['-o', timeFile, '-f', '%e %U %S %M', cmd, ...argv], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      // A group of its own: killing it reaches the engine, not only GNU time.
      detached: true,
    });
    const kill = () => {
      if (c.pid !== undefined) process.kill(-c.pid, 'SIGKILL');
    };
    let stdout = '';
    let stderr = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    c.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(kill, 900_000);
    // Stopped (Ctrl-C, kill), this process takes the engine it is measuring with it.
    const stop = () => {
      kill();
      process.exit(130);
    };
    process.once('SIGINT', stop).once('SIGTERM', stop);
    c.on('close', (code) => {
      clearTimeout(timer);
      process.off('SIGINT', stop).off('SIGTERM', stop);
      if (code !== 0) {
        reject(new Error(`${cmd} ${argv.join(' ')} failed (exit ${code}):\n${stderr.slice(-3000)}`));
        return;
      }
      const [wall, user, sys, rssKb] =
        readFileSync(timeFile, 'utf8').trim().split('\n').at(-1)?.split(' ').map(Number) ?? [];
      resolve({ run: { cpuS: user + sys, wallS: wall, rssMb: rssKb / 1024 }, stdout });
    });
  });
}

type Engine = { name: string; parallelism?: number };

async function runEngine(
  engine: Engine,
  q: string,
  events: string,
  tag: string,
): Promise<{ run: Run; out: string }> {
  const dir = join(SCRATCH_DIR, `${q}-${engine.name}-${tag}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const out = join(dir, 'out');
  if (engine.parallelism === undefined) {
    const script = join(dir, `${q}.sql`);
    writeFileSync(script, sluiceScript(q, events, out));
    const prof = args['cpu-prof'];
    const flags =
      prof === undefined
        ? []
        : ['--cpu-prof', '--cpu-prof-dir', prof, '--cpu-prof-name', `${q}-${tag}.cpuprofile`];
    const { run } = await timed(NODE, [...flags, SLUICE, 'sql', script], dir);
    return { run, out };
  }
  const script = join(dir, `${q}.sql`);
  writeFileSync(script, flinkScript(q, events, out));
  const cp = `${join(PEER, 'target/flink-sql-peer.jar')}:${join(PEER, 'target/lib/*')}`;
  const { run, stdout } = await timed(
    'java',
    ['-cp', cp, 'dev.sluice.bench.FlinkSqlPeer', script, String(engine.parallelism)],
    dir,
  );
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (line !== undefined) {
    const r = JSON.parse(line.slice(7)) as {
      startupMs: number;
      jobMs: number;
      startupCpuMs: number;
      jobCpuMs: number;
    };
    run.startupS = r.startupMs / 1000;
    run.jobS = r.jobMs / 1000;
    run.startupCpuS = r.startupCpuMs / 1000;
    run.jobCpuS = r.jobCpuMs / 1000;
  }
  return { run, out };
}

/** The texts of the files an engine wrote under `out` (a file, or a folder of parts), hidden ones too. */
function outputTexts(out: string): string[] {
  if (existsSync(`${out}.jsonl`)) return [readFileSync(`${out}.jsonl`, 'utf8')];
  if (!existsSync(out)) return [];
  const files: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else files.push(p);
    }
  };
  walk(out);
  return files.map((f) => readFileSync(f, 'utf8'));
}

function buildPeer(): void {
  if (existsSync(join(PEER, 'target/flink-sql-peer.jar'))) return;
  process.stderr.write('building the Flink peer (mvn package)…\n');
  try {
    execFileSync('mvn', ['-q', '-o', 'package'], { cwd: PEER, stdio: 'inherit' });
  } catch {
    execFileSync('mvn', ['-q', 'package'], { cwd: PEER, stdio: 'inherit' });
  }
}

function writeEvents(count: number): string {
  const file = join(SCRATCH_DIR, `nexmark-${count}-seed${SEED}.jsonl`);
  execFileSync(NODE, [SLUICE, 'nexmark', '--events', String(count), '--seed', String(SEED), '-o', file], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return file;
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
const k = (n: number) => `${Math.round(n / 1000)}k`;
const verdictText = (v: Verdict) =>
  v.verdict === 'equal'
    ? `equal (${v.rows} rows)`
    : v.verdict === 'tolerant'
      ? `equal within type tolerance (${v.rows} rows)`
      : `**not equal** (${v.rows[0]} vs ${v.rows[1]} rows)`;

buildPeer();
const engines: Engine[] = [
  { name: 'sluice' },
  ...PARALLELISM.map((p) => ({ name: `flink-p${p}`, parallelism: p })),
];
const events = writeEvents(EVENTS);
const tiny = writeEvents(50);
process.stderr.write(`events: ${EVENTS} (${(statSync(events).size / 1e6).toFixed(0)} MB), load ${load()}\n`);

// Fixed cost: q0 over 50 events, once per engine.
const fixed = new Map<string, Run>();
for (const e of engines) fixed.set(e.name, (await runEngine(e, 'q0', tiny, 'fixed')).run);
const fixedRows = engines.map((e) => {
  const f = fixed.get(e.name) as Run;
  const startup =
    f.startupS === undefined
      ? ''
      : `, of which JVM start to job submission ${f.startupS.toFixed(1)} s wall, ${f.startupCpuS?.toFixed(2)} CPU-s`;
  return `- ${e.name}: ${f.cpuS.toFixed(2)} CPU-s, ${f.wallS.toFixed(1)} s wall, ${f.rssMb.toFixed(0)} MB peak RSS${startup}`;
});
process.stderr.write(`fixed cost (q0 over 50 events, load ${load()}):\n${fixedRows.join('\n')}\n`);

const header = `| query | ${engines.map((e) => `${e.name} events/CPU-s (${e.parallelism === undefined ? 'net' : 'job'})`).join(' | ')} | ${engines
  .slice(1)
  .map((e) => `Sluice CPU / ${e.name}`)
  .join(' | ')} | ${engines.map((e) => `${e.name} wall s`).join(' | ')} | ${engines
  .map((e) => `${e.name} RSS MB`)
  .join(' | ')} | ${engines
  .slice(1)
  .map((e) => `output vs ${e.name}`)
  .join(' | ')} | load |`;
const rows: string[] = [header, header.replace(/[^|]+/g, '---')];
process.stdout.write(`${rows.join('\n')}\n`);
for (const q of QUERIES) {
  const runs = new Map<string, Run[]>(engines.map((e) => [e.name, []]));
  const outs = new Map<string, string[]>();
  const loadBefore = load();
  try {
    for (let i = 0; i < RUNS; i++) {
      // Alternate the order so that drift in the machine's load hits every engine alike.
      const order = i % 2 === 0 ? engines : [...engines].reverse();
      for (const e of order) {
        const { run, out } = await runEngine(e, q, events, `run${i}`);
        runs.get(e.name)?.push(run);
        if (i === 0) outs.set(e.name, outputTexts(out));
        rmSync(join(out, '..'), { recursive: true, force: true });
      }
    }
  } catch (err) {
    process.stderr.write(`${q}: ${err instanceof Error ? err.message : String(err)}\n`);
    rows.push(`| ${q} | failed: ${String(err).split('\n')[0].slice(0, 200)} |`);
    process.stdout.write(`${rows.at(-1)}\n`);
    continue;
  }
  const med = (name: string, f: (r: Run) => number) => median((runs.get(name) ?? []).map(f));
  const cpu = (name: string) => med(name, (r) => r.cpuS);
  // In brackets: Sluice without its fixed cost (the 50-event run); Flink, the CPU of the job
  // alone (after submission: without JVM start, parsing and planning, with the MiniCluster's
  // start, code generation and shut-down), measured within each run.
  const rate = (name: string) => {
    const jobCpu = med(name, (r) => r.jobCpuS ?? Number.NaN);
    const net = Number.isNaN(jobCpu) ? cpu(name) - (fixed.get(name)?.cpuS ?? 0) : jobCpu;
    return `${k(EVENTS / cpu(name))} (${net > 0 ? k(EVENTS / net) : '—'})`;
  };
  const sluiceOut = outs.get('sluice') ?? [];
  const verdicts = engines.slice(1).map((e) => {
    try {
      const v = compareOutputs(sluiceOut, outs.get(e.name) ?? []);
      if (v.verdict === 'different')
        process.stderr.write(
          `${q} vs ${e.name}: only Sluice ${v.onlyLeft.join(' ')}; only Flink ${v.onlyRight.join(' ')}\n`,
        );
      return verdictText(v);
    } catch (err) {
      return `not comparable: ${err instanceof Error ? err.message : String(err)}`;
    }
  });
  rows.push(
    `| ${q} | ${engines.map((e) => rate(e.name)).join(' | ')} | ${engines
      .slice(1)
      .map((e) => (cpu('sluice') / cpu(e.name)).toFixed(2))
      .join(' | ')} | ${engines.map((e) => med(e.name, (r) => r.wallS).toFixed(1)).join(' | ')} | ${engines
      .map((e) => med(e.name, (r) => r.rssMb).toFixed(0))
      .join(' | ')} | ${verdicts.join(' | ')} | ${loadBefore} → ${load()} |`,
  );
  process.stdout.write(`${rows.at(-1)}\n`);
}
process.stdout.write(
  `\nNexmark ${EVENTS} events (seed ${SEED}, 100,000 events/s of event time) from a JSON-lines file, ${RUNS} runs (medians), Node ${process.version}, ${spawnSync('java', ['-version'], { encoding: 'utf8' }).stderr.split('\n')[0]}, Flink 2.3.0\nFixed cost (q0 over 50 events):\n${fixedRows.join('\n')}\n`,
);
