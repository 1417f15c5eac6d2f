/**
 * A view is a function of the input: a run that fails between checkpoints and restarts from the
 * last one (replaying what came after it) ends with the same rows at the same offsets as a run
 * that was never interrupted.
 */

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { builtins, Job, parsePipelineYaml, Registry, SluiceError } from '@sluice/core';
import { server } from './index.ts';
import { waitFor } from './test-support.ts';
import { viewTable } from './views.ts';

const registry = new Registry([builtins, server]);
const COUNT = 20_000;

const pipeline = (name: string, dir: string) => `
name: ${name}
settings: { checkpoint: { interval: 100ms, dir: ${JSON.stringify(dir)} } }
sources:
  orders: { type: generate, template: orders, count: ${COUNT}, rate: 20000, seed: 11 }
steps:
  - id: totals
    type: aggregate
    key: [customer_id]
    fields: { orders: count(*), amount: sum(amount) }
sinks:
  by_customer: { type: view }
`;

async function create(name: string, dir: string): Promise<Job> {
  const plan = parsePipelineYaml(pipeline(name, dir), join(dir, 'p.yaml'), { registry });
  return Job.create(plan, { registry });
}

test('a view rebuilt from a checkpoint and a replay equals the view of an uninterrupted run', {
  timeout: 120_000,
}, async () => {
  const dirA = await mkdtemp(join(tmpdir(), 'sluice-view-a-'));
  const dirB = await mkdtemp(join(tmpdir(), 'sluice-view-b-'));
  try {
    const a = await create('view-straight', dirA);
    assert.equal((await a.run()).status, 'completed');
    const expected = viewTable('view-straight', 'by_customer')!.snapshot();
    assert.ok(expected.rows.length > 1000);

    const b = await create('view-crashed', dirB);
    const running = b.run();
    await waitFor(() => ((b.metrics().lastCheckpointId ?? 0) >= 2 ? true : undefined), 60_000);
    b.fail(new SluiceError('INTERNAL', 'crash between checkpoints'));
    await assert.rejects(running, /crash between checkpoints/);
    const atCrash = viewTable('view-crashed', 'by_customer')!.offset;
    assert.ok(
      atCrash > 0 && atCrash < expected.offset,
      `crashed part way (offset ${atCrash} of ${expected.offset})`,
    );

    const again = await create('view-crashed', dirB);
    assert.ok(viewTable('view-crashed', 'by_customer')!.offset <= atCrash, 'restored to the checkpoint');
    assert.equal((await again.run()).status, 'completed');
    const rebuilt = viewTable('view-crashed', 'by_customer')!.snapshot();
    assert.equal(rebuilt.offset, expected.offset);
    const sorted = (rows: typeof expected.rows) => [...rows].sort((x, y) => (x[0] < y[0] ? -1 : 1));
    assert.deepEqual(sorted(rebuilt.rows), sorted(expected.rows));
  } finally {
    await rm(dirA, { recursive: true, force: true });
    await rm(dirB, { recursive: true, force: true });
  }
});
