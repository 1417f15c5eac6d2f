/**
 * Helpers for the end-to-end tests of `sluice`: the CLI as a child process, runs killed at
 * given points, temporary folders, bounded waits, and reading JSON-lines output.
 */

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestContext } from 'node:test';

/** The repository root. */
export const repoRoot = resolve(import.meta.dirname, '../../..');
/** The `sluice` command as users run it (the bin: Node version check, compile cache, then the CLI). */
export const cliMain = resolve(import.meta.dirname, '../bin/sluice.cjs');

/** How a CLI process ended, with everything it printed. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** A running `sluice` process. Every wait is bounded; a process outliving its limit is killed. */
export class Cli {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  /** Resolves when the process has exited and its output is read. */
  readonly exited: Promise<CliResult>;
  #timer: NodeJS.Timeout;

  /** Starts `node main.ts ...args` in `cwd` (with `env` added); kills it with SIGKILL after `limitMs`. */
  constructor(args: readonly string[], options: { cwd: string; limitMs?: number; env?: NodeJS.ProcessEnv }) {
    const child = spawn(process.execPath, [cliMain, ...args], {
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1', ...options.env },
    });
    this.child = child;
    running.add(child);
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      this.stdout += s;
    });
    child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      this.stderr += s;
    });
    const limitMs = options.limitMs ?? 30_000;
    this.#timer = setTimeout(() => {
      this.stderr += `\n[test] killed after ${limitMs} ms\n`;
      child.kill('SIGKILL');
    }, limitMs);
    this.exited = new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(this.#timer);
        running.delete(child);
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr });
      });
    });
  }

  /** Whether the process is still running. */
  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Waits until stderr contains a log line with this `msg` (JSON log format). */
  waitForLog(msg: string, timeoutMs = 20_000): Promise<void> {
    const needle = `"msg":${JSON.stringify(msg)}`;
    return waitUntil(() => this.stderr.includes(needle), timeoutMs, `log line '${msg}'`, this);
  }
}

/** A point at which `killRunsAt` kills a run. */
export interface KillPoint {
  /** Where, for messages: "between two checkpoints, past 40 % of the input". */
  when: string;
  /** Resolves once `cli` reached the point; `before` is the newest checkpoint id when it started. */
  wait: (cli: Cli, before: number) => Promise<void>;
}

/**
 * Runs `sluice run pipeline.yaml` in `cwd` once per kill point, in order: waits for the point,
 * kills the run with SIGKILL, and asserts that the kill ended it (it did not end before) and
 * that it restored a checkpoint when there was one before it started. After each kill it logs
 * a diagnostic: `<label>: kill <n> <when>: checkpoint <newest>, <behind()>`.
 */
export async function killRunsAt(
  t: TestContext,
  kills: readonly KillPoint[],
  options: {
    cwd: string;
    /** Each run is killed after this long whatever happens (see `Cli`). */
    limitMs: number;
    /** The id of the newest checkpoint (0: none). */
    newestCheckpoint: () => Promise<number>;
    /** What the newest checkpoint has behind it, for the diagnostic: "35 % of the input". */
    behind: () => Promise<string>;
    /** Prefix of the diagnostic. */
    label?: string;
  },
): Promise<void> {
  for (const [i, kill] of kills.entries()) {
    const before = await options.newestCheckpoint();
    const cli = new Cli(['run', 'pipeline.yaml'], { cwd: options.cwd, limitMs: options.limitMs });
    try {
      await kill.wait(cli, before);
    } finally {
      cli.kill('SIGKILL');
    }
    const ended = await cli.exited;
    assert.equal(
      ended.signal,
      'SIGKILL',
      `kill ${i + 1} (${kill.when}): the run ended before it\n${ended.stderr}`,
    );
    if (before > 0)
      assert.match(ended.stderr, /"msg":"restored checkpoint"/, `run ${i + 1} restored a checkpoint`);
    const behind = await options.behind();
    t.diagnostic(
      `${options.label ? `${options.label}: ` : ''}kill ${i + 1} ${kill.when}: ` +
        `checkpoint ${await options.newestCheckpoint()}, ${behind}`,
    );
  }
}

/** Runs `sluice ...args` in `cwd` to its end (killed after `limitMs`). */
export function runCli(args: readonly string[], cwd: string, limitMs = 30_000): Promise<CliResult> {
  return new Cli(args, { cwd, limitMs }).exited;
}

/**
 * Polls `condition` every few milliseconds until it holds. Throws after `timeoutMs`, or as soon
 * as `cli` (when given) exits first, with what the process printed.
 */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
  cli?: Cli,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (cli !== undefined && !cli.alive) {
      throw new Error(`the process exited before ${what}:\n${cli.stderr}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cli ? `:\n${cli.stderr}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 3));
  }
}

/** A fresh temporary folder, removed when the test ends. */
export async function tempDir(t: TestContext, prefix = 'sluice-cli-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Parses a JSON-lines file (an absent file is an error). */
export function readJsonLines<T = Record<string, unknown>>(file: string): T[] {
  const text = readFileSync(file, 'utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as T);
}

/** Ids of the checkpoint files (`chk-<id>.ckpt`) in `dir`; none when it does not exist. */
export async function checkpointIds(dir: string): Promise<number[]> {
  if (!existsSync(dir)) return [];
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const ids: number[] = [];
  for (const name of names) {
    const m = /^chk-(\d{20})\.ckpt$/.exec(name);
    if (m) ids.push(Number(m[1]));
  }
  return ids.sort((a, b) => a - b);
}

/** Files under `dir` (recursively) whose name ends with `.inprogress`. */
export async function inProgressFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.filter((name) => name.endsWith('.inprogress'));
}

/** Sorts a list of records by their canonical JSON text, to compare lists as multisets. */
export function canonical(records: readonly unknown[]): string[] {
  return records.map((r) => stableJson(r)).sort();
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
