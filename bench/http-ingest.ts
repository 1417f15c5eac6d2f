/**
 * HTTP ingest throughput: `sluice run` with `http_server` → `discard`, loaded by `wrk` from a
 * second process, once per acknowledgement mode — `memory` (no write-ahead log), `wal`
 * (fsynced write-ahead log, group commit) and `checkpoint` (answered once a checkpoint covers
 * the records). Reports requests per second and records per CPU-second of the Sluice process.
 *
 *   node bench/http-ingest.ts                              # 3 runs of 10 s per mode
 *   node bench/http-ingest.ts --seconds 20 --runs 5 --connections 64 --records 100
 *
 * Needs `wrk` (Debian: `apt-get install wrk`).
 */

import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    runs: { type: 'string', default: '3' },
    connections: { type: 'string', default: '32' },
    threads: { type: 'string', default: '1' },
    records: { type: 'string', default: '100' },
    modes: { type: 'string', default: 'memory,wal,checkpoint' },
  },
});
const seconds = Number(args.seconds);
const runs = Number(args.runs);
const connections = Number(args.connections);
const threads = Number(args.threads);
const perRequest = Number(args.records);
const modes = args.modes.split(',').map((m) => m.trim());

const cliMain = resolve(import.meta.dirname, '../packages/cli/bin/sluice.cjs');
const ticks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

try {
  execFileSync('wrk', ['--version'], { stdio: 'ignore' });
} catch (err) {
  if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
    console.error('bench/http-ingest.ts needs wrk: apt-get install wrk');
    process.exit(2);
  }
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

/** User + system CPU seconds of a process so far. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticks;
}

/** An NDJSON body of `n` records of about 110 bytes, like small webhook events. */
function body(n: number): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    lines.push(
      JSON.stringify({
        id: `evt-${i}`,
        ts: 1_767_225_600_000 + i,
        user: `u${i % 97}`,
        kind: 'click',
        amount: i % 13,
      }),
    );
  }
  return `${lines.join('\n')}\n`;
}

interface Run {
  requestsPerSecond: number;
  recordsPerCpuSecond: number;
  accepted: number;
  refused: number;
}

async function measure(mode: string, dir: string): Promise<Run> {
  const port = await freePort();
  await writeFile(
    join(dir, 'pipeline.yaml'),
    `
name: ingest-${mode}
settings: { checkpoint: { interval: 10s, dir: ./.sluice }, batch_size: 8192 }
sources:
  in: { type: http_server, port: ${port}, ack: ${mode}, queue_records: 100000, queue_bytes: 64mb }
sinks:
  out: { type: discard }
`,
  );
  const child = spawn(
    process.execPath,
    [cliMain, 'run', 'pipeline.yaml', '--from-scratch', '--log-format', 'json'],
    {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
  });
  try {
    for (let waited = 0; !stderr.includes('"msg":"http_server listening"'); waited += 50) {
      if (waited > 60_000 || child.exitCode !== null) throw new Error(`sluice did not start:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const script = join(dir, 'post.lua');
    await writeFile(
      script,
      [
        'wrk.method = "POST"',
        `wrk.body = ${JSON.stringify(body(perRequest))}`,
        'wrk.headers["Content-Type"] = "application/x-ndjson"',
      ].join('\n'),
    );
    const url = `http://127.0.0.1:${port}/ingest`;
    const cpuBefore = await cpuSeconds(child.pid!);
    const out = execFileSync(
      'wrk',
      [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '-s', script, url],
      {
        encoding: 'utf8',
      },
    );
    const cpu = (await cpuSeconds(child.pid!)) - cpuBefore;
    const total = Number(/(\d+) requests in/.exec(out)?.[1] ?? Number.NaN);
    const refused = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
    const accepted = total - refused;
    return {
      requestsPerSecond: accepted / seconds,
      recordsPerCpuSecond: (accepted * perRequest) / cpu,
      accepted,
      refused,
    };
  } finally {
    child.kill('SIGINT');
    await new Promise((r) => child.once('exit', r));
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const k = (x: number) => `${Math.round(x / 1000).toLocaleString('en')}k`;

const rows: string[] = [];
for (const mode of modes) {
  const results: Run[] = [];
  for (let r = 0; r < runs; r++) {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-http-'));
    try {
      results.push(await measure(mode, dir));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const last = results.at(-1)!;
    console.error(
      `${mode} run ${r + 1}: ${Math.round(last.requestsPerSecond)} req/s, ${k(last.recordsPerCpuSecond)} rec/CPU-s, ${last.refused} refused`,
    );
  }
  const rps = median(results.map((x) => x.requestsPerSecond));
  const rpc = median(results.map((x) => x.recordsPerCpuSecond));
  rows.push(
    `| ${mode.padEnd(10)} | ${Math.round(rps).toLocaleString('en')} | ${k(rps * perRequest)} | ${k(rpc)} | ${results.map((x) => x.refused).join(', ')} |`,
  );
}
console.log(
  `\nwrk -t${threads} -c${connections} -d${seconds}s, ${perRequest} records (NDJSON) per request, median of ${runs} runs`,
);
console.log(
  `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.versions.node}\n`,
);
console.log('| ack        | requests/s (202) | records/s | records/CPU-s | refused (non-2xx) per run |');
console.log('| ---------- | ---------------- | --------- | ------------- | ------------------------- |');
for (const row of rows) console.log(row);
