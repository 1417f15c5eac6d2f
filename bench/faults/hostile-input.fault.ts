/**
 * Hostile input with a crash: a file of JSON lines where good records (each with a regular
 * expression that backtracks catastrophically in V8, `(a+)+$` over 3,000 characters) are mixed
 * with records nested 5,000 deep, numbers beyond a double (`1e400`), invalid UTF-8 and patterns
 * RE2 refuses, read by `sluice run` (file → map with regexp_replace → aggregate with first(...)
 * → file sink, checkpoints every 200 ms), killed with SIGKILL in the middle and restarted to the
 * end. Every good record must reach the output once and every bad one the dead-letter output.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { deliveryFigures, type FaultFigures, type FaultScale, type FaultScenario } from './scenario.ts';

const cliMain = resolve(import.meta.dirname, '../../packages/cli/bin/sluice.cjs');

/** The kinds of bad record, each a dead letter for its own reason. */
export const BAD_KINDS = ['deep', 'huge', 'utf8', 'regex'] as const;
export type BadKind = (typeof BAD_KINDS)[number];

const pipeline = `
name: hostile-input
settings:
  batch_size: 50
  checkpoint: { interval: 200ms, dir: ./.sluice }
sources:
  in: { type: file, path: ./in.jsonl, format: json, event_time: { field: ts } }
steps:
  - id: tagged
    type: map
    fields: { tag_len: "length(regexp_replace(s, p, 'Z'))" }
    drop: [s, p]
  - id: per-id
    type: aggregate
    key: [id]
    window: { type: tumbling, size: 1s }
    fields: { first_v: first(v), tag_len: first(tag_len), n: count(*) }
sinks:
  out: { type: file, path: ./out/results.jsonl }
dead_letter: { type: file, path: ./out/dead.jsonl }
`;

/** The input: lines, and which ids are good and which bad (by kind). */
export interface HostileInput {
  bytes: Buffer;
  good: string[];
  bad: Map<string, BadKind>;
}

/** `records` lines, one in eight bad (the kinds in turn), the rest good; deterministic. */
export function hostileInput(records: number): HostileInput {
  const parts: Buffer[] = [];
  const good: string[] = [];
  const bad = new Map<string, BadKind>();
  const long = `${'a'.repeat(3000)}b`;
  for (let i = 0; i < records; i++) {
    const id = String(i);
    const head = `{"id":${i},"ts":${i * 10}`;
    if (i % 8 !== 7) {
      good.push(id);
      parts.push(Buffer.from(`${head},"v":{"a":{"b":[${i}]}},"s":"${long}","p":"(a+)+$"}\n`));
      continue;
    }
    const kind = BAD_KINDS[(i >> 3) % BAD_KINDS.length];
    bad.set(id, kind);
    if (kind === 'deep') {
      parts.push(Buffer.from(`${head},"v":${'['.repeat(5000)}${']'.repeat(5000)},"s":"x","p":"x"}\n`));
    } else if (kind === 'huge') {
      parts.push(Buffer.from(`${head},"v":1e400,"s":"x","p":"x"}\n`));
    } else if (kind === 'utf8') {
      parts.push(
        Buffer.from(`${head},"v":"`),
        Buffer.from([0xc3, 0x28, 0xff]),
        Buffer.from('","s":"x","p":"x"}\n'),
      );
    } else {
      parts.push(Buffer.from(`${head},"v":1,"s":"aa","p":"(a)\\\\1"}\n`));
    }
  }
  return { bytes: Buffer.concat(parts), good, bad };
}

function start(dir: string): { child: ChildProcess; exited: Promise<number | null>; stderr: () => string } {
  const child = spawn(process.execPath, [cliMain, 'run', 'pipeline.yaml'], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
  });
  const limit = setTimeout(() => child.kill('SIGKILL'), 600_000);
  const exited = new Promise<number | null>((done) =>
    child.on('close', (code) => {
      clearTimeout(limit);
      done(code);
    }),
  );
  return { child, exited, stderr: () => stderr };
}

async function checkpointCount(dir: string): Promise<number> {
  const store = join(dir, '.sluice/hostile-input');
  if (!existsSync(store)) return 0;
  return (await readdir(store)).filter((n) => /^chk-\d+\.ckpt$/.test(n)).length;
}

