/**
 * What the failure cases of the conformance suites share: a job of the connector under test run
 * in this process (outages, slow servers, backpressure) or in a child process killed with SIGKILL,
 * bounded waits, the checkpoints a run left, and the records a `file` sink published.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import Type from 'typebox';
import { builtins } from '../builtins.ts';
import type { Sink, SinkBatch, Source } from '../connector.ts';
import type { Row } from '../record.ts';
import { Registry } from '../registry.ts';
import { Job } from '../runtime/job.ts';
import { CHANGELOG_MODES, defineSink, type Plugin, type SinkSpec, type SourceSpec } from '../spec.ts';
import { parsePipelineYaml } from '../yaml/load.ts';
import type { ChildRun } from './conformance-child.ts';
import { sleep } from './conformance-support.ts';
import { testing } from './memory.ts';

/** The type the connector under test has in the suites' pipelines. */
export const UNDER_TEST = 'under_test';

/**
 * A registry with the built-ins, the testing components, the suites' `conformance_gate` sink and
 * `spec` under the type `under_test`, created by `create` (the adapter's way).
 */
export function registryWith<C>(spec: SinkSpec | SourceSpec, create: (config: C) => Sink | Source): Registry {
  const underTest = { ...spec, type: UNDER_TEST, create };
  const plugin = { name: 'under-test', components: [underTest] } as unknown as Plugin;
  return new Registry([builtins, testing, gates, plugin]);
}

/** A gate a test shuts and opens: the `conformance_gate` sink's writes wait at it while shut. */
export class WriteGate {
  readonly written: Row[] = [];
  writesStarted = 0;
  #open = true;
  #waiting: (() => void)[] = [];

  shut(): void {
    this.#open = false;
  }

  open(): void {
    this.#open = true;
    for (const resolve of this.#waiting.splice(0)) resolve();
  }

  pass(): Promise<void> {
    if (this.#open) return Promise.resolve();
    return new Promise((resolve) => this.#waiting.push(resolve));
  }
}

const writeGates = new Map<string, WriteGate>();

/** A fresh gate for the `conformance_gate` sink, named `name`. */
export function writeGate(name: string): WriteGate {
  const gate = new WriteGate();
  writeGates.set(name, gate);
  return gate;
}

const gateSink = defineSink({
  type: 'conformance_gate',
  summary: 'Keeps records in memory; writes wait while the test shuts its gate (testing only).',
  delivery: 'at-least-once',
  config: Type.Object({ gate: Type.String() }, { additionalProperties: false }),
  // It counts what passes, whatever its kind: a source of a table's changes (CDC) feeds it too.
  changelog: { consumes: () => CHANGELOG_MODES, hint: 'none needed' },
  create(config) {
    return {
      async open() {},
      async write({ records }: SinkBatch) {
        const gate = writeGates.get(config.gate);
        if (!gate) throw new Error(`no gate ${config.gate}`);
        gate.writesStarted++;
        await gate.pass();
        gate.written.push(...records);
        return undefined;
      },
      async close() {},
    };
  },
});
const gates: Plugin = { name: 'conformance-gates', components: [gateSink] };

/** Creates a job from `yaml` (said to be the file `file`) with `registry`. */
export function jobOf(yaml: string, file: string, registry: Registry): Promise<Job> {
  const plan = parsePipelineYaml(yaml, file, { registry });
  return Job.create(plan, { registry, tickInterval: 10 });
}

/** Polls `condition` until it holds; throws after `timeoutMs` or when `failed()` says why. */
export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  failed?: () => string | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    const why = failed?.();
    if (why !== undefined) throw new Error(`${why} before ${what}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** How a child run ended. */
export interface ChildEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * A pipeline run in a child process (`conformance-child.ts`), with the connector packages
 * `plugins`; killed with SIGKILL after `limitMs` whatever happens.
 */
export class ChildJob {
  readonly #child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<ChildEnd>;

  constructor(run: ChildRun, limitMs: number) {
    const script = resolve(import.meta.dirname, 'conformance-child.ts');
    const child = spawn(process.execPath, [script, JSON.stringify(run)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    this.#child = child;
    children.add(child);
    child.stdout?.setEncoding('utf8').on('data', (s: string) => {
      this.stdout += s;
    });
    child.stderr?.setEncoding('utf8').on('data', (s: string) => {
      this.stderr += s;
    });
    const timer = setTimeout(() => {
      this.stderr += `\n[conformance] killed after ${limitMs} ms\n`;
      child.kill('SIGKILL');
    }, limitMs);
    this.exited = new Promise((done, reject) => {
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        children.delete(child);
        done({ code, signal, stdout: this.stdout, stderr: this.stderr });
      });
    });
  }

  get alive(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  kill(signal: NodeJS.Signals): void {
    this.#child.kill(signal);
  }

  /** Why waiting for this child is pointless (it exited), or undefined while it runs. */
  readonly ended = (): string | undefined =>
    this.alive ? undefined : `the child process exited:\n${this.stderr}`;
}

/** How many checkpoints (`chk-<id>.ckpt` files) are under `dir`, at any depth. */
export async function checkpointCount(dir: string): Promise<number> {
  try {
    const names = await readdir(dir, { recursive: true });
    return names.filter((n) => /(^|[/\\])chk-\d+\.ckpt$/.test(n)).length;
  } catch {
    return 0;
  }
}

/** The records of the published JSON-lines parts under `dir` (not `.inprogress` ones). */
export async function publishedLines(dir: string): Promise<Row[]> {
  let names: string[];
  try {
    names = await readdir(dir, { recursive: true });
  } catch {
    return [];
  }
  const out: Row[] = [];
  for (const name of names.filter((n) => n.endsWith('.jsonl')).sort()) {
    const text = await readFile(join(dir, name), 'utf8');
    for (const line of text.split('\n')) if (line !== '') out.push(JSON.parse(line) as Row);
  }
  return out;
}
