/**
 * The golden-file harness: reads a case (a pipeline's steps, its input records and its expected
 * outputs, all plain text under `cases/`), runs it through a real `Job` over an in-memory source,
 * and renders what the job committed as the lines the expected files hold. `golden.test.ts` runs
 * every case; see its header and docs/ARCHITECTURE.md ("Golden files") for the format.
 */

import assert from 'node:assert/strict';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parse } from 'yaml';
import type { Row, RowKind } from '../record.ts';
import { type Harness, planFrom, testRegistry, waitFor } from '../runtime/engine-test-support.ts';
import { Job } from '../runtime/job.ts';
import { ManualClock, memoryChannel } from '../testing/index.ts';
import { dropGoldenStore, type GoldenChange, golden, goldenStore } from './golden-test-sink.ts';

export const registry = testRegistry(golden);

/** Where the cases are: one folder per case, grouped by operator. */
export const CASES_DIR = join(import.meta.dirname, 'cases');

/** The outputs every case has; the streams a case lists in `outputs` come on top. */
export const MAIN_PARTS = ['out', 'late', 'dead'] as const;

/** A case as `case.yaml` declares it. */
export interface GoldenCase {
  /** The case's folder, relative to `cases/` (`interval-join/inner`). */
  readonly name: string;
  readonly dir: string;
  /** One line: what the case shows. */
  readonly shows: string;
  /** The source `input`'s bounded out-of-orderness (`0ms` when absent). */
  readonly maxOutOfOrderness: string;
  /** The pipeline's steps, as the YAML front end reads them; they read the source `input`. */
  readonly steps: unknown[];
  /** The step whose main output is `out`. */
  readonly output: string;
  /**
   * Further streams, each written to a file of its own (`<ref>.jsonl`): a side output
   * (`<step>.<port>`, such as a pattern's `detect.timeouts`) or another step's main output.
   */
  readonly outputs: readonly string[];
  /** Parts compared as multisets: the engine defines no order there across batch sizes. */
  readonly multiset: ReadonlySet<string>;
  /** The crash-and-restore run takes its checkpoint after this many records. */
  readonly restoreAfter: number;
  /** Runs skipped for a reported defect: `all` or a run's name, with the defect stated. */
  readonly skip: ReadonlyMap<string, string>;
  /** The input records, in source order; each has its event time in `ts`. */
  readonly input: readonly Row[];
  /**
   * Processing-time steps (`{"$clock": ms}` lines of `input.jsonl`): once the records before
   * index i are read and processed, the job's clock is set to the value at i.
   */
  readonly clock: ReadonlyMap<number, number>;
}

/** The runs every case goes through. */
export const RUNS = ['batch 1', 'batch 7', 'batch 1024', 'crash and restore'] as const;
export type RunName = (typeof RUNS)[number];

/** Every case folder under `cases/` (a folder holding `case.yaml`), sorted. */
export async function caseNames(dir = CASES_DIR): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    const entries = await readdir(d, { withFileTypes: true });
    if (entries.some((e) => e.isFile() && e.name === 'case.yaml')) {
      out.push(relative(dir, d));
      return;
    }
    for (const e of entries) if (e.isDirectory()) await walk(join(d, e.name));
  };
  await walk(dir);
  return out.sort();
}

function fail(name: string, what: string): never {
  throw new Error(`golden case '${name}': ${what}`);
}

