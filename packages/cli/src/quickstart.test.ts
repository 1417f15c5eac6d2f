/**
 * The quickstart example end to end, on a copy in a temporary folder: it completes and every
 * record read is accounted for in the results, the dead letters or the late records.
 */

import assert from 'node:assert/strict';
import { cp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { inProgressFiles, readJsonLines, repoRoot, runCli, tempDir } from './cli-test-support.ts';

interface RegionResult {
  region: string;
  window_start: number;
  window_end: number;
  orders: number;
  revenue: number;
}

interface DeadLetter {
  step: string;
  code: string;
  source?: string;
  partition?: string;
  offset?: number;
}

test('quickstart: per-region results, dead letters and late records account for every record', async (t) => {
  const example = join(repoRoot, 'examples/quickstart');
  const dir = await tempDir(t, 'sluice-quickstart-');
  for (const file of ['pipeline.yaml', 'manual-orders.jsonl', 'order.schema.json'])
    await cp(join(example, file), join(dir, file));

  const r = await runCli(['run', 'pipeline.yaml'], dir, 60_000);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /"msg":"pipeline completed"/);
  assert.deepEqual(await inProgressFiles(join(dir, 'out')), []);

  const yaml = await readFile(join(dir, 'pipeline.yaml'), 'utf8');
  const generated = Number(/^\s+count: (\d+)$/m.exec(yaml)?.[1]);
  assert.equal(generated, 200_000);
  const manual = (await readFile(join(dir, 'manual-orders.jsonl'), 'utf8'))
    .split('\n')
    .filter((l) => l !== '');
  const recordsIn = generated + manual.length;

  const results = readJsonLines<RegionResult>(join(dir, 'out/per-region.jsonl'));
  const deadLetters = readJsonLines<DeadLetter>(join(dir, 'out/dead-letters.jsonl'));
  const late = readJsonLines<{ order_id: string }>(join(dir, 'out/late.jsonl'));

  const regions = new Set(results.map((x) => x.region));
  assert.ok(regions.size >= 2, `results for several regions: ${[...regions].join(', ')}`);
  for (const region of regions) assert.equal(region, region.toUpperCase(), 'regions are normalized');
  for (const x of results) assert.equal(x.window_end - x.window_start, 60_000, 'one-minute windows');
  assert.ok(deadLetters.length > 0, 'dead letters');
  assert.ok(late.length > 0, 'late records');

  const counted = results.reduce((n, x) => n + x.orders, 0);
  assert.equal(
    counted + deadLetters.length + late.length,
    recordsIn,
    `results ${counted} + dead letters ${deadLetters.length} + late ${late.length} = ${generated} generated + ${manual.length} manual`,
  );
  const summary = /"msg":"pipeline completed","records_in":(\d+),.*"dead_letters":(\d+),"late":(\d+)/.exec(
    r.stderr,
  );
  assert.deepEqual(
    summary?.slice(1).map(Number),
    [recordsIn, deadLetters.length, late.length],
    'the final log line',
  );

  const once = (keys: string[], what: string) =>
    assert.equal(new Set(keys).size, keys.length, `${what} once each`);
  once(
    results.map((x) => `${x.region}|${x.window_start}`),
    'windows',
  );
  once(
    deadLetters.map((d) => `${d.source}|${d.partition}|${d.offset}`),
    'dead letters',
  );
  once(
    late.map((x) => x.order_id),
    'late records',
  );
  const codes = new Set(deadLetters.map((d) => d.code));
  for (const code of ['SCHEMA_VIOLATION', 'DECODE_FAILED'])
    assert.ok(codes.has(code), `a ${code} dead letter`);
  assert.ok(
    deadLetters.some((d) => d.source === 'manual'),
    'the malformed lines of the manual file are dead letters',
  );
});
