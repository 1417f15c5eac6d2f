/**
 * `sluice sql` as users run it, with statements piped to stdin (not a terminal): they run as a
 * script, a SELECT's result printed in tableau form, an INSERT INTO's job waited for.
 */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { cliMain, readJsonLines, tempDir } from '../cli-test-support.ts';

/** Runs `sluice sql ...args` in `cwd` with `stdin` piped in; killed after 60 s. */
function sluiceSql(
  args: readonly string[],
  cwd: string,
  stdin: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [cliMain, 'sql', ...args], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
  });
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  child.stdin.end(stdin);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const sales = [
  { shop: 'a', amount: 3, ts: 0 },
  { shop: 'b', amount: 10, ts: 1_000 },
  { shop: 'a', amount: 4, ts: 2_000 },
  { shop: 'c', amount: 1, ts: 3_000 },
  { shop: 'b', amount: 7, ts: 4_000 },
  { shop: 'a', amount: 12, ts: 5_000 },
];

const TABLES = `CREATE TABLE sales (shop STRING, amount BIGINT, ts BIGINT)
  WITH ('connector' = 'file', 'path' = './sales.jsonl', 'format' = 'json');
CREATE TABLE big (shop STRING, amount BIGINT) WITH ('connector' = 'file', 'path' = './out/big.jsonl');
`;

/** The `| op | c1 | c2 |` lines of tableau output, as cells. */
function tableauRows(stdout: string): string[][] {
  return stdout
    .split('\n')
    .filter((l) => /^\| [+-][IUD] \|/.test(l))
    .map((l) =>
      l
        .slice(1, -1)
        .split('|')
        .map((c) => c.trim()),
    );
}

test('sluice sql runs piped statements: a SELECT printed in tableau form, an INSERT INTO job waited for', async (t) => {
  const dir = await tempDir(t, 'sluice-sql-cli-');
  await writeFile(join(dir, 'sales.jsonl'), `${sales.map((s) => JSON.stringify(s)).join('\n')}\n`);
  const run = await sluiceSql(
    [],
    dir,
    `${TABLES}SELECT shop, sum(amount) AS total
FROM sales GROUP BY shop;
INSERT INTO big SELECT shop, amount FROM sales WHERE amount > 3;
`,
  );
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /^\| op \| +shop \| +total \|$/m);
  // The changelog printed folds into the totals per shop.
  const folded = new Map<string, number>();
  for (const [op, shop, total] of tableauRows(run.stdout)) {
    if (op === '-U' || op === '-D') {
      assert.equal(folded.get(shop), Number(total));
      folded.delete(shop);
    } else folded.set(shop, Number(total));
  }
  const totals = new Map<string, number>();
  for (const s of sales) totals.set(s.shop, (totals.get(s.shop) ?? 0) + s.amount);
  assert.deepEqual(folded, totals);
  assert.match(run.stdout, new RegExp(`Received a total of ${2 * sales.length - totals.size} rows`));
  assert.match(run.stdout, /\[job 1\] completed/);
  assert.deepEqual(
    readJsonLines(join(dir, 'out/big.jsonl')),
    sales.filter((s) => s.amount > 3).map(({ shop, amount }) => ({ shop, amount })),
  );
});

test('sluice sql goes on after a failed statement and exits 1; a script file runs the same way', async (t) => {
  const dir = await tempDir(t, 'sluice-sql-cli-');
  await writeFile(join(dir, 'sales.jsonl'), `${sales.map((s) => JSON.stringify(s)).join('\n')}\n`);
  const statements = `${TABLES}SELECT shp FROM sales;\nSELECT shop FROM sales WHERE amount > 9;\n`;
  const piped = await sluiceSql([], dir, statements);
  assert.equal(piped.code, 1);
  assert.match(
    piped.stdout,
    /error: 'sales' has no column 'shp' — did you mean 'shop'\?.*\n {2}line 1, column 8:\n {2}SELECT shp FROM sales\n {9}\^/,
  );
  const wanted = sales.filter((s) => s.amount > 9).map((s) => ['+I', s.shop]);
  assert.deepEqual(tableauRows(piped.stdout), wanted);

  await writeFile(join(dir, 'script.sql'), statements);
  const file = await sluiceSql(['script.sql'], dir, '');
  assert.equal(file.code, 1);
  assert.equal(file.stdout, piped.stdout);
});
