/**
 * `over_aggregate` and `window_top_n` in a job that crashes after a checkpoint and is restored
 * from it: the files they write (exactly-once with respect to checkpoints) are those of an
 * uninterrupted run, line for line (the late output, which both write, as a set of lines).
 */

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import type { Row } from '../record.ts';
import { Harness, planFrom, runCrashedAndRestored, testRegistry } from '../runtime/engine-test-support.ts';
import { Job } from '../runtime/job.ts';
import { memoryChannel } from '../testing/index.ts';
import { seededRandom } from '../testing/random.ts';

const registry = testRegistry();
const h = new Harness();
afterEach(() => h.stopAll());

/** Rows of four keys, 10 ms apart give or take 30 (the bound is 40), every 41st 300 ms behind (late). */
function input(count: number): Row[] {
  const random = seededRandom(23);
  return Array.from({ length: count }, (_, i) => {
    let ts = 50_000 + i * 10 + Math.floor(random() * 61) - 30;
    if (i % 41 === 20) ts -= 300;
    const start = ts - (ts % 200);
    return {
      i,
      k: `k${Math.floor(random() * 4)}`,
      price: Math.floor(random() * 50),
      ts,
      window_start: start,
      window_end: start + 200,
    };
  });
}

const yaml = (name: string) => `
name: ${name}
settings: { checkpoint: { interval: 0, dir: ./ckpt }, batch_size: 16 }
sources:
  in: { type: memory, channel: ${name}, event_time: { field: ts, max_out_of_orderness: 40ms } }
steps:
  - id: over
    type: over_aggregate
    input: in
    key: [k]
    range: 150ms
    fields: { total: sum(price), bids: count(*), top: max(price) }
  - id: top
    type: window_top_n
    input: in
    key: [k]
    order_by: [price DESC]
    n: 2
    rank_field: rn
sinks:
  over_out: { type: file, path: ./out/over.jsonl, input: over }
  top_out: { type: file, path: ./out/top.jsonl, input: top }
late_output: { type: file, path: ./out/late.jsonl }
`;

async function files(dir: string): Promise<{ [file: string]: string }> {
  const out: { [file: string]: string } = {};
  for (const f of ['over.jsonl', 'top.jsonl', 'late.jsonl'])
    out[f] = await readFile(join(dir, 'out', f), 'utf8').catch(() => '');
  // Both steps send late rows to one file, in an order between the two that is not fixed.
  out['late.jsonl'] = out['late.jsonl'].split('\n').sort().join('\n');
  return out;
}

describe('over_aggregate and window_top_n across a crash', () => {
  test('restored from a checkpoint mid-stream, they write what an uninterrupted run writes', async () => {
    const records = input(900);
    const straightDir = await h.dir();
    const straightChannel = memoryChannel('over-job-straight', ['p0']);
    straightChannel.push('p0', ...records);
    straightChannel.end();
    const straight = await h.run(
      await Job.create(planFrom(yaml('over-job-straight'), straightDir, registry), { registry }),
    );
    assert.equal(straight.status, 'completed');
    const want = await files(straightDir);
    assert.ok(want['over.jsonl'].split('\n').length > 800);
    assert.ok(want['late.jsonl'].split('\n').length > 30, 'late rows, from both steps');

    const dir = await h.dir();
    const channel = memoryChannel('over-job-crash', ['p0']);
    const result = await runCrashedAndRestored(
      h,
      registry,
      planFrom(yaml('over-job-crash'), dir, registry),
      channel,
      records,
      {
        checkpointAt: 400,
        crashAt: 650,
        onRestored: (again) => assert.equal(again.metrics().recordsIn, 400, 'restored the checkpoint'),
      },
    );
    assert.equal(result.status, 'completed');
    assert.deepEqual(await files(dir), want);
  });
});
