/**
 * Crash recovery end to end: `sluice run` is killed with SIGKILL at several points of a bounded
 * file → validate → map → keyed tumbling-window aggregate → file pipeline, restarted each time,
 * and finally completes. Its output must equal that of an uninterrupted run, every input line
 * accounted for exactly once. Besides the window results, the mapped records go to a rolling
 * file sink: it writes several parts between two checkpoints, so a crash leaves bytes and parts
 * after the checkpoint that the restart must cut back and delete.
 */

import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { DirectoryCheckpointStore } from '@sluice/core';
import {
  type Cli,
  canonical,
  checkpointIds,
  inProgressFiles,
  type KillPoint,
  killRunsAt,
  readJsonLines,
  runCli,
  tempDir,
  waitUntil,
} from './cli-test-support.ts';

const LINES = 200_000;
const T0 = Date.UTC(2026, 0, 1);
const WINDOW_MS = 10_000;

/** What becomes of one input line. */
type Fate = 'decode' | 'schema' | 'division' | 'late' | 'counted';

interface Input {
  text: string;
  /** Length of `text` in bytes. */
  bytes: number;
  fates: Record<Fate, number>;
  /** Expected window results: `k|window_start` → count and sum of `v2`. */
  windows: Map<string, { count: number; sum: number }>;
  /** Ids of the records `map` passes on (those counted and those late), ascending. */
  mapped: number[];
}

/**
 * 200k JSON lines, deterministic: event times 10 ms apart with up to 2 s of disorder (less than
 * `max_out_of_orderness`, so never late), and, exclusive of each other, malformed lines, records
 * the schema rejects, records whose map divides by zero, and records a minute late.
 */
function makeInput(): Input {
  let seed = 12345;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const lines: string[] = [];
  const fates: Record<Fate, number> = { decode: 0, schema: 0, division: 0, late: 0, counted: 0 };
  const windows = new Map<string, { count: number; sum: number }>();
  const mapped: number[] = [];
  for (let i = 0; i < LINES; i++) {
    const jitter = Math.floor(random() * 2000);
    const k = String.fromCharCode(97 + Math.floor(random() * 20));
    const v = Math.floor(random() * 1000);
    const d = 1 + Math.floor(random() * 9);
    let ts = T0 + i * 10 - jitter;
    let fate: Fate = 'counted';
    if (i % 10_007 === 5_000) {
      lines.push(`{"id": ${i}, "k": broken`);
      fates.decode++;
      continue;
    }
    const record: Record<string, unknown> = { id: i, ts, k, v, d };
    if (i % 5_003 === 2_500) {
      record.v = 'x';
      fate = 'schema';
    } else if (i % 7_919 === 3_000) {
      record.d = 0;
      fate = 'division';
    } else if (i % 997 === 500) {
      ts -= 60_000;
      record.ts = ts;
      fate = 'late';
    }
    fates[fate]++;
    if (fate === 'counted' || fate === 'late') mapped.push(i);
    if (fate === 'counted') {
      const key = `${k.toUpperCase()}|${Math.floor(ts / WINDOW_MS) * WINDOW_MS}`;
      const w = windows.get(key) ?? { count: 0, sum: 0 };
      w.count++;
      w.sum += v * 2;
      windows.set(key, w);
    }
    lines.push(JSON.stringify(record));
  }
  const text = `${lines.join('\n')}\n`;
  return { text, bytes: Buffer.byteLength(text), fates, windows, mapped };
}

