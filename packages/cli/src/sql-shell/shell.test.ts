/**
 * The SQL shell driven through its streams as a terminal: keystrokes in (Enter, Tab, arrows,
 * Ctrl-C, Ctrl-D), what it draws out. Queries run on the real engine over a JSON-lines file and
 * the `generate` source; each result is checked against a computation of its own over the input.
 */

import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../cli-test-support.ts';
import { frameRows, ShellDriver } from './shell-test-support.ts';

const REGIONS = ['north', 'south', 'east', 'west', 'centre'];

/** 60 orders over five regions, amounts in cents so that sums stay exact. */
function orders(): { region: string; amount: number; ts: number }[] {
  let seed = 7;
  const next = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed;
  };
  return Array.from({ length: 60 }, (_, i) => ({
    region: REGIONS[next() % REGIONS.length],
    amount: (next() % 10_000) / 100,
    ts: 1_000 * i,
  }));
}

/** Count and total per region, folded straight from the input. */
function expected(input: ReturnType<typeof orders>): Map<string, { n: number; total: number }> {
  const out = new Map<string, { n: number; total: number }>();
  for (const o of input) {
    const r = out.get(o.region) ?? { n: 0, total: 0 };
    out.set(o.region, { n: r.n + 1, total: r.total + o.amount });
  }
  return out;
}

const CREATE = `CREATE TABLE orders (region STRING, amount DOUBLE, ts BIGINT)\r WITH ('connector' = 'file', 'path' = './orders.jsonl', 'format' = 'json');\r`;
const QUERY = 'SELECT region, count(*) AS n, sum(amount) AS total FROM orders GROUP BY region;\r';

async function withOrders(t: Parameters<typeof tempDir>[0]) {
  const dir = await tempDir(t, 'sluice-sql-shell-');
  const input = orders();
  await writeFile(join(dir, 'orders.jsonl'), `${input.map((o) => JSON.stringify(o)).join('\n')}\n`);
  return { dir, input };
}

function asMap(rows: string[][]): Map<string, { n: number; total: number }> {
  return new Map(rows.map(([region, n, total]) => [region, { n: Number(n), total: Number(total) }]));
}

test('a GROUP BY shows its updating result in table and changelog mode, the same for every batch size', async (t) => {
  const { dir, input } = await withOrders(t);
  const want = expected(input);
  for (const batchSize of [1, 7, 1000]) {
    const shell = new ShellDriver({ cwd: dir, batchSize, rows: 150 });
    // A statement over two lines.
    shell.type(CREATE);
    await shell.waitFor(/\[created\] table orders \(region, amount, ts\)/);

    let from = shell.text.length;
    shell.type(`SET 'sql-client.execution.result-mode' = 'table';\r${QUERY}`);
    await shell.waitFor(/table mode: .* completed/, from);
    const table = shell.lastFrame(from);
    assert.match(table[0], /^region +\| n +\| total$/);
    assert.deepEqual(asMap(frameRows(table)), want, `batch size ${batchSize}`);
    assert.match(
      table.at(-1) ?? '',
      new RegExp(`^table mode: ${want.size} rows, ${2 * input.length - want.size} changes`),
    );

    from = shell.text.length;
    shell.type(`SET 'sql-client.execution.result-mode' = 'changelog';\r${QUERY}`);
    await shell.waitFor(/changelog mode: .* completed/, from);
    const changelog = shell.lastFrame(from);
    assert.match(changelog[0], /^op +\| region +\| n +\| total$/);
    // Every change is on the screen; folding them gives the same table.
    const folded = new Map<string, { n: number; total: number }>();
    const changes = frameRows(changelog);
    assert.equal(changes.length, 2 * input.length - want.size);
    for (const [op, region, n, total] of changes) {
      if (op === '-U' || op === '-D') {
        assert.deepEqual(
          folded.get(region),
          { n: Number(n), total: Number(total) },
          `${op} retracts the row shown`,
        );
        folded.delete(region);
      } else folded.set(region, { n: Number(n), total: Number(total) });
    }
    assert.deepEqual(folded, want, `batch size ${batchSize}`);
    shell.type('\x04');
    assert.equal(await shell.done, 0);
  }
});

