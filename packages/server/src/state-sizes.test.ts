/**
 * State sizes over HTTP: `/api/steps` and `/metrics` give what each step, sink and source put into
 * the last checkpoint (`Job.stateSizes()`, measured as the checkpoint was encoded), with the keys
 * of an aggregate's keyed state and a view's rows counted against the input's distinct keys.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { post, startServed, waitFor } from './test-support.ts';

const pipeline = `
name: state-sizes
settings: { checkpoint: { interval: 0s, dir: {{dir}} } }
sources:
  in: { type: http_server, port: 0, path: /ingest, ack: memory }
steps:
  - id: per_region
    type: aggregate
    key: [region]
    fields: { n: count(*), total: sum(v) }
sinks:
  totals: { type: view }
`;

interface StateNode {
  id: string;
  state: { bytes: number; keys?: number; checkpointId: number } | null;
}

/** The value of the sample `name{label="id"}` (of this pipeline) in an exposition text. */
const sample = (text: string, name: string, label: string, id: string) => {
  for (const line of text.split('\n')) {
    const m = /^(\w+)\{(.*)\} (\S+)$/.exec(line);
    if (m?.[1] !== name) continue;
    const labels = m[2].split(',').sort().join(',');
    if (labels === [`${label}="${id}"`, 'pipeline="state-sizes"'].sort().join(',')) return Number(m[3]);
  }
  return undefined;
};

test('/api/steps and /metrics report each part’s state at the last checkpoint, growing with its keys', {
  timeout: 60_000,
}, async () => {
  const served = await startServed(pipeline, { tokens: { admin: 'a' } });
  const checkpoint = async () => {
    const res = await fetch(`${served.server.url}/api/checkpoints`, {
      method: 'POST',
      headers: { authorization: 'Bearer a' },
    });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  };
  const nodes = async () =>
    ((await (await fetch(`${served.server.url}/api/steps`)).json()) as { nodes: StateNode[] }).nodes;
  try {
    assert.ok(
      (await nodes()).every((n) => n.state === null),
      'no sizes before the first checkpoint',
    );
    const seen = new Set<string>();
    const before: { [id: string]: number } = {};
    for (const [round, regions] of [
      [1, 4],
      [2, 9],
    ]) {
      const records = Array.from({ length: 30 }, (_, i) => ({ region: `r${(i * 5) % regions}`, v: i }));
      for (const r of records) seen.add(r.region);
      await post(served.ingest!, records);
      await waitFor(() => (served.job.metrics().steps.per_region.in === 30 * round ? true : undefined));
      await checkpoint();
      const sizes = served.job.stateSizes()!;
      const byId = new Map((await nodes()).map((n) => [n.id, n]));
      const agg = byId.get('per_region')!.state!;
      assert.equal(agg.checkpointId, served.job.metrics().lastCheckpointId);
      assert.equal(agg.keys, seen.size, 'one key per region seen');
      assert.equal(agg.bytes, sizes.steps.per_region.bytes);
      const view = byId.get('totals')!.state!;
      assert.equal(view.keys, seen.size, 'one row per region');
      assert.equal(view.bytes, sizes.sinks.totals.bytes);
      assert.equal(byId.get('in')!.state!.bytes, sizes.sources.in.bytes);
      for (const [id, bytes] of [
        ['per_region', agg.bytes],
        ['totals', view.bytes],
      ] as const) {
        assert.ok(bytes > (before[id] ?? 0), `${id} grew with its keys`);
        before[id] = bytes;
      }

      const text = await (await fetch(`${served.server.url}/metrics`)).text();
      assert.equal(sample(text, 'sluice_step_state_bytes', 'step', 'per_region'), agg.bytes);
      assert.equal(sample(text, 'sluice_step_state_keys', 'step', 'per_region'), seen.size);
      assert.equal(sample(text, 'sluice_sink_state_bytes', 'sink', 'totals'), view.bytes);
      assert.equal(sample(text, 'sluice_source_state_bytes', 'source', 'in'), sizes.sources.in.bytes);
    }
  } finally {
    await served.stop();
  }
});