async function until(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function jsonLines(file: string): { [k: string]: unknown }[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { [k: string]: unknown });
}

/** The id a dead letter came from: its payload is the record, its text, or its bytes in base64. */
function letterId(letter: { [k: string]: unknown }): string | undefined {
  const payload = letter.payload;
  if (typeof payload === 'object' && payload !== null) return String((payload as { id?: unknown }).id);
  const text = String(payload);
  const plain =
    /^\{"id":(\d+)/.exec(text) ?? /^\{"id":(\d+)/.exec(Buffer.from(text, 'base64').toString('latin1'));
  return plain?.[1];
}

/** What one run found, beyond the figures: the dead letters by id and kind. */
export interface HostileRun {
  figures: FaultFigures;
  input: HostileInput;
  /** Id of each dead letter, in file order. */
  deadIds: string[];
  /** Good results whose `first_v` or `tag_len` is not what the input says. */
  wrongResults: number;
}

/** Runs the scenario once with `records` input lines. */
export async function runHostileInput(records: number): Promise<HostileRun> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-fault-hostile-'));
  try {
    const input = hostileInput(records);
    await writeFile(join(dir, 'in.jsonl'), input.bytes);
    await writeFile(join(dir, 'pipeline.yaml'), pipeline);

    const first = start(dir);
    let firstEnded = false;
    void first.exited.then(() => {
      firstEnded = true;
    });
    await until(async () => firstEnded || (await checkpointCount(dir)) >= 2, 120_000, 'two checkpoints');
    if (firstEnded) throw new Error(`the first run ended before it could be killed:\n${first.stderr()}`);
    first.child.kill('SIGKILL');
    await first.exited;

    const before = await checkpointCount(dir);
    const restartedAt = Date.now();
    const second = start(dir);
    let recovery = Number.NaN;
    const watch = until(
      async () => (await checkpointCount(dir)) !== before,
      120_000,
      'a checkpoint after the restart',
    )
      .then(() => {
        recovery = (Date.now() - restartedAt) / 1000;
      })
      .catch(() => undefined);
    const code = await second.exited;
    await watch;
    if (code !== 0) throw new Error(`the restarted run exited ${code}:\n${second.stderr()}`);

    const results = jsonLines(join(dir, 'out/results.jsonl'));
    const letters = jsonLines(join(dir, 'out/dead.jsonl'));
    const deadIds = letters.map((l) => letterId(l) ?? '?');
    let wrongResults = 0;
    for (const r of results) {
      const v = r.first_v as { a?: { b?: number[] } } | undefined;
      if (v?.a?.b?.[0] !== Number(r.id) || r.tag_len !== 3001 || r.n !== 1) wrongResults++;
    }
    const delivered = deliveryFigures(
      input.good,
      results.map((r) => String(r.id)),
    );
    const byKind = new Map<BadKind, number>();
    const badFound = new Set(deadIds.filter((id) => input.bad.has(id)));
    for (const id of badFound) {
      const kind = input.bad.get(id) as BadKind;
      byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
    }
    const kinds = BAD_KINDS.map((k) => `${k} ${byKind.get(k) ?? 0}`).join(', ');
    const figures: FaultFigures = {
      case: `file → regexp_replace → first(...) → file, ${records} lines, 1 in 8 hostile, kill -9 once`,
      produced: records,
      ...delivered,
      recoverySeconds: Number.isNaN(recovery) ? [] : [recovery],
      note:
        `acknowledged = good lines; dead letters ${letters.length} for ${input.bad.size} bad lines ` +
        `(${kinds}); ${wrongResults} wrong results; recovery = restart to its first checkpoint`,
    };
    return { figures, input, deadIds, wrongResults };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const scenario: FaultScenario = {
  name: 'hostile-input',
  description:
    'records nested 5,000 deep, `1e400`, invalid UTF-8 and patterns RE2 refuses, mixed among good ' +
    'records whose regular expression backtracks catastrophically in V8, through a file pipeline ' +
    'with first(...) state, killed with SIGKILL once; every good record must arrive once, every bad ' +
    'one as a dead letter.',
  async run(scale: FaultScale): Promise<FaultFigures[]> {
    const run = await runHostileInput(scale === 'small' ? 2_000 : 20_000);
    return [run.figures];
  },
};

export default scenario;
