/**
 * `http_poll` source: a job `http_poll` → discard reading one poll of numbered pages from a local
 * API, beside a bare loop doing the same requests with `fetch` and `JSON.parse` (the ceiling).
 *
 * The API runs in a child process of its own, serving pre-serialized pages, so its CPU is not
 * counted: both sides are measured by this process's CPU time (user + system), alternating, the
 * median of `--runs` reported (`compare` of `measure.ts`).
 *
 *   node bench/http-poll.ts [--records 200000] [--page 1000] [--runs 5]
 */

import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { builtins, Job, parsePipelineYaml, Registry } from '@sluice/core';
import { compare } from './measure.ts';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '200000' },
    page: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '5' },
    serve: { type: 'boolean', default: false },
  },
});
const records = Number(values.records);
const pageSize = Number(values.page);

/** The child: serves `records` records in pages of `page`, each page serialized once. */
function serve(): void {
  const pages: Buffer[] = [];
  for (let from = 0; from <= records; from += pageSize) {
    const rows = [];
    for (let i = from; i < Math.min(records, from + pageSize); i++)
      rows.push({
        id: i,
        customer: `c-${i % 977}`,
        amount: (i * 37) % 1000,
        status: 'open',
        ts: 1_765_000_000_000 + i,
      });
    pages.push(Buffer.from(JSON.stringify(rows)));
  }
  const server = createServer((req, res) => {
    const page = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('page') ?? 1);
    const body = pages[page - 1] ?? Buffer.from('[]');
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));
}

async function startApi(): Promise<{ url: string; stop: () => void }> {
  const child = spawn(
    process.execPath,
    [import.meta.filename, '--serve', '--records', String(records), '--page', String(pageSize)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const port = await new Promise<string>((resolve) =>
    child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())),
  );
  return { url: `http://127.0.0.1:${port}/items`, stop: () => child.kill() };
}

async function main(): Promise<void> {
  const api = await startApi();
  const registry = new Registry([builtins]);
  let run = 0;
  const engine = async (): Promise<number> => {
    const yaml = [
      `name: bench-http-poll-${process.pid}-${run++}`,
      'sources:',
      `  api: { type: http_poll, url: "${api.url}", interval: 1h, max_pages: 100000, pagination: { type: page, size_param: per_page, size: ${pageSize} } }`,
      'sinks:',
      '  out: { type: discard }',
    ].join('\n');
    const job = await Job.create(parsePipelineYaml(yaml, 'bench.yaml', { registry }), { registry });
    const done = job.run();
    while (job.metrics().recordsIn < records) await new Promise((r) => setTimeout(r, 2));
    job.stop();
    const result = await done;
    return result.metrics.sources.api?.in ?? 0;
  };
  const baseline = async (): Promise<number> => {
    let count = 0;
    for (let page = 1; ; page++) {
      const res = await fetch(`${api.url}?page=${page}&per_page=${pageSize}`, {
        headers: { accept: 'application/json' },
      });
      const rows = JSON.parse(await res.text()) as unknown[];
      count += rows.length;
      if (rows.length < pageSize) return count;
    }
  };
  try {
    const c = await compare('http_poll', records, Number(values.runs), engine, baseline);
    console.log(
      `http_poll → discard, ${records} records in pages of ${pageSize} (${cpus().length} CPUs, load ${loadavg()[0]?.toFixed(2)}):`,
    );
    console.log(
      `  sluice   ${Math.round(c.engineRate).toLocaleString('en')} records/CPU-s, ${Math.round(c.engineWallRate).toLocaleString('en')} records/s wall`,
    );
    console.log(`  fetch+JSON.parse  ${Math.round(c.baselineRate).toLocaleString('en')} records/CPU-s`);
    console.log(`  ratio    ${(c.ratio * 100).toFixed(0)}%`);
  } finally {
    api.stop();
  }
}

if (values.serve) serve();
else await main();
