/**
 * The rolled file sink's exactly-once claim under two faults, with `sluice run` as a child
 * process: another sink (HTTP) fails the job mid-stream, and the newest checkpoints are found
 * corrupt after a kill -9 (one, two, or all of them). Each faulty run is restarted until the
 * input is done; the figures compare the input's rows with the rows of the published parts.
 */

import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirectoryCheckpointStore } from '@sluice/core';
import { Cli, checkpointIds, readJsonLines, waitUntil } from '../../packages/cli/src/cli-test-support.ts';
import { deliveryFigures, type FaultFigures, type FaultScale, type FaultScenario } from './scenario.ts';

const CHECKPOINTS = '.sluice/file-sink-faults';

/** A loopback HTTP endpoint for the `audit` sink: slow enough to pace the job, failing on demand. */
class AuditServer {
  records = 0;
  /** Once set, every request is answered 401, which fails the HTTP sink (and so the job) at once. */
  failing = false;
  readonly #server: Server;

  constructor() {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (this.failing) {
          res.writeHead(401).end('audit endpoint: credentials revoked');
          return;
        }
        this.records += (JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown[]).length;
        setTimeout(() => res.writeHead(200).end(), 3);
      });
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return (this.#server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

function pipeline(port: number): string {
  return `
name: file-sink-faults
settings:
  checkpoint: { interval: 150ms, dir: ./.sluice, keep: 5 }
  batch_size: 100
  sink_queue_records: 1000
sources:
  input: { type: file, path: ./input.jsonl, format: json }
sinks:
  records: { type: file, path: ./out/records.jsonl, input: input, roll: { max_bytes: 8192 } }
  audit: { type: http, url: http://127.0.0.1:${port}/audit, input: input, batch_size: 200 }
`;
}

/** One run's folder: input, pipeline, and the HTTP endpoint of its `audit` sink. */
interface Workspace {
  dir: string;
  rows: number;
  bytes: number;
  audit: AuditServer;
}

async function workspace(rows: number): Promise<Workspace> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-fault-file-sink-'));
  const lines: string[] = [];
  for (let i = 0; i < rows; i++) lines.push(JSON.stringify({ id: i, k: `k${i % 17}`, v: (i * 7919) % 1000 }));
  const text = `${lines.join('\n')}\n`;
  await writeFile(join(dir, 'input.jsonl'), text);
  const audit = new AuditServer();
  await writeFile(join(dir, 'pipeline.yaml'), pipeline(await audit.listen()));
  return { dir, rows, bytes: Buffer.byteLength(text), audit };
}

async function dispose(ws: Workspace): Promise<void> {
  await ws.audit.close();
  await rm(ws.dir, { recursive: true, force: true });
}

/** Ids of the rows in the published parts (hidden in-progress parts and `.quarantine` left out). */
async function deliveredIds(ws: Workspace): Promise<string[]> {
  const folder = join(ws.dir, 'out');
  const ids: string[] = [];
  for (const name of (await readdir(folder)).filter((n) => !n.startsWith('.')).sort()) {
    for (const row of readJsonLines<{ id: number }>(join(folder, name))) ids.push(String(row.id));
  }
  return ids;
}

/**
 * The newest readable checkpoint: the share of the input behind it (the file source's offset),
 * and whether the parts it finished are published yet (its commit ran).
 */
async function newestCheckpoint(ws: Workspace): Promise<{ share: number; published: boolean }> {
  try {
    const latest = await new DirectoryCheckpointStore(join(ws.dir, CHECKPOINTS)).latest();
    const position = Object.values(latest?.data.sources.input ?? {})[0] as { offset?: number } | undefined;
    const pending = (latest?.data.sinks.records as { pending?: string[] } | undefined)?.pending ?? [];
    const visible = new Set(await readdir(join(ws.dir, 'out')));
    return {
      share: (position?.offset ?? 0) / ws.bytes,
      published: pending.length > 0 && pending.every((part) => visible.has(part)),
    };
  } catch {
    return { share: 0, published: false };
  }
}

