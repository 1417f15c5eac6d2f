/**
 * Every example in examples/ runs: each folder's pipeline is copied to a scratch folder inside
 * the repository (so `@sluice/core` resolves), run with the CLI, and must exit 0 and write
 * its results.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const examples = dirname(fileURLToPath(import.meta.url));
const root = dirname(examples);
const cli = join(root, 'packages/cli/bin/sluice.cjs');

for (const name of readdirSync(examples, { withFileTypes: true })) {
  if (!name.isDirectory()) continue;
  const folder = join(examples, name.name);
  const file = ['pipeline.yaml', 'pipeline.ts'].find((f) => existsSync(join(folder, f)));
  if (!file) continue;
  test(`example ${name.name} runs and writes its results`, () => {
    mkdirSync(join(root, '.cache'), { recursive: true });
    const scratch = mkdtempSync(join(root, '.cache', `example-${name.name}-`));
    try {
      cpSync(folder, scratch, {
        recursive: true,
        filter: (src) => !src.includes(`${folder}/out`) && !src.includes(`${folder}/.sluice`),
      });
      const run = spawnSync(process.execPath, [cli, 'run', join(scratch, file)], {
        encoding: 'utf8',
        timeout: 120_000,
      });
      assert.equal(run.status, 0, `sluice run ${name.name}/${file} failed:\n${run.stderr}`);
      assert.match(run.stderr, /pipeline completed/);
      const results = readFileSync(join(scratch, 'out', 'per-region.jsonl'), 'utf8')
        .trim()
        .split('\n');
      assert.ok(results.length > 0, 'no results written');
      for (const line of results) {
        const r = JSON.parse(line) as { window_start: number; window_end: number };
        assert.equal(r.window_end - r.window_start, 60_000);
      }
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
}