/** Reads the case in `cases/<name>`. */
export async function loadCase(name: string): Promise<GoldenCase> {
  const dir = join(CASES_DIR, name);
  const doc: unknown = parse(await readFile(join(dir, 'case.yaml'), 'utf8'));
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) fail(name, 'case.yaml is not a map');
  const c = doc as Record<string, unknown>;
  const known = [
    'shows',
    'max_out_of_orderness',
    'steps',
    'output',
    'outputs',
    'multiset',
    'restore_after',
    'skip',
  ];
  for (const k of Object.keys(c))
    if (!known.includes(k)) fail(name, `unknown key '${k}' (known: ${known.join(', ')})`);
  if (typeof c.shows !== 'string') fail(name, '`shows` (one line: what the case shows) is required');
  if (!Array.isArray(c.steps)) fail(name, '`steps` is required');
  if (typeof c.output !== 'string') fail(name, '`output` (the step whose main output is `out`) is required');
  const strings = (v: unknown, what: string): string[] => {
    if (v === undefined) return [];
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string'))
      fail(name, `\`${what}\` is a list of names`);
    return v;
  };
  const outputs = strings(c.outputs, 'outputs');
  const multiset = strings(c.multiset, 'multiset');
  for (const part of multiset)
    if (!(MAIN_PARTS as readonly string[]).includes(part) && !outputs.includes(part))
      fail(name, `\`multiset\` names '${part}', which is not an output of the case`);
  const skip = new Map<string, string>();
  if (typeof c.skip === 'string') skip.set('all', c.skip);
  else if (c.skip !== undefined) {
    if (typeof c.skip !== 'object' || c.skip === null)
      fail(name, '`skip` is a reason or a map of run → reason');
    for (const [run, why] of Object.entries(c.skip)) {
      if (run !== 'all' && !(RUNS as readonly string[]).includes(run))
        fail(name, `\`skip\` names unknown run '${run}'`);
      if (typeof why !== 'string' || why === '') fail(name, `\`skip.${run}\` must state the defect`);
      skip.set(run, why);
    }
  }
  const input: Row[] = [];
  const clock = new Map<number, number>();
  for (const line of parseLines(await readFile(join(dir, 'input.jsonl'), 'utf8'), `${name}/input.jsonl`)) {
    if (typeof line !== 'object' || line === null || Array.isArray(line))
      fail(name, 'input lines are objects');
    const { $clock } = line as { $clock?: unknown };
    if ($clock === undefined) input.push(line as Row);
    else if (typeof $clock === 'number') clock.set(input.length, $clock);
    else fail(name, '`$clock` is a processing time in ms');
  }
  const restoreAfter = c.restore_after ?? Math.floor(input.length / 2);
  if (typeof restoreAfter !== 'number' || restoreAfter < 1 || restoreAfter >= input.length)
    fail(name, `\`restore_after\` must be between 1 and ${input.length - 1}`);
  const ooo = c.max_out_of_orderness ?? '0ms';
  if (typeof ooo !== 'string') fail(name, '`max_out_of_orderness` is a duration such as 2s');
  return {
    name,
    dir,
    shows: c.shows,
    maxOutOfOrderness: ooo,
    steps: c.steps,
    output: c.output,
    outputs,
    multiset: new Set(multiset),
    restoreAfter,
    skip,
    input,
    clock,
  };
}

/** The JSON values of a JSON-lines text (blank lines ignored). */
export function parseLines(text: string, where: string): unknown[] {
  return text
    .split('\n')
    .map((line, i) => [line, i + 1] as const)
    .filter(([line]) => line.trim() !== '')
    .map(([line, n]) => {
      try {
        return JSON.parse(line) as unknown;
      } catch (e) {
        throw new Error(`${where}:${n}: not JSON: ${(e as Error).message}`);
      }
    });
}

/** The names of a case's expected files: the main parts, then its further outputs. */
export function partsOf(c: GoldenCase): string[] {
  return [...MAIN_PARTS, ...c.outputs];
}

/** A value as JSON with every object's keys sorted: field order is not part of a result. */
export function sortedJson(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (typeof v === 'object' && v !== null)
      return Object.fromEntries(
        Object.entries(v)
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([k, x]) => [k, sort(x)]),
      );
    return v;
  };
  return JSON.stringify(sort(value)) ?? 'null';
}

/** Row kinds as the changelog files spell them (Flink's short forms). */
const KIND_NAMES: Record<RowKind, string> = { 0: '+I', 1: '-U', 2: '+U', 3: '-D' };

/** One line of the main output or a further output: kind, event time, record (fields in the engine's order). */
function changeLine(c: GoldenChange): string {
  return `{"kind":"${KIND_NAMES[c.kind]}","time":${c.time},"record":${JSON.stringify(c.record)}}`;
}

/** One line of the late output: event time and record. */
function lateLine(c: GoldenChange): string {
  return `{"time":${c.time},"record":${JSON.stringify(c.record)}}`;
}

/**
 * One line of the dead-letter output: its code, the step that refused it, the record (`payload`),
 * its event time and row kind. Not the message (prose, reworded freely), the processing time or
 * the memory source's offset (how the harness pushed the input, not the input).
 */
function deadLine(c: GoldenChange): string {
  const { code, step, payload, eventTime, kind } = c.record;
  return JSON.stringify({ code, step, eventTime, kind, payload });
}

/** What one run committed, per part, as the expected files' lines. */
export type RunOutput = Map<string, string[]>;

/** The full pipeline of a case, as YAML (JSON is YAML): the harness's source and sinks around its steps. */
function pipelineOf(c: GoldenCase, id: string, batchSize: number, checkpointDir: string): string {
  const sinks: Record<string, unknown> = { out: { type: 'golden', store: `${id}/out`, input: c.output } };
  c.outputs.forEach((ref, i) => {
    sinks[`also_${i}`] = { type: 'golden', store: `${id}/${ref}`, input: ref };
  });
  return JSON.stringify({
    name: id,
    settings: { checkpoint: { interval: 0, dir: checkpointDir }, batch_size: batchSize },
    sources: {
      input: {
        type: 'memory',
        channel: id,
        event_time: { field: 'ts', max_out_of_orderness: c.maxOutOfOrderness },
      },
    },
    steps: c.steps,
    sinks,
    late_output: { type: 'golden', store: `${id}/late` },
    dead_letter: { type: 'golden', store: `${id}/dead` },
  });
}

/** How long a run waits for the source to read what was pushed: generous, the machine is shared. */
const WAIT_MS = 15_000;

let runs = 0;