/** Starts `sluice run`; resolves with the process and the seconds until it logged that it started. */
async function start(ws: Workspace, args: readonly string[] = []): Promise<{ cli: Cli; startedIn: number }> {
  const began = performance.now();
  const cli = new Cli(['run', 'pipeline.yaml', ...args], { cwd: ws.dir, limitMs: 120_000 });
  await cli.waitForLog('pipeline started', 60_000);
  return { cli, startedIn: (performance.now() - began) / 1000 };
}

/** Restarts until the job completes; returns the recovery seconds of each restart. */
async function runToCompletion(ws: Workspace, args: readonly string[] = []): Promise<number> {
  const { cli, startedIn } = await start(ws, args);
  const ended = await cli.exited;
  assert.equal(ended.code, 0, `the restarted run completes:\n${ended.stderr}`);
  assert.match(ended.stderr, /"msg":"pipeline completed"/);
  return startedIn;
}

function figures(
  ws: Workspace,
  label: string,
  delivered: string[],
  recovery: number[],
  note: string,
): FaultFigures {
  const acknowledged = Array.from({ length: ws.rows }, (_, i) => String(i));
  return {
    case: label,
    produced: ws.rows,
    ...deliveryFigures(acknowledged, delivered),
    recoverySeconds: recovery,
    note,
  };
}

/** The HTTP sink fails the job (401) once it has half the input; then a restart completes. */
async function failingSink(rows: number): Promise<FaultFigures> {
  const ws = await workspace(rows);
  try {
    const { cli } = await start(ws);
    await waitUntil(() => ws.audit.records >= rows / 2, 60_000, 'half the input at the audit endpoint', cli);
    ws.audit.failing = true;
    const failed = await cli.exited;
    assert.equal(failed.code, 1, `the run fails:\n${failed.stderr}`);
    assert.match(failed.stderr, /SINK_UNAVAILABLE/);
    ws.audit.failing = false;
    const recovery = await runToCompletion(ws);
    return figures(
      ws,
      'http sink fails the job (401) at 50 %, restarted',
      await deliveredIds(ws),
      [recovery],
      'acknowledged = input rows; published parts only',
    );
  } finally {
    await dispose(ws);
  }
}

/** Flips a byte of (or truncates) checkpoint files so that they fail their checksum. */
async function corrupt(files: string[]): Promise<void> {
  for (const [i, file] of files.entries()) {
    if (i % 2 === 0) {
      const bytes = await readFile(file);
      bytes[bytes.length - 7] ^= 0x5a;
      await writeFile(file, bytes);
    } else {
      await truncate(file, 40);
    }
  }
}

/**
 * kill -9 past 60 % of the input, once at least `corrupted + 1` checkpoints are stored and the
 * newest has published parts; then corrupts the newest `corrupted` checkpoints (or all) and
 * restarts. With every checkpoint corrupt the restart must refuse to start; the run after it
 * starts over with `--from-scratch` into a cleared output folder, as the error says to.
 */
