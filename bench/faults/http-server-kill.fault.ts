/**
 * `http_server` → file sink under load from a second process: `sluice run` is killed with
 * SIGKILL a few times and restarted, then stopped with SIGINT, still under load. Every record
 * answered 202 must be in the output. Run once with `ack: wal` and once with `ack: checkpoint`.
 */

import { type ChildProcess, fork } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cli } from '../../packages/cli/src/cli-test-support.ts';
import type { LoadReport } from './http-load.ts';
import { deliveryFigures, type FaultFigures, type FaultScale, type FaultScenario } from './scenario.ts';

interface Sizes {
  /** SIGKILLs, each followed by a restart. */
  kills: number;
  /** Load time before each kill, and before the final SIGINT, ms. */
  runMs: number;
  clients: number;
  perRequest: number;
}

const sizes: Record<FaultScale, Sizes> = {
  small: { kills: 2, runMs: 1500, clients: 3, perRequest: 20 },
  full: { kills: 5, runMs: 6000, clients: 8, perRequest: 50 },
};

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pipeline(ack: 'wal' | 'checkpoint', port: number): string {
  return `
name: http-kill
settings:
  checkpoint: { interval: 1s, dir: ./.sluice }
sources:
  ingest:
    type: http_server
    port: ${port}
    ack: ${ack}
    queue_records: 20000
sinks:
  out:
    type: file
    path: ./out/records.jsonl
    roll: { max_bytes: 262144 }
`;
}

/** Starts `sluice run` and waits until it listens. */
async function startSluice(dir: string): Promise<Cli> {
  const cli = new Cli(['run', 'pipeline.yaml', '--log-format', 'json'], { cwd: dir, limitMs: 600_000 });
  await cli.waitForLog('http_server listening', 60_000);
  return cli;
}

/** The ids of every record in the published output files. */
async function delivered(dir: string): Promise<string[]> {
  const ids: string[] = [];
  const out = join(dir, 'out');
  for (const name of await readdir(out)) {
    if (name.startsWith('.') || !name.endsWith('.jsonl')) continue;
    for (const line of (await readFile(join(out, name), 'utf8')).split('\n')) {
      if (line !== '') ids.push((JSON.parse(line) as { id: string }).id);
    }
  }
  return ids;
}

async function runCase(ack: 'wal' | 'checkpoint', size: Sizes): Promise<FaultFigures> {
  const dir = await mkdtemp(join(tmpdir(), `sluice-fault-http-${ack}-`));
  let load: ChildProcess | undefined;
  try {
    const port = await freePort();
    await writeFile(join(dir, 'pipeline.yaml'), pipeline(ack, port));
    const ackedFile = join(dir, 'acked.txt');
    await writeFile(ackedFile, '');
    let sluice = await startSluice(dir);
    load = fork(
      join(import.meta.dirname, 'http-load.ts'),
      [`http://127.0.0.1:${port}/ingest`, ackedFile, String(size.perRequest), String(size.clients)],
      { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] },
    );
    const child = load;
    const report = new Promise<LoadReport>((resolve, reject) => {
      child.on('message', (m) => {
        if (m !== 'ready') resolve(m as LoadReport);
      });
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`the load generator exited with ${code}`)));
    });
    /** When each restart was spawned, the killed process having exited. */
    const restarts: number[] = [];
    for (let k = 0; k < size.kills; k++) {
      await sleep(size.runMs);
      sluice.kill('SIGKILL');
      const ended = await sluice.exited;
      if (ended.signal !== 'SIGKILL') throw new Error(`sluice ended before kill ${k + 1}:\n${ended.stderr}`);
      const startedAt = Date.now();
      sluice = await startSluice(dir);
      restarts.push(startedAt);
    }
    await sleep(size.runMs);
    sluice.kill('SIGINT');
    const stopped = await sluice.exited;
    if (stopped.code !== 0)
      throw new Error(`sluice did not stop cleanly on SIGINT (${stopped.code}):\n${stopped.stderr}`);
    child.send('stop');
    const { produced, ackTimes } = await report;
    const acked = (await readFile(ackedFile, 'utf8')).split('\n').filter((id) => id !== '');
    // Once the killed process has exited, every later 202 comes from the restarted one.
    const recoverySeconds = restarts.map((startedAt) => {
      const first = ackTimes.filter((t) => t > startedAt).sort((a, b) => a - b)[0];
      return first === undefined ? Number.NaN : (first - startedAt) / 1000;
    });
    return {
      case: `ack: ${ack}, kill -9 ×${size.kills} under load, then SIGINT under load`,
      produced,
      ...deliveryFigures(acked, await delivered(dir)),
      recoverySeconds,
      note:
        ack === 'wal'
          ? 'at-least-once: a request fsynced but killed before its 202 is resent'
          : 'synchronous: 202 after a checkpoint (1 s) covers the records',
    };
  } finally {
    if (load && load.exitCode === null) load.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
}

const scenario: FaultScenario = {
  name: 'http-server-kill',
  description:
    '`http_server` → rolled file sink, load from a second process; `sluice run` killed with SIGKILL ' +
    'and restarted several times, then stopped with SIGINT, all under load; once with the write-ahead ' +
    'log (`ack: wal`) and once synchronous (`ack: checkpoint`). Recovery: from spawning the restarted ' +
    'process (which loads the TypeScript sources) to its first 202.',
  async run(scale) {
    const size = sizes[scale];
    return [await runCase('wal', size), await runCase('checkpoint', size)];
  },
};

export default scenario;
