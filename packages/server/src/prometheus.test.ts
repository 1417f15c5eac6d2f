/**
 * A real Prometheus server (Debian's `prometheus`, started by this test on a loopback port of its
 * own) scrapes `/metrics` of a served job, and its query API returns the job's counters and a
 * quantile of a sink's write latency histogram.
 * Without the `prometheus` binary the test says why it skips; under CI=true that is a failure
 * (.ci/run installs it).
 */

import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { reportMissingService } from '@sluice/core/testing';
import { post, startServed, waitFor } from './test-support.ts';

const installed = spawnSync('prometheus', ['--version'], { stdio: 'ignore' }).status === 0;

const pipeline = `
name: prom-scrape
settings: { checkpoint: { interval: 0s, dir: {{dir}} } }
sources:
  in: { type: http_server, port: 0, path: /ingest, ack: memory }
steps:
  - id: priced
    type: map
    fields: { total: amount * 2 }
sinks:
  out: { type: discard }
`;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

test('Prometheus scrapes /metrics and answers queries with the job’s counters', {
  timeout: 90_000,
}, async (t) => {
  if (!installed) {
    reportMissingService('prometheus not installed (apt-get install prometheus)');
    t.skip('prometheus not installed');
    return;
  }
  const served = await startServed(pipeline);
  const dir = await mkdtemp(join(tmpdir(), 'sluice-prometheus-'));
  let prometheus: ChildProcess | undefined;
  try {
    const input = Array.from({ length: 37 }, (_, i) => ({ amount: i }));
    await post(served.ingest!, input);
    await waitFor(() => (served.job.metrics().sinks.out.written === input.length ? true : undefined));

    const { host, port } = served.server;
    await writeFile(
      join(dir, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        'scrape_configs:',
        '  - job_name: sluice',
        `    static_configs: [{ targets: ['${host}:${port}'] }]`,
        '',
      ].join('\n'),
    );
    const promPort = await freePort();
    let log = '';
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    prometheus.stderr!.setEncoding('utf8').on('data', (s: string) => {
      log += s;
    });
    const ask = (query: string) =>
      waitFor(async () => {
        const api = `http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(query)}`;
        const res = await fetch(api).catch(() => undefined);
        if (res?.status !== 200) return undefined;
        const body = (await res.json()) as { data: { result: { value: [number, string] }[] } };
        return body.data.result[0]?.value[1];
      }, 60_000).catch((err) => {
        throw new Error(`${(err as Error).message}; prometheus said:\n${log.slice(-2000)}`);
      });
    const value = await ask(
      `sluice_step_records_in_total{pipeline="prom-scrape",step="priced",job="sluice"}`,
    );
    assert.equal(Number(value), input.length);
    // The sink's write latency histogram, as Prometheus stores it: a count per bucket bound.
    const steps = (await (await fetch(`${served.server.url}/api/steps`)).json()) as {
      nodes: { id: string; writeLatency?: { writes: number } }[];
    };
    const writes = steps.nodes.find((n) => n.id === 'out')?.writeLatency?.writes;
    assert.ok(writes !== undefined && writes > 0);
    const inf = await ask(`sluice_sink_write_duration_seconds_bucket{sink="out",le="+Inf",job="sluice"}`);
    assert.equal(Number(inf), writes);
    const p99 = await ask(
      `histogram_quantile(0.99, sluice_sink_write_duration_seconds_bucket{sink="out",job="sluice"})`,
    );
    assert.ok(Number(p99) > 0 && Number(p99) <= 30, `p99 ${p99}`);
  } finally {
    prometheus?.kill('SIGTERM');
    if (prometheus && prometheus.exitCode === null)
      await new Promise((resolve) => prometheus!.once('exit', resolve));
    await served.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
