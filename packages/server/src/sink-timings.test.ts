/**
 * Sink write and commit latency: `/metrics` has a histogram per sink whose count and sum are the
 * writes and commits the job made (counted independently through `Job.observeSinkTimes`), with
 * cumulative buckets, and `/api/steps` gives each sink's recent write quantiles.
 */

import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { post, startServed, waitFor } from './test-support.ts';

const pipeline = `
name: sink-timings
settings: { checkpoint: { interval: 0s, dir: {{dir}} } }
sources:
  in: { type: http_server, port: 0, path: /ingest, ack: memory }
sinks:
  out: { type: discard }
  files: { type: file, path: ./out/part.jsonl, format: json }
  latest: { type: view, key: [id] }
`;

/** The samples of `name` in an exposition text, by their label text. */
function series(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(\{.*\})? (\S+)$/.exec(line);
    if (m && m[1] === name) out.set(m[2] ?? '', Number(m[3]));
  }
  return out;
}

test('/metrics has write and commit duration histograms per sink that count every call', {
  timeout: 60_000,
}, async () => {
  const served = await startServed(pipeline, { tokens: { admin: 'a' } });
  const counted = new Map<string, { n: number; sum: number }>();
  // Registered after the server's own listener: both see the same calls from now on.
  served.job.observeSinkTimes((sink, op, seconds) => {
    const k = `${op}:${sink}`;
    const c = counted.get(k) ?? { n: 0, sum: 0 };
    c.n++;
    c.sum += seconds;
    counted.set(k, c);
  });
  try {
    for (let i = 0; i < 5; i++) {
      await post(
        served.ingest!,
        Array.from({ length: 10 }, (_, j) => ({ id: i * 10 + j })),
      );
    }
    await waitFor(() => (served.job.metrics().sinks.latest.written === 50 ? true : undefined));
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${served.server.url}/api/checkpoints`, {
        method: 'POST',
        headers: { authorization: 'Bearer a' },
      });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }
    assert.ok((await readdir(join(served.dir, 'out'))).length > 0, 'the file sink committed files');

    const text = await (await fetch(`${served.server.url}/metrics`)).text();
    assert.match(text, /# TYPE sluice_sink_write_duration_seconds histogram/);
    assert.match(text, /# TYPE sluice_sink_commit_duration_seconds histogram/);
    for (const sink of ['out', 'files', 'latest']) {
      const labels = `{pipeline="sink-timings",sink="${sink}"}`;
      const c = counted.get(`write:${sink}`);
      assert.ok(c !== undefined && c.n > 0, `${sink} was written`);
      assert.equal(series(text, 'sluice_sink_write_duration_seconds_count').get(labels), c.n, sink);
      const sum = series(text, 'sluice_sink_write_duration_seconds_sum').get(labels)!;
      assert.ok(Math.abs(sum - c.sum) < 1e-9, `${sink}: ${sum} vs ${c.sum}`);
      const buckets = [...series(text, 'sluice_sink_write_duration_seconds_bucket')]
        .filter(([l]) => l.includes(`sink="${sink}"`))
        .map(([, v]) => v);
      assert.equal(buckets.length, 16, 'fifteen bounds and +Inf');
      assert.deepEqual(
        buckets,
        buckets.toSorted((a, b) => a - b),
        'cumulative',
      );
      assert.equal(buckets.at(-1), c.n);
    }
    // Only the file sink commits, once per checkpoint.
    const commits = series(text, 'sluice_sink_commit_duration_seconds_count');
    assert.deepEqual([...commits], [['{pipeline="sink-timings",sink="files"}', 2]]);
    assert.equal(counted.get('commit:files')?.n, 2);

    const steps = (await (await fetch(`${served.server.url}/api/steps`)).json()) as {
      nodes: { id: string; writeLatency?: { writes: number; p50Ms: number; p99Ms: number; maxMs: number } }[];
    };
    for (const sink of ['out', 'files', 'latest']) {
      const l = steps.nodes.find((n) => n.id === sink)!.writeLatency!;
      assert.equal(l.writes, counted.get(`write:${sink}`)!.n);
      assert.ok(l.p50Ms >= 0 && l.p50Ms <= l.p99Ms && l.p99Ms <= l.maxMs, JSON.stringify(l));
    }
  } finally {
    await served.stop();
  }
});