test("ORDER BY … LIMIT shows the top rows in table mode as Flink's client does, and LIMIT n the first n rows", async (t) => {
  const { dir, input } = await withOrders(t);
  const top = [...input]
    .map((o, i) => ({ ...o, i }))
    .sort((a, b) => b.amount - a.amount || a.i - b.i)
    .slice(0, 3)
    .map((o) => [o.region, String(o.amount)]);
  const shell = new ShellDriver({ cwd: dir, batchSize: 7, rows: 150 });
  shell.type(CREATE);
  await shell.waitFor(/\[created\] table orders/);
  let from = shell.text.length;
  shell.type(
    "SET 'sql-client.execution.result-mode' = 'table';\rSELECT region, amount FROM orders ORDER BY amount DESC LIMIT 3;\r",
  );
  await shell.waitFor(/table mode: .* completed/, from);
  const table = shell.lastFrame(from);
  assert.deepEqual(
    frameRows(table)
      .map((r) => [r[0], String(Number(r[1]))])
      .sort(),
    top.sort(),
  );
  from = shell.text.length;
  shell.type('SELECT region FROM orders LIMIT 4;\r');
  await shell.waitFor(/table mode: .* completed/, from);
  assert.deepEqual(
    frameRows(shell.lastFrame(from)).map((r) => r[0]),
    input.slice(0, 4).map((o) => o.region),
  );
  shell.type('\x04');
  assert.equal(await shell.done, 0);
});

test("a live table is bounded to the terminal's height and says how many rows it has", async (t) => {
  const { dir, input } = await withOrders(t);
  const shell = new ShellDriver({ cwd: dir, rows: 6 });
  shell.type(CREATE);
  await shell.waitFor(/\[created\] table orders/);
  const from = shell.text.length;
  shell.type(QUERY);
  await shell.waitFor(/table mode: .* completed/, from);
  const frame = shell.lastFrame(from);
  assert.equal(frame.length, 6, frame.join('\n'));
  assert.equal(frameRows(frame).length, 3);
  const want = expected(input);
  for (const [region, n, total] of frameRows(frame))
    assert.deepEqual(want.get(region), { n: Number(n), total: Number(total) });
  assert.match(frame[5], /^table mode: 5 rows \(showing the first 3\)/);

  // Tableau mode prints every change as it comes instead of redrawing.
  const at = shell.text.length;
  shell.type(`SET 'sql-client.execution.result-mode' = 'tableau';\r${QUERY}`);
  await shell.waitFor(/Received a total of \d+ rows/, at);
  const printed = shell
    .plain(at)
    .split(/\r?\n/)
    .filter((l) => /^\| [+-][IU] \|/.test(l));
  assert.equal(printed.length, 2 * input.length - want.size);
  shell.type('QUIT;\r');
  assert.equal(await shell.done, 0);
});

test('Ctrl-C stops a running SELECT over an unbounded source, and the shell takes the next statement', async (t) => {
  const dir = await tempDir(t, 'sluice-sql-shell-');
  const shell = new ShellDriver({ cwd: dir });
  shell.type(
    "CREATE TABLE gen (region STRING, amount DOUBLE, ts BIGINT) WITH ('connector' = 'generate', 'template' = 'orders', 'rate' = '500');\r",
  );
  await shell.waitFor(/\[created\] table gen/);
  let from = shell.text.length;
  shell.type('SELECT region, count(*) AS n FROM gen GROUP BY region;\r');
  await shell.waitFor(/table mode: [1-9]\d* rows?, .* running/, from);
  shell.type('\x03');
  await shell.waitFor(/table mode: .* stopped/, from);
  const frame = shell.lastFrame(from);
  const counts = frameRows(frame).map(([, n]) => Number(n));
  assert.ok(counts.length > 0 && counts.every((n) => n > 0), frame.join('\n'));

  // At the prompt, Ctrl-C drops the statement being typed.
  from = shell.text.length;
  shell.type('SELECT nothing\r  FROM');
  await shell.waitFor(/-> +FROM$/, from);
  shell.type('\x03');
  await shell.waitFor(/\^C\n/, from);
  from = shell.text.length;
  shell.type('SHOW TABLES;\r');
  await shell.waitFor(/^gen$/m, from);
  assert.doesNotMatch(shell.plain(from), /error/);
  shell.type('\x04');
  assert.equal(await shell.done, 0);
});

test('Tab completes keywords and the names of a table created in the session', async (t) => {
  const { dir } = await withOrders(t);
  const shell = new ShellDriver({ cwd: dir });
  shell.type(CREATE);
  await shell.waitFor(/\[created\] table orders/);
  const from = shell.text.length;
  await shell.typeEach('SEL\t amo\t, orders.reg\t FROM ord\t');
  await shell.waitFor(/SELECT amount, orders\.region FROM order$/, from);
  // 'ord' is the start of the table and of the keyword ORDER: a second Tab lists both.
  await shell.typeEach('\t');
  await shell.waitFor(/^orders +order\s*$/m, from);
  await shell.typeEach('s;\r');
  await shell.waitFor(/table mode: 60 rows \(showing the first 37\), 60 changes — completed/, from);
  shell.type('\x04');
  assert.equal(await shell.done, 0);
});

