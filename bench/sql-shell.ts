/**
 * SQL shell costs: planning a query against a session (the shell compiles the whole session
 * again for each query), and folding a query's changelog into the table the shell shows.
 *
 * - plan: `planQuery` of one GROUP BY after 1 and after 30 `CREATE TABLE`s, CPU per plan.
 * - fold: `ResultTable.apply` over an updating count per key (an INSERT for a new key, an
 *   UPDATE_BEFORE and UPDATE_AFTER for each repeat) with few and with many keys, CPU per change,
 *   beside a baseline in the same run: the same counts kept in a bare `Map`.
 *
 * Each is measured `--runs` times after one warm-up; medians are printed.
 *
 *   node bench/sql-shell.ts [--runs 5] [--records 300000]
 */

import { parseArgs } from 'node:util';
import { RESULT_SINK, resultPlugin } from '../packages/cli/src/sql-shell/query.ts';
import { ResultTable } from '../packages/cli/src/sql-shell/result-view.ts';
import { RESULT_TABLE, Session } from '../packages/cli/src/sql-shell/session.ts';

const { values: args } = parseArgs({
  options: { runs: { type: 'string', default: '5' }, records: { type: 'string', default: '300000' } },
});
const runs = Number(args.runs);
const records = Number(args.records);

function cpuMs(f: () => void): number {
  const c0 = process.cpuUsage();
  f();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

async function planCost(tables: number): Promise<number> {
  const session = new Session(process.cwd());
  for (let i = 0; i < tables; i++)
    session.add({
      kind: 'table',
      name: `t${i}`,
      text: `CREATE TABLE t${i} (region STRING, amount DOUBLE, ts BIGINT) WITH ('connector' = 'file', 'path' = './t${i}.jsonl', 'format' = 'json')`,
      columns: [],
    });
  const script = session.script(
    'SELECT region, count(*) AS c, sum(amount) AS total FROM t0 WHERE amount > 1 GROUP BY region',
    `INSERT INTO ${RESULT_TABLE}\n`,
  );
  const registry = await session.registry(
    script.text,
    resultPlugin(() => {}),
  );
  const times: number[] = [];
  for (let r = 0; r <= runs; r++) {
    const ms = cpuMs(() => {
      for (let j = 0; j < 20; j++) session.planQuery(script, registry, RESULT_SINK);
    });
    if (r > 0) times.push(ms / 20);
  }
  return median(times);
}

/** CPU ms of folding `records` counts over `keys` keys into a ResultTable, and into a Map. */
function foldCost(keys: number): { table: number; map: number; changes: number } {
  const tables: number[] = [];
  const maps: number[] = [];
  let changes = 0;
  for (let r = 0; r <= runs; r++) {
    const t = new ResultTable(['k', 'n']);
    const counts = new Map<string, number>();
    const table = cpuMs(() => {
      for (let i = 0; i < records; i++) {
        const k = `k${(i * 7919) % keys}`;
        const old = counts.get(k);
        if (old === undefined) t.apply({ kind: 0, row: { k, n: 1 } });
        else {
          t.apply({ kind: 1, row: { k, n: old } });
          t.apply({ kind: 2, row: { k, n: old + 1 } });
        }
        counts.set(k, (old ?? 0) + 1);
      }
    });
    const bare = new Map<string, { k: string; n: number }>();
    const map = cpuMs(() => {
      for (let i = 0; i < records; i++) {
        const k = `k${(i * 7919) % keys}`;
        bare.set(k, { k, n: (bare.get(k)?.n ?? 0) + 1 });
      }
    });
    changes = t.changeCount;
    if (r > 0) {
      tables.push(table);
      maps.push(map);
    }
  }
  return { table: median(tables), map: median(maps), changes };
}

console.log(`node ${process.version}, ${runs} runs after a warm-up, medians`);
await planCost(30); // warms the planner up for both sizes
const one = await planCost(1);
const thirty = await planCost(30);
console.log(
  `plan: ${one.toFixed(2)} ms CPU per query after 1 table, ${thirty.toFixed(2)} ms after 30 (×${(thirty / one).toFixed(1)})`,
);
for (const keys of [100, 100_000]) {
  const { table, map, changes } = foldCost(keys);
  console.log(
    `fold: ${records} records over ${keys} keys, ${changes} changes: ${((table * 1e6) / changes).toFixed(0)} ns CPU per change; bare Map ${((map * 1e6) / records).toFixed(0)} ns per record; ×${(table / map).toFixed(1)} the Map's time`,
  );
}