// batch_size 1 and a 100 ms checkpoint interval: the run takes a couple of seconds with a dozen
// checkpoints or more, so the kills below land mid-stream.
const pipeline = `
name: crash-recovery
settings:
  checkpoint: { interval: 100ms, dir: ./.sluice }
  batch_size: 1
sources:
  input:
    type: file
    path: ./input.jsonl
    format: json
    event_time: { field: ts, max_out_of_orderness: 3s }
steps:
  - id: valid
    type: validate
    schema:
      type: object
      required: [id, ts, k, v, d]
      properties:
        v: { type: integer }
  - id: scaled
    type: map
    fields:
      k: upper(k)
      v2: v * 2
      ratio: v / d
  - id: per-key
    type: aggregate
    key: [k]
    window: { type: tumbling, size: 10s }
    fields:
      count: count(*)
      sum: sum(v2)
sinks:
  results: { type: file, path: ./out/results.jsonl, input: per-key }
  records: { type: file, path: ./out/records/records.jsonl, input: scaled, roll: { max_bytes: 65536 } }
dead_letter: { type: file, path: ./out/dead-letters.jsonl }
late_output: { type: file, path: ./out/late.jsonl }
`;

interface WindowResult {
  k: string;
  window_start: number;
  window_end: number;
  count: number;
  sum: number;
}

interface Output {
  results: WindowResult[];
  /** The records of the rolled parts of the `records` sink. */
  records: { id: number }[];
  deadLetters: Record<string, unknown>[];
  late: Record<string, unknown>[];
}

async function readOutput(dir: string): Promise<Output> {
  const parts = (await readdir(join(dir, 'out/records'))).sort();
  assert.ok(parts.length > 10, 'the records sink rolled its parts');
  for (const part of parts) assert.match(part, /^records-\d{14}-\d{6}\.jsonl$/);
  return {
    results: readJsonLines<WindowResult>(join(dir, 'out/results.jsonl')),
    records: parts.flatMap((part) => readJsonLines<{ id: number }>(join(dir, 'out/records', part))),
    deadLetters: readJsonLines(join(dir, 'out/dead-letters.jsonl')),
    late: readJsonLines(join(dir, 'out/late.jsonl')),
  };
}

/** A dead letter without what differs between two runs: the wall-clock time and the absolute path. */
function portable(letter: Record<string, unknown>): Record<string, unknown> {
  const { failedAt: _failedAt, partition: _partition, ...rest } = letter;
  return rest;
}

function duplicates(keys: readonly string[]): string[] {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const k of keys) (seen.has(k) ? dup : seen).add(k);
  return [...dup];
}

/** Checks one run's output against the input: every line once, results as computed here. */
function checkAccounting(output: Output, input: Input, label: string): void {
  const { results, deadLetters, late } = output;
  const counted = results.reduce((n, r) => n + r.count, 0);
  assert.equal(
    counted + deadLetters.length + late.length,
    LINES,
    `${label}: results ${counted} + dead letters ${deadLetters.length} + late ${late.length} = input lines`,
  );
  assert.deepEqual(
    duplicates(results.map((r) => `${r.k}|${r.window_start}`)),
    [],
    `${label}: a window twice`,
  );
  assert.deepEqual(
    duplicates(deadLetters.map((d) => String(d.offset))),
    [],
    `${label}: a dead letter twice (by offset)`,
  );
  assert.deepEqual(duplicates(late.map((r) => String(r.id))), [], `${label}: a late record twice`);

  const codes: Record<string, number> = {};
  for (const d of deadLetters) codes[String(d.code)] = (codes[String(d.code)] ?? 0) + 1;
  assert.deepEqual(
    codes,
    {
      DECODE_FAILED: input.fates.decode,
      SCHEMA_VIOLATION: input.fates.schema,
      EXPR_DIVISION_BY_ZERO: input.fates.division,
    },
    `${label}: dead letters by code`,
  );
  assert.equal(late.length, input.fates.late, `${label}: late records`);
  assert.equal(counted, input.fates.counted, `${label}: records counted in windows`);

  const got = new Map(results.map((r) => [`${r.k}|${r.window_start}`, { count: r.count, sum: r.sum }]));
  assert.deepEqual(got, input.windows, `${label}: window results`);

  // The records sink: every record the map passed on, exactly once.
  const ids = output.records.map((r) => r.id).sort((a, b) => a - b);
  assert.equal(ids.length, input.mapped.length, `${label}: records written by the records sink`);
  assert.ok(
    ids.every((id, i) => id === input.mapped[i]),
    `${label}: the records sink has each record once`,
  );
}