test('an error shows its line and column with a caret and a near name, and the shell goes on', async (t) => {
  const { dir } = await withOrders(t);
  const shell = new ShellDriver({ cwd: dir });
  shell.type(CREATE);
  await shell.waitFor(/\[created\] table orders/);
  let from = shell.text.length;
  shell.type('SELECT region,\r  amont FROM orders;\r');
  await shell.waitFor(/\^/, from);
  const lines = shell.plain(from).split('\n');
  const at = lines.findIndex((l) => l.startsWith('error: '));
  assert.match(lines[at], /'orders' has no column 'amont' — did you mean 'amount'\?/);
  assert.deepEqual(lines.slice(at + 1, at + 4), ['  line 2, column 3:', '    amont FROM orders', '    ^']);

  from = shell.text.length;
  shell.type('SELEKT 1;\r');
  await shell.waitFor(/error: .*expected a statement/, from);
  from = shell.text.length;
  shell.type("SET 'pipline.name' = 'x';\r");
  await shell.waitFor(/did you mean 'pipeline\.name'\?/, from);
  from = shell.text.length;
  shell.type('DESCRIBE orders;\r');
  await shell.waitFor(/ {2}region\n {2}amount\n {2}ts/, from);
  shell.type('\x04');
  assert.equal(await shell.done, 0);
});

test('history is saved to its file, a statement over several lines as one entry, and loaded by the next shell', async (t) => {
  const dir = await tempDir(t, 'sluice-sql-shell-');
  const historyFile = join(dir, 'home', 'sql-history');
  const first = new ShellDriver({ cwd: dir, historyFile });
  first.type('SHOW\r  TABLES;\r');
  await first.waitFor(/No tables\./);
  first.type('HELP;\r');
  await first.waitFor(/STOP JOB/);
  first.type('\x04');
  assert.equal(await first.done, 0);
  assert.equal(await readFile(historyFile, 'utf8'), 'SHOW TABLES;\nHELP;\n');

  const second = new ShellDriver({ cwd: dir, historyFile });
  const from = second.text.length;
  // Up twice: the statement before the newest.
  second.type('\x1b[A\x1b[A\r');
  await second.waitFor(/No tables\./, from);
  second.type('\x04');
  assert.equal(await second.done, 0);
  assert.equal(await readFile(historyFile, 'utf8'), 'HELP;\nSHOW TABLES;\n');
});

test('INSERT INTO runs in the background, SHOW JOBS lists it and STOP JOB stops it; EXPLAIN prints a plan', async (t) => {
  const dir = await tempDir(t, 'sluice-sql-shell-');
  const shell = new ShellDriver({ cwd: dir });
  shell.type(
    "CREATE TABLE gen (region STRING, amount DOUBLE, ts BIGINT) WITH ('connector' = 'generate', 'template' = 'orders', 'rate' = '200');\r" +
      "CREATE TABLE big (region STRING, amount DOUBLE) WITH ('connector' = 'file', 'path' = './out/big.jsonl');\r",
  );
  await shell.waitFor(/\[created\] table big/);
  let from = shell.text.length;
  shell.type('EXPLAIN SELECT region, count(*) AS n FROM gen GROUP BY region;\r');
  await shell.waitFor(/step \S+ \(aggregate\) ← gen → retract changelog/, from);
  from = shell.text.length;
  shell.type('INSERT INTO big SELECT region, amount FROM gen WHERE amount > 50;\r');
  await shell.waitFor(/\[job 1\] started in the background/, from);
  from = shell.text.length;
  shell.type('SHOW JOBS;\r');
  await shell.waitFor(/^1 +running +\d+ +\d+ +INSERT INTO big SELECT/m, from);
  await new Promise((r) => setTimeout(r, 500));
  from = shell.text.length;
  shell.type("STOP JOB '1';\r");
  await shell.waitFor(/\[job 1\] stopped/, from);
  const written = (await readFile(join(dir, 'out/big.jsonl'), 'utf8')).trim().split('\n');
  assert.ok(written.length > 0);
  for (const line of written) {
    const row = JSON.parse(line) as { region: string; amount: number };
    assert.deepEqual(Object.keys(row), ['region', 'amount']);
    assert.ok(row.amount > 50, line);
  }
  // A job that ends on its own is reported before the next prompt.
  shell.type(
    "CREATE TABLE few (region STRING, amount DOUBLE, ts BIGINT) WITH ('connector' = 'generate', 'template' = 'orders', 'count' = '50');\r" +
      "CREATE TABLE copy (region STRING) WITH ('connector' = 'file', 'path' = './out/copy.jsonl');\r" +
      'INSERT INTO copy SELECT region FROM few;\r',
  );
  await shell.waitFor(/\[job 2\] started/, from);
  for (let i = 0; i < 300 && !/\[job 2\] completed/.test(shell.plain(from)); i++) {
    shell.type('\r');
    await new Promise((r) => setTimeout(r, 100));
  }
  await shell.waitFor(/\[job 2\] completed/, from);
  assert.equal((await readFile(join(dir, 'out/copy.jsonl'), 'utf8')).trim().split('\n').length, 50);
  shell.type('\x04');
  assert.equal(await shell.done, 0);
});
