/**
 * Runs every fault scenario (`bench/faults/*.fault.ts`) at full size and writes their figures to
 * docs/reliability.md, so the report is always the output of one command:
 *
 *   npm run faults                       # every scenario, rewrites docs/reliability.md
 *   npm run faults -- --only http-wal    # some scenarios (comma-separated names); prints only
 *   npm run faults -- --scale small      # the tests' sizes; prints only
 */

import { readdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { type FaultFigures, type FaultScale, type FaultScenario, median } from './scenario.ts';

const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    scale: { type: 'string', default: 'full' },
  },
});
const scale = args.scale as FaultScale;
if (scale !== 'small' && scale !== 'full')
  throw new Error(`--scale must be small or full, got ${args.scale}`);

const here = import.meta.dirname;
const repoRoot = resolve(here, '../..');

/** Service name → loopback port, for the runner's skip check. */
const servicePorts: { [service: string]: number } = {
  kafka: 9092,
  postgres: 5432,
  redis: 6379,
  rabbitmq: 5672,
  mosquitto: 1883,
  nats: 4222,
};

function reachable(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      done(false);
    });
    socket.once('error', () => done(false));
  });
}

async function loadScenarios(): Promise<FaultScenario[]> {
  const files = (await readdir(here)).filter((f) => f.endsWith('.fault.ts')).sort();
  const scenarios: FaultScenario[] = [];
  for (const file of files) {
    const module = (await import(pathToFileURL(join(here, file)).href)) as { default: FaultScenario };
    scenarios.push(module.default);
  }
  return scenarios;
}

function row(scenario: string, f: FaultFigures): string {
  const recovery =
    f.recoverySeconds.length === 0
      ? '—'
      : `${median(f.recoverySeconds).toFixed(2)} (${f.recoverySeconds.map((s) => s.toFixed(2)).join(', ')})`;
  return `| ${scenario} | ${f.case} | ${f.produced} | ${f.acknowledged} | ${f.distinct} | ${f.duplicates} | ${f.lost} | ${recovery} | ${f.note ?? ''} |`;
}

const only = args.only?.split(',').map((s) => s.trim());
const scenarios = (await loadScenarios()).filter((s) => only === undefined || only.includes(s.name));
const results: { scenario: FaultScenario; figures: FaultFigures[]; skipped?: string }[] = [];
for (const scenario of scenarios) {
  const down: string[] = [];
  for (const service of scenario.services ?? []) {
    const port = servicePorts[service];
    if (port === undefined || !(await reachable(port))) down.push(service);
  }
  if (down.length > 0) {
    const skipped = `skipped: ${down.join(', ')} not reachable`;
    console.log(`${scenario.name}: ${skipped}`);
    results.push({ scenario, figures: [], skipped });
    continue;
  }
  const started = Date.now();
  console.log(`${scenario.name}: running (${scale}) …`);
  const figures = await scenario.run(scale);
  for (const f of figures) console.log(`  ${row(scenario.name, f)}`);
  console.log(`${scenario.name}: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  results.push({ scenario, figures });
}

const header = [
  '| scenario | case | produced | acknowledged | distinct | duplicates | lost | recovery s: median (runs) | note |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
];
const rows = results.flatMap(({ scenario, figures, skipped }) =>
  skipped ? [`| ${scenario.name} | ${skipped} | | | | | | | |`] : figures.map((f) => row(scenario.name, f)),
);
if (only !== undefined || scale !== 'full') {
  console.log([...header, ...rows].join('\n'));
} else {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const page = [
    '# Reliability under faults',
    '',
    'Produced by `npm run faults` (it rewrites this page; `--only <names>` and `--scale small` print',
    'without writing). Each scenario is a module in `bench/faults/`; a test beside it runs the same',
    'code at a small size in CI and asserts on the same figures.',
    '',
    `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${cpus().length} × ${cpu},`,
    `${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.versions.node}.`,
    '',
    '- **produced**: records the load generator offered; **acknowledged**: records Sluice or the',
    '  broker confirmed (a 202, a broker ack, an offset covered by a durable checkpoint);',
    '  **distinct**: acknowledged records found downstream; **duplicates**: extra copies found',
    '  downstream; **lost**: acknowledged records not found; **recovery**: seconds from a restart',
    '  until records flowed again.',
    '',
    ...results.map(({ scenario }) => `- \`${scenario.name}\`: ${scenario.description}`),
    '',
    ...header,
    ...rows,
    '',
  ].join('\n');
  await writeFile(join(repoRoot, 'docs/reliability.md'), page);
  console.log('wrote docs/reliability.md');
}