test('SIGKILL at several points, restarted each time: the same output as an uninterrupted run', async (t) => {
  const input = makeInput();
  const reference = await tempDir(t, 'sluice-crash-ref-');
  const crashed = await tempDir(t, 'sluice-crash-');
  for (const dir of [reference, crashed]) {
    await writeFile(join(dir, 'input.jsonl'), input.text);
    await writeFile(join(dir, 'pipeline.yaml'), pipeline);
  }

  // The uninterrupted run goes on beside the crashing ones: the kills wait for progress, not time.
  const uninterrupted = runCli(['run', 'pipeline.yaml'], reference, 60_000);

  const store = new DirectoryCheckpointStore(join(crashed, '.sluice/crash-recovery'));
  const newest = async () => (await checkpointIds(store.dir)).at(-1) ?? 0;
  /** Share of the input behind the newest checkpoint, by its source offset. */
  const checkpointed = async () => {
    const position = Object.values((await store.latest())?.data.sources.input ?? {})[0] as
      | { offset: number }
      | undefined;
    return (position?.offset ?? 0) / input.bytes;
  };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  /** Waits for a checkpoint newer than `before` with at least `share` of the input behind it. */
  const checkpointPast = async (cli: Cli, before: number, share: number) => {
    let seen = before;
    await waitUntil(
      async () => {
        const id = await newest();
        if (id === seen) return false;
        seen = id;
        return (await checkpointed()) >= share;
      },
      30_000,
      `a checkpoint past ${share * 100} % of the input`,
      cli,
    );
  };
  const kills: KillPoint[] = [
    {
      when: '100 ms after start, before the first checkpoint',
      wait: async (cli) => {
        await cli.waitForLog('pipeline started');
        await sleep(100);
      },
    },
    {
      when: 'as soon as the first checkpoint file appears',
      wait: (cli, before) => checkpointPast(cli, before, 0),
    },
    {
      when: 'between two checkpoints, past 40 % of the input',
      wait: async (cli, before) => {
        await checkpointPast(cli, before, 0.4);
        await sleep(50);
      },
    },
    {
      when: 'just after a checkpoint past 75 % of the input',
      wait: async (cli, before) => {
        await checkpointPast(cli, before, 0.75);
        await sleep(10);
      },
    },
  ];
  await killRunsAt(t, kills, {
    cwd: crashed,
    limitMs: 40_000,
    newestCheckpoint: newest,
    behind: async () => `${Math.round((await checkpointed()) * 100)} % of the input behind it`,
  });

  const done = await uninterrupted;
  assert.equal(done.code, 0, done.stderr);
  const expected = await readOutput(reference);
  checkAccounting(expected, input, 'uninterrupted run');

  const final = await runCli(['run', 'pipeline.yaml'], crashed, 40_000);
  assert.equal(final.code, 0, final.stderr);
  assert.match(final.stderr, /"msg":"restored checkpoint"/);
  assert.match(final.stderr, /"msg":"pipeline completed"/);
  assert.deepEqual(await inProgressFiles(join(crashed, 'out')), [], 'no in-progress file is left');

  const actual = await readOutput(crashed);
  checkAccounting(actual, input, 'run killed 4 times');
  assert.deepEqual(canonical(actual.results), canonical(expected.results), 'window results');
  assert.deepEqual(
    canonical(actual.deadLetters.map(portable)),
    canonical(expected.deadLetters.map(portable)),
    'dead letters',
  );
  assert.deepEqual(canonical(actual.late), canonical(expected.late), 'late records');
  const byId = (records: { id: number }[]) =>
    [...records].sort((a, b) => a.id - b.id).map((r) => JSON.stringify(r));
  const [got, want] = [byId(actual.records), byId(expected.records)];
  const differ = got.findIndex((r, i) => r !== want[i]);
  assert.equal(differ, -1, `records sink: ${got[differ]} where the uninterrupted run has ${want[differ]}`);
});