async function corruptCheckpoints(rows: number, corrupted: number | 'all'): Promise<FaultFigures> {
  const ws = await workspace(rows);
  const ckpt = join(ws.dir, CHECKPOINTS);
  try {
    const { cli } = await start(ws);
    const wanted = corrupted === 'all' ? 2 : corrupted + 1;
    // Killed once the newest checkpoint has published parts: those are what a fallback must take back.
    await waitUntil(
      async () => {
        if ((await checkpointIds(ckpt)).length < wanted) return false;
        const newest = await newestCheckpoint(ws);
        return newest.share >= 0.6 && newest.published;
      },
      60_000,
      `${wanted} checkpoints, 60 % of the input behind them, the newest committed`,
      cli,
    );
    cli.kill('SIGKILL');
    assert.equal((await cli.exited).signal, 'SIGKILL', 'the kill ended the run');
    const ids = (await checkpointIds(ckpt)).reverse();
    const victims = (corrupted === 'all' ? ids : ids.slice(0, corrupted)).map((id) =>
      join(ckpt, `chk-${String(id).padStart(20, '0')}.ckpt`),
    );
    await corrupt(victims);

    const recovery: number[] = [];
    let note: string;
    if (corrupted === 'all') {
      const refused = await new Cli(['run', 'pipeline.yaml'], { cwd: ws.dir, limitMs: 60_000 }).exited;
      assert.equal(refused.code, 1, `the restart refuses to start:\n${refused.stderr}`);
      assert.match(refused.stderr, /CHECKPOINT_CORRUPT/);
      assert.match(refused.stderr, /--from-scratch/);
      assert.deepEqual((await checkpointIds(ckpt)).length, ids.length, 'the refused start kept every file');
      await rm(join(ws.dir, 'out'), { recursive: true, force: true });
      recovery.push(await runToCompletion(ws, ['--from-scratch']));
      assert.equal(
        (await readdir(join(ckpt, 'corrupt'))).length,
        ids.length,
        'the corrupt files were moved aside',
      );
      note = `all ${ids.length} corrupt: start refused (exit 1); then --from-scratch into a cleared output`;
    } else {
      const { cli: restarted, startedIn } = await start(ws);
      recovery.push(startedIn);
      const ended = await restarted.exited;
      assert.equal(ended.code, 0, ended.stderr);
      assert.match(ended.stderr, /"msg":"restoring an older checkpoint/);
      const quarantined = (await readdir(join(ws.dir, 'out', '.quarantine')).catch(() => [])).length;
      note = `fell back ${corrupted} checkpoint(s); ${quarantined} part(s) the lost ones published moved aside`;
    }
    const label =
      corrupted === 'all'
        ? 'kill -9, every checkpoint corrupted'
        : `kill -9, newest ${corrupted === 1 ? 'checkpoint' : `${corrupted} checkpoints`} corrupted, restarted`;
    return figures(ws, label, await deliveredIds(ws), recovery, note);
  } finally {
    await dispose(ws);
  }
}

/** Sums the runs of one case into one row. */
function merge(runs: FaultFigures[]): FaultFigures {
  const first = runs[0];
  const sum = (k: 'produced' | 'acknowledged' | 'distinct' | 'duplicates' | 'lost') =>
    runs.reduce((n, r) => n + r[k], 0);
  return {
    case: runs.length > 1 ? `${first.case} (×${runs.length})` : first.case,
    produced: sum('produced'),
    acknowledged: sum('acknowledged'),
    distinct: sum('distinct'),
    duplicates: sum('duplicates'),
    lost: sum('lost'),
    recoverySeconds: runs.flatMap((r) => r.recoverySeconds),
    note: first.note,
  };
}

const scenario: FaultScenario = {
  name: 'file-sink-faults',
  description:
    'Rolled file sink (exactly-once) beside an HTTP sink: the HTTP sink fails the job mid-stream, or the newest ' +
    'checkpoints are corrupt after kill -9; restarted to completion. A failing job publishes nothing after its last ' +
    'checkpoint; a fallback moves aside the parts a lost checkpoint published. Recovery: from starting the ' +
    'process to its "pipeline started" log (Node start and restore included).',
  async run(scale: FaultScale): Promise<FaultFigures[]> {
    const rows = scale === 'full' ? 200_000 : 20_000;
    const repeat = scale === 'full' ? 3 : 1;
    const cases: (() => Promise<FaultFigures>)[] = [
      () => failingSink(rows),
      () => corruptCheckpoints(rows, 1),
      () => corruptCheckpoints(rows, 2),
      () => corruptCheckpoints(rows, 'all'),
    ];
    const out: FaultFigures[] = [];
    for (const run of cases) {
      const runs: FaultFigures[] = [];
      for (let i = 0; i < repeat; i++) runs.push(await run());
      out.push(merge(runs));
    }
    return out;
  },
};

export default scenario;
