/**
 * `Job.stateSizes()`: what each source, step and sink put into the last checkpoint, measured as
 * it was encoded — checked against the checkpoint file itself, each part encoded again on its own,
 * and the keys of an aggregate's keyed state against the distinct keys of its input.
 */

import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { builtins } from '../builtins.ts';
import { decodeCheckpoint } from '../checkpoint/checkpoint-format.ts';
import { encodeValue } from '../checkpoint/value-codec.ts';
import { Registry } from '../registry.ts';
import { parsePipelineYaml } from '../yaml/index.ts';
import { Job } from './job.ts';

const pipeline = (dir: string, interval = '1h') => `
name: state-sizes
settings: { checkpoint: { interval: ${interval}, dir: ${JSON.stringify(join(dir, 'ck'))}, keep: 1 } }
sources:
  orders: { type: file, path: ./in.jsonl, format: json }
steps:
  - id: doubled
    type: map
    fields: { v2: v * 2 }
  - id: per_region
    type: aggregate
    key: [region]
    fields: { n: count(*), total: sum(v2) }
sinks:
  files: { type: file, path: ./out/part.jsonl, format: json, changelog: debezium }
`;

test('stateSizes gives the bytes each part took in the last checkpoint and the keys of keyed state', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-state-sizes-'));
  try {
    const records = Array.from({ length: 60 }, (_, i) => ({ region: `r${(i * 7) % 11}`, v: i }));
    await writeFile(join(dir, 'in.jsonl'), records.map((r) => JSON.stringify(r)).join('\n'));
    const registry = new Registry([builtins]);
    const plan = parsePipelineYaml(pipeline(dir), join(dir, 'p.yaml'), { registry });
    const job = await Job.create(plan, { registry, fromScratch: true });
    assert.equal(job.stateSizes(), undefined, 'none before the first checkpoint');
    await job.run();
    const sizes = job.stateSizes();
    assert.ok(sizes !== undefined);
    assert.equal(sizes.checkpointId, job.metrics().lastCheckpointId);

    // The keyed state holds one entry per region.
    assert.equal(sizes.steps.per_region.keys, new Set(records.map((r) => r.region)).size);
    assert.equal(sizes.steps.doubled, undefined, 'a map keeps no state');

    // Each size is what the part takes when encoded on its own (the same codec, no header).
    const files = (await readdir(join(dir, 'ck'), { recursive: true })).filter((f) => f.endsWith('.ckpt'));
    assert.equal(files.length, 1, `one checkpoint kept: ${files.join(', ')}`);
    const file = files[0];
    const bytes = await readFile(join(dir, 'ck', file));
    const data = decodeCheckpoint(bytes, file);
    assert.equal(data.id, sizes.checkpointId);
    const alone = (v: unknown) => encodeValue(v, 0, 64).bytes.length;
    const agg = 'per_region' in data.operators ? alone(data.operators.per_region) : 0;
    assert.equal(sizes.steps.per_region.bytes, agg + alone(data.keyedState!.per_region));
    assert.equal(sizes.sinks.files.bytes, alone(data.sinks.files));
    assert.equal(sizes.sources.orders.bytes, alone(data.sources.orders));
    const total = sizes.steps.per_region.bytes + sizes.sinks.files.bytes + sizes.sources.orders.bytes;
    assert.ok(total < bytes.length);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('with checkpointing off, the final checkpoint of a completed job holds no operator state, only what sources and sinks need', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-state-sizes-'));
  try {
    const records = Array.from({ length: 60 }, (_, i) => ({ region: `r${(i * 7) % 11}`, v: i }));
    await writeFile(join(dir, 'in.jsonl'), records.map((r) => JSON.stringify(r)).join('\n'));
    const registry = new Registry([builtins]);
    const plan = parsePipelineYaml(pipeline(dir, '0s'), join(dir, 'p.yaml'), { registry });
    const job = await Job.create(plan, { registry, fromScratch: true });
    const result = await job.run();
    assert.equal(result.status, 'completed');
    const files = (await readdir(join(dir, 'ck'), { recursive: true })).filter((f) => f.endsWith('.ckpt'));
    assert.equal(files.length, 1);
    const data = decodeCheckpoint(await readFile(join(dir, 'ck', files[0])), files[0]);
    assert.equal(data.counters?.completed, 1);
    assert.deepEqual(data.operators, {});
    assert.deepEqual(data.keyedState ?? {}, {});
    assert.ok(data.sources.orders !== undefined, 'the source positions are kept');
    assert.ok(data.sinks.files !== undefined, "the file sink's pending parts are kept");
    assert.deepEqual(job.stateSizes()?.steps, {});

    // The sink published everything at the end: one final row per region, as the totals say.
    const out = (await readdir(join(dir, 'out'))).filter((f) => !f.startsWith('.'));
    const rows = new Map<string, { n: number; total: number }>();
    for (const f of out) {
      for (const line of (await readFile(join(dir, 'out', f), 'utf8')).split('\n')) {
        if (line === '') continue;
        const change = JSON.parse(line) as {
          op: string;
          after: { region: string; n: number; total: number } | null;
        };
        if (change.after) rows.set(change.after.region, { n: change.after.n, total: change.after.total });
      }
    }
    const expected = new Map<string, { n: number; total: number }>();
    for (const r of records) {
      const e = expected.get(r.region) ?? { n: 0, total: 0 };
      expected.set(r.region, { n: e.n + 1, total: e.total + r.v * 2 });
    }
    assert.deepEqual(rows, expected);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
