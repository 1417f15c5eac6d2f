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

const pipeline = (dir: string) => `
name: state-sizes
settings: { checkpoint: { interval: 0s, dir: ${JSON.stringify(join(dir, 'ck'))}, keep: 1 } }
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
