/**
 * `GET /metrics` scraped over loopback and parsed as the Prometheus text exposition format:
 * every series matches the job's own counters (and a view's row count, the last checkpoint's size).
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { post, startServed, waitFor } from './test-support.ts';

const pipeline = `
name: metrics-scrape
settings: { checkpoint: { interval: 0s, dir: {{dir}} } }
sources:
  in:
    type: http_server
    port: 0
    path: /ingest
    ack: memory
    event_time: { field: ts, max_out_of_orderness: 0s }
steps:
  - id: priced
    type: map
    fields: { total: amount * 2 }
  - id: per5s
    type: aggregate
    window: { type: tumbling, size: 5s }
    fields: { n: count(*), total: sum(total) }
sinks:
  out: { type: discard }
  windows: { type: view }
`;

interface Sample {
  name: string;
  labels: { [k: string]: string };
  value: number;
}

/** Parses the text exposition format (version 0.0.4): samples, and the TYPE of each family. */
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      types.set(type[1], type[2]);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not an exposition line: ${line}`);
    const labels: { [k: string]: string } = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]] = l[2];
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return { samples, types };
}

const value = (samples: Sample[], name: string, labels: { [k: string]: string }) =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

test('/metrics exposes per-step, per-sink, watermark lag and checkpoint series that match the job', {
  timeout: 60_000,
}, async () => {
  const served = await startServed(pipeline, { tokens: { admin: 'a' } });
  try {
    const t0 = Math.floor((Date.now() - 60_000) / 5000) * 5000;
    // Ten on time, two late (behind the watermark), three with a text amount (dead letters).
    const input = [
      ...Array.from({ length: 10 }, (_, i) => ({ ts: t0 + i * 1000, amount: i })),
      { ts: t0, amount: 1 },
      { ts: t0 + 1000, amount: 2 },
      ...Array.from({ length: 3 }, (_, i) => ({ ts: t0 + 20_000 + i, amount: 'x' })),
    ];
    await post(served.ingest!, input);
    // The dead letters' times move the watermark past both windows: two results.
    await waitFor(() => (served.job.metrics().sinks.out.written === 2 ? true : undefined));
    const checkpoint = await fetch(`${served.server.url}/api/checkpoints`, {
      method: 'POST',
      headers: { authorization: 'Bearer a' },
    });
    assert.equal(checkpoint.status, 200);
    await checkpoint.arrayBuffer();

    const res = await fetch(`${served.server.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const { samples, types } = parseExposition(await res.text());
    const m = served.job.metrics();
    const at = { pipeline: 'metrics-scrape', step: 'priced' };
    const agg = { pipeline: 'metrics-scrape', step: 'per5s' };

    assert.equal(types.get('sluice_step_records_in_total'), 'counter');
    assert.equal(value(samples, 'sluice_step_records_in_total', at), m.steps.priced.in);
    assert.equal(value(samples, 'sluice_step_records_in_total', at), input.length);
    assert.equal(value(samples, 'sluice_step_records_out_total', at), 12);
    assert.equal(value(samples, 'sluice_step_records_dead_total', at), 3);
    assert.equal(value(samples, 'sluice_step_records_filtered_total', at), 0);
    assert.equal(value(samples, 'sluice_step_records_in_total', agg), 12);
    assert.equal(value(samples, 'sluice_step_records_out_total', agg), 10);
    assert.equal(value(samples, 'sluice_step_records_late_total', agg), 2);
    assert.equal(value(samples, 'sluice_step_results_total', agg), 2);
    assert.equal(value(samples, 'sluice_source_records_in_total', { source: 'in' }), input.length);
    // An ingest endpoint cannot say how far it trails: no lag series.
    assert.equal(types.get('sluice_source_lag'), 'gauge');
    assert.equal(samples.filter((s) => s.name === 'sluice_source_lag').length, 0);
    assert.equal(value(samples, 'sluice_sink_records_written_total', { sink: 'out' }), 2);
    assert.equal(value(samples, 'sluice_sink_records_rejected_total', { sink: 'out' }), 0);

    assert.equal(types.get('sluice_watermark_lag_seconds'), 'gauge');
    const lag = value(samples, 'sluice_watermark_lag_seconds', at);
    assert.ok(lag !== undefined && lag >= 39 && lag < 3600, `lag ${lag}`);

    assert.equal(types.get('sluice_checkpoint_duration_seconds'), 'histogram');
    const history = served.job.checkpointHistory();
    assert.equal(
      value(samples, 'sluice_checkpoint_duration_seconds_count', { pipeline: 'metrics-scrape' }),
      history.length,
    );
    const sum = history.reduce((s, c) => s + c.durationMs / 1000, 0);
    assert.ok(Math.abs(value(samples, 'sluice_checkpoint_duration_seconds_sum', {})! - sum) < 1e-9);
    assert.equal(value(samples, 'sluice_checkpoint_duration_seconds_bucket', { le: '+Inf' }), history.length);
    assert.equal(value(samples, 'sluice_last_checkpoint_id', {}), m.lastCheckpointId);
    assert.equal(types.get('sluice_last_checkpoint_size_bytes'), 'gauge');
    const size = value(samples, 'sluice_last_checkpoint_size_bytes', {});
    assert.equal(size, history.at(-1)!.bytes);
    assert.ok(size! > 0);
    // The view holds one row per window result, keyed by the window's bounds.
    assert.equal(value(samples, 'sluice_view_rows', { view: 'windows' }), 2);

    // A second scrape does not count the same checkpoint twice.
    const again = parseExposition(await (await fetch(`${served.server.url}/metrics`)).text());
    assert.equal(value(again.samples, 'sluice_checkpoint_duration_seconds_count', {}), history.length);
  } finally {
    await served.stop();
  }
});
