/**
 * Every example in examples/ runs: each folder's pipeline is copied to a scratch folder inside
 * the repository (so `@sluice/core` resolves), run with the CLI, and must exit 0 and write
 * its results, which `checks` looks at per example.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const examples = dirname(fileURLToPath(import.meta.url));

/** The result lines of `out/<file>` in a finished example's folder. */
function results(scratch: string, file: string): { [field: string]: unknown }[] {
  const lines = readFileSync(join(scratch, 'out', file), 'utf8')
    .trim()
    .split('\n');
  assert.ok(lines.length > 0 && lines[0] !== '', `no results in out/${file}`);
  return lines.map((line) => JSON.parse(line) as { [field: string]: unknown });
}

/** Per-region one-minute windows, as the quickstart and the TypeScript example write. */
function perRegion(scratch: string): void {
  for (const r of results(scratch, 'per-region.jsonl'))
    assert.equal(Number(r.window_end) - Number(r.window_start), 60_000);
}

/** The example's PostgreSQL server (the shared one; trust authentication). */
const PG_URL = 'postgres://postgres@127.0.0.1:5432/test';

/** Rows of `sql` on the example's PostgreSQL server. */
async function pgRows(sql: string): Promise<{ [column: string]: unknown }[]> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    return (await client.query(sql)).rows;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Why an example that needs a service cannot run here, or undefined: outside CI its test is
 * skipped with the reason; under CI (`CI=true`) a missing service is a failure.
 */
const missing: { readonly [example: string]: () => Promise<string | undefined> } = {
  'orders-to-postgres': async () => {
    try {
      await pgRows('SELECT 1');
      return undefined;
    } catch (err) {
      return `postgres not reachable at 127.0.0.1:5432 (${err instanceof Error ? err.message : String(err)})`;
    }
  },
};

/** What each example must have written. */
const checks: { readonly [example: string]: (scratch: string) => void | Promise<void> } = {
  quickstart: perRegion,
  typescript: perRegion,
  sql: (scratch) => {
    perRegion(scratch);
    for (const r of results(scratch, 'large-orders.jsonl'))
      assert.ok(Number(r.amount_usd) > 450 * 1.1 - 0.01);
  },
  'nexmark-joins': (scratch) => {
    for (const r of results(scratch, 'new-sellers.jsonl')) {
      assert.equal(typeof r.person, 'number');
      assert.equal(Number(r.window_start) % 10_000, 0);
    }
    const perCategory = results(scratch, 'per-category.jsonl');
    assert.ok(perCategory.some((r) => r.category !== null && Number(r.bids) > 0));
  },
  // One row per region, updated in place: the counts add up to the 5,000 generated orders.
  'orders-to-postgres': async () => {
    const rows = await pgRows('SELECT region, orders::int AS orders FROM sluice_example_revenue_by_region');
    assert.ok(rows.length > 1, 'a row per region');
    assert.equal(new Set(rows.map((r) => r.region)).size, rows.length, 'one row per region');
    assert.equal(
      rows.reduce((n, r) => n + Number(r.orders), 0),
      5000,
    );
  },
};
const root = dirname(examples);
const cli = join(root, 'packages/cli/bin/sluice.cjs');

for (const name of readdirSync(examples, { withFileTypes: true })) {
  if (!name.isDirectory()) continue;
  const folder = join(examples, name.name);
  const file = ['pipeline.yaml', 'pipeline.ts', 'pipeline.sql'].find((f) => existsSync(join(folder, f)));
  if (!file) continue;
  test(`example ${name.name} runs and writes its results`, async (t) => {
    const why = await missing[name.name]?.();
    if (why !== undefined) {
      if (process.env.CI === 'true') throw new Error(`${why} (CI=true: a missing service is a failure)`);
      return t.skip(why);
    }
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
      const check = checks[name.name];
      assert.ok(check, `examples.test.ts has no check for example ${name.name}: add one`);
      await check(scratch);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
}
