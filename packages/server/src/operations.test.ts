/**
 * The operations API over a running job, through a real HTTP server on loopback: status and
 * totals, the step graph with counters, rates and watermarks, checkpoint history, dead letters,
 * and stopping the job.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { post, startServed, waitFor } from './test-support.ts';

const pipeline = (name: string) => `
name: ${name}
settings: { checkpoint: { interval: 0s, dir: {{dir}} } }
sources:
  in:
    type: http_server
    port: 0
    path: /ingest
    ack: memory
    event_time: { field: ts, max_out_of_orderness: 1s }
steps:
  - id: priced
    type: map
    fields: { total: amount * 2 }
  - id: big
    type: filter
    where: total > 10
sinks:
  out: { type: discard }
`;

const admin = { authorization: 'Bearer admin-secret' };

/** A node of `GET /api/steps`, as JSON. */
interface StepNode {
  id: string;
  kind: string;
  type: string;
  inputs: string[];
  counters: { [counter: string]: number };
  rates: { [rate: string]: number };
  watermark?: number | null;
  watermarkLagMs?: number | null;
}

interface Answers {
  job: {
    pipeline: string;
    status: string;
    uptimeMs: number;
    totals: { [k: string]: number };
    watermark: number | null;
  };
  steps: { nodes: StepNode[] };
  checkpoints: {
    checkpoints: { id: number; startedAt: number; completedAt: number; durationMs: number; bytes: number }[];
  };
  deadLetters: {
    total: number;
    deadLetters: { step: string; message: string; payload: { ts: number; amount: unknown } }[];
  };
}

const getJson = async <K extends keyof Answers>(url: string, _answer: K): Promise<Answers[K]> => {
  const res = await fetch(url);
  assert.equal(res.status, 200, `${url}: ${res.status}`);
  return (await res.json()) as Answers[K];
};

/** Records 0..n-1: amount i, except every fifth, whose amount is text (a dead letter at `priced`). */
const records = (n: number, t0: number) =>
  Array.from({ length: n }, (_, i) => ({ id: i, ts: t0 + i * 1000, amount: i % 5 === 4 ? 'many' : i }));

test('the operations API reports status, totals, the step graph, checkpoints and dead letters of the running job', {
  timeout: 60_000,
}, async () => {
  const served = await startServed(pipeline('ops-api'), {
    tokens: { admin: 'admin-secret' },
    rateIntervalMs: 50,
  });
  try {
    const api = `${served.server.url}/api`;
    const t0 = Date.UTC(2026, 0, 1);
    const input = records(50, t0);
    await post(served.ingest!, input);
    const expectedDead = input.filter((r) => typeof r.amount !== 'number').length;
    const expectedOut = input.filter((r) => typeof r.amount === 'number' && r.amount * 2 > 10).length;

    const job = await waitFor(async () => {
      const j = await getJson(`${api}/job`, 'job');
      return j.totals.recordsIn === input.length ? j : undefined;
    });
    assert.equal(job.pipeline, 'ops-api');
    assert.equal(job.status, 'running');
    assert.ok(job.uptimeMs >= 0);
    assert.equal(job.totals.deadLetters, expectedDead);
    assert.equal(job.watermark, t0 + 49 * 1000 - 1000 - 1);

    const steps = await getJson(`${api}/steps`, 'steps');
    const byId = Object.fromEntries(steps.nodes.map((n) => [n.id, n]));
    assert.deepEqual(
      steps.nodes.map((n) => [n.id, n.kind, n.type, n.inputs]),
      [
        ['in', 'source', 'http_server', []],
        ['priced', 'step', 'map', ['in']],
        ['big', 'step', 'filter', ['priced']],
        ['out', 'sink', 'discard', ['big']],
      ],
    );
    assert.equal(byId.in.counters.in, input.length);
    assert.equal(byId.priced.counters.in, input.length);
    assert.equal(byId.priced.counters.dead, expectedDead);
    assert.equal(byId.big.counters.in, input.length - expectedDead);
    assert.equal(byId.big.counters.out, expectedOut);
    assert.equal(byId.big.counters.filtered, input.length - expectedDead - expectedOut);
    assert.equal(byId.priced.watermark, job.watermark);
    assert.equal(byId.in.watermark, job.watermark, 'the one source holds the pipeline watermark');
    assert.equal(typeof byId.priced.watermarkLagMs, 'number');
    await waitFor(async () => {
      const s = await getJson(`${api}/steps`, 'steps');
      return s.nodes.find((n) => n.id === 'out')?.counters.written === expectedOut ? true : undefined;
    });

    // Rates are per second between samples: new input shows as a positive rate in and out.
    await post(served.ingest!, records(20, t0 + 60_000));
    const rated = await waitFor(async () => {
      const s = await getJson(`${api}/steps`, 'steps');
      const priced = s.nodes.find((n) => n.id === 'priced');
      return priced && priced.rates.inPerSec > 0 ? priced : undefined;
    });
    assert.ok(rated.rates.outPerSec > 0);

    const taken = await fetch(`${api}/checkpoints`, { method: 'POST', headers: admin });
    assert.equal(taken.status, 200);
    const { checkpoint } = (await taken.json()) as { checkpoint: { id: number } };
    const { checkpoints } = await getJson(`${api}/checkpoints`, 'checkpoints');
    assert.equal(checkpoints[0].id, checkpoint.id);
    assert.equal(checkpoints[0].durationMs, checkpoints[0].completedAt - checkpoints[0].startedAt);
    assert.ok(checkpoints[0].bytes > 0);

    const dead = await getJson(`${api}/dead-letters?limit=3`, 'deadLetters');
    assert.equal(dead.total, expectedDead + 4);
    assert.equal(dead.deadLetters.length, 3);
    for (const d of dead.deadLetters) {
      assert.equal(d.step, 'priced');
      assert.equal(typeof d.payload.amount, 'string');
      assert.ok(d.message.length > 0, 'a dead letter says why');
    }
    // Newest first.
    assert.ok(dead.deadLetters[0].payload.ts > dead.deadLetters[2].payload.ts);
    const bad = await fetch(`${api}/dead-letters?limit=0`);
    assert.equal(bad.status, 400);
    await bad.arrayBuffer();

    const stop = await fetch(`${api}/job/stop`, { method: 'POST', headers: admin });
    assert.equal(stop.status, 202);
    await stop.arrayBuffer();
    const result = await served.running;
    assert.equal(result.status, 'stopped');
    assert.equal((await getJson(`${api}/job`, 'job')).status, 'stopped');
  } finally {
    await served.stop();
  }
});
