/**
 * Golden files: each folder of `golden/` holds one script (`query.sql`), its input files, the
 * summary of the plan it compiles to (`plan.txt`) and what its sinks write (`expected/<file>`);
 * each `golden/errors/<name>.sql` is a script that must fail with the message in
 * `<name>.expected`, file, line and column included. `UPDATE_GOLDEN=1` rewrites the expected
 * files from what the code does now (review the diff before committing it). A folder whose
 * query reads two sources into a regular join has `expected-final/` instead: the changelog it
 * writes depends on which source a key's records come from first, which the engine does not fix,
 * but the table the changelog (Debezium lines) leaves behind does not, so that table is compared,
 * its rows sorted. A script with EXPLAIN statements has `explain.txt`, what they print; the
 * sinks they name write nothing. A folder whose query merges two sources (UNION ALL) has `expected-sorted/`: the
 * order in which a union interleaves its inputs is not fixed either, so the lines are compared
 * sorted.
 */

import assert from 'node:assert/strict';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { defineNexmarkFunctions } from '../../../bench/nexmark-queries.ts';
import { compileSql, explainSql } from './index.ts';
import { defineTestAggregates } from './test-functions.ts';
import { errorOf, finalTables, outputs, planSummary, registry, resolveSql, runPlan } from './test-support.ts';

// count_char, the user-defined function of Nexmark q14, which `user-function/` calls, and the
// aggregates `user-aggregate/` calls.
defineNexmarkFunctions();
defineTestAggregates();

const golden = join(import.meta.dirname, 'golden');
const update = process.env.UPDATE_GOLDEN === '1';

function expectFile(path: string, actual: string): void {
  if (update) {
    writeFileSync(path, actual);
    return;
  }
  assert.ok(existsSync(path), `${path} is missing: run with UPDATE_GOLDEN=1 to write it, then review it`);
  assert.equal(actual, readFileSync(path, 'utf8'), `${path} differs`);
}

for (const entry of readdirSync(golden, { withFileTypes: true })) {
  if (!entry.isDirectory() || entry.name === 'errors') continue;
  const folder = join(golden, entry.name);
  test(`golden ${entry.name}: plan and output`, async () => {
    const scratch = mkdtempSync(join(tmpdir(), `sluice-sql-${entry.name}-`));
    try {
      cpSync(folder, scratch, { recursive: true, filter: (src) => !src.includes('expected') });
      const script = join(scratch, 'query.sql');
      const text = readFileSync(script, 'utf8');
      expectFile(join(folder, 'plan.txt'), planSummary(compileSql(text, script, { registry })));
      const shown = explainSql(text, script, { registry });
      if (shown !== undefined) expectFile(join(folder, 'explain.txt'), shown.text);
      await runPlan(resolveSql(text, script));
      const final = existsSync(join(folder, 'expected-final'));
      const sorted = existsSync(join(folder, 'expected-sorted'));
      const written = final
        ? finalTables(outputs(scratch))
        : sorted
          ? Object.fromEntries(Object.entries(outputs(scratch)).map(([f, lines]) => [f, lines.sort()]))
          : outputs(scratch);
      assert.ok(Object.keys(written).length > 0, 'the script wrote no output file');
      const expected = join(folder, final ? 'expected-final' : sorted ? 'expected-sorted' : 'expected');
      if (update) mkdirSync(expected, { recursive: true });
      for (const [file, lines] of Object.entries(written))
        expectFile(join(expected, file), `${lines.join('\n')}\n`);
      if (!update) assert.deepEqual(Object.keys(written).sort(), readdirSync(expected).sort());
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
}

const errors = join(golden, 'errors');
for (const name of readdirSync(errors).filter((f) => f.endsWith('.sql'))) {
  test(`golden error ${name}`, () => {
    const text = readFileSync(join(errors, name), 'utf8');
    expectFile(join(errors, name.replace(/\.sql$/, '.expected')), `${errorOf(text, name)}\n`);
  });
}