/**
 * Runs case `c` to the end of its input. `batch`: with that batch size, uninterrupted; `crash`:
 * with batch size 1 (so that a difference points at the restore alone), a checkpoint after `restoreAfter` records, then the records up to halfway
 * through the rest (or to the next clock step) read and lost in a simulated crash, then a job
 * restored from the checkpoint reads them again and the rest.
 */
export async function runCase(h: Harness, c: GoldenCase, run: RunName): Promise<RunOutput> {
  const id = `golden-${++runs}`;
  const batchSize = run === 'batch 7' ? 7 : run === 'batch 1024' ? 1024 : 1;
  const plan = planFrom(pipelineOf(c, id, batchSize, await h.dir()), c.dir, registry);
  const channel = memoryChannel(id);
  const clock = new ManualClock(0);
  const records = c.input.map((r) => structuredClone(r));
  const create = () => Job.create(plan, { registry, clock, tickInterval: 5 });
  /** Feeds records [from, to) to `job`, setting the clock where the input says, each once every record before it is processed. */
  const feed = async (job: Job, from: number, to: number) => {
    let at = from;
    for (const [i, ms] of [...c.clock].sort(([a], [b]) => a - b)) {
      if (i < from || i >= to) continue;
      channel.push('p0', ...records.slice(at, i));
      await waitFor(`${i} records read`, () => job.metrics().recordsIn === i, WAIT_MS);
      await job.checkpoint(); // its barrier follows every record read so far through the steps
      clock.set(ms);
      at = i;
    }
    channel.push('p0', ...records.slice(at, to));
  };
  let running: Promise<unknown>;
  if (run !== 'crash and restore') {
    const job = await create();
    running = h.run(job);
    await feed(job, 0, records.length);
    channel.end();
  } else {
    const k = c.restoreAfter;
    // The records read again after the restore must meet the clock they met before the crash.
    const nextStep = Math.min(...[...c.clock.keys()].filter((i) => i > k));
    const crashAt = Math.min(k + Math.ceil((records.length - k) / 2), nextStep);
    const first = await create();
    const crashed = h.run(first);
    await feed(first, 0, k);
    await waitFor(`${k} records read`, () => first.metrics().recordsIn === k, WAIT_MS);
    await first.checkpoint();
    await feed(first, k, crashAt);
    await waitFor(`${crashAt} records read`, () => first.metrics().recordsIn === crashAt, WAIT_MS);
    channel.crash('p0');
    await assert.rejects(crashed, /simulated crash/);
    const second = await create();
    running = h.run(second);
    await feed(second, crashAt, records.length);
    channel.end();
  }
  const result = (await running) as { status: string };
  assert.equal(result.status, 'completed', `${c.name} (${run}): the job did not complete`);
  const out: RunOutput = new Map();
  const take = (part: string, line: (ch: GoldenChange) => string) => {
    const store = goldenStore(`${id}/${part}`);
    out.set(part, store.committed.map(line));
    dropGoldenStore(`${id}/${part}`);
  };
  take('out', changeLine);
  take('late', lateLine);
  take('dead', deadLine);
  for (const ref of c.outputs) take(ref, changeLine);
  return out;
}

/** The expected file of a part. */
export function expectedFile(c: GoldenCase, part: string): string {
  return join(c.dir, `${part}.jsonl`);
}

/** The expected lines of every part; a missing file is an error naming the update command. */
export async function readExpected(c: GoldenCase): Promise<RunOutput> {
  const out: RunOutput = new Map();
  for (const part of partsOf(c)) {
    const file = expectedFile(c, part);
    const exists = await stat(file).then(
      () => true,
      () => false,
    );
    if (!exists) fail(c.name, `no expected file ${part}.jsonl: write it with GOLDEN_UPDATE=1 and review it`);
    const text = await readFile(file, 'utf8');
    parseLines(text, `${c.name}/${part}.jsonl`); // each line must be JSON
    out.set(
      part,
      text.split('\n').filter((line) => line.trim() !== ''),
    );
  }
  return out;
}

/** Writes a run's output as the case's expected files (update mode). */
export async function writeExpected(c: GoldenCase, output: RunOutput): Promise<void> {
  for (const part of partsOf(c)) {
    const lines = output.get(part) ?? [];
    await writeFile(expectedFile(c, part), lines.map((l) => `${l}\n`).join(''));
  }
}

/** Asserts a run's output equals the expected lines, part by part; multiset parts sorted first. */
export function assertOutput(c: GoldenCase, run: RunName, actual: RunOutput, expected: RunOutput): void {
  for (const part of partsOf(c)) {
    // Field order and spacing are not part of a result: compare each line with its keys sorted.
    const order = (lines: string[]) => {
      const canonical = lines.map((line) => sortedJson(JSON.parse(line)));
      return c.multiset.has(part) ? canonical.sort() : canonical;
    };
    assert.deepEqual(
      order(actual.get(part) ?? []),
      order(expected.get(part) ?? []),
      `${c.name} (${run}): ${part}.jsonl differs${c.multiset.has(part) ? ' (compared as a multiset)' : ''}`,
    );
  }
}
