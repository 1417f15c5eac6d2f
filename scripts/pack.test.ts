/**
 * What a user does with the published packages, in an empty project in a temporary folder:
 * `npm install` the tarballs of `npm pack --workspaces`, then run a YAML pipeline and a
 * TypeScript pipeline of the project with the installed `sluice`, type-check the TypeScript one
 * with the project's own `tsc` against the installed declarations, embed it, and add the Kafka
 * connector. Nothing of the repository is used but the tarballs (and the npm cache).
 *
 * `npm pack` runs scripts/pack.ts, which rewrites each package.json for the moment of packing.
 * So that tests running beside this one never see a rewritten manifest, the packing happens in
 * a copy of the workspace (packages, build configs, packaging scripts; node_modules linked).
 */

import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { workspaceDirs } from './workspaces.ts';

const root = join(import.meta.dirname, '..');
/**
 * The Node that runs the user's commands: the one running this test, or another one to try the
 * packages on (`SLUICE_INSTALL_TEST_NODE=/path/to/node22/bin/node`).
 */
const userNode = process.env.SLUICE_INSTALL_TEST_NODE || process.execPath;
const workspaces = workspaceDirs(root);
/** The TypeScript the repository pins; the user's project installs the same from the npm cache. */
const typescriptVersion = (
  JSON.parse(readFileSync(join(root, 'node_modules/typescript/package.json'), 'utf8')) as { version: string }
).version;

/** npm settings of an enclosing `npm test` that the user's npm may share (not its project paths). */
const sharedNpmSettings = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig']);

/** The environment of the user's commands: no npm_* variables of an enclosing `npm test` but those; `userNode` first on PATH. */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if ((!/^npm_/i.test(key) || sharedNpmSettings.has(key.toLowerCase())) && key !== 'INIT_CWD')
      env[key] = value;
  }
  env.PATH = `${dirname(userNode)}${delimiter}${process.env.PATH ?? ''}`;
  env.NO_COLOR = '1';
  return env;
}

/** Runs a command to completion (bounded), failing with its output when it exits non-zero. */
function run(
  command: string,
  args: readonly string[],
  cwd: string,
  options: { expectFailure?: boolean; timeoutMs?: number } = {},
): SpawnSyncReturns<string> {
  const result = spawnSync(command, args, {
    cwd,
    env: userEnv(),
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 300_000,
  });
  const shown = `${command} ${args.join(' ')} (in ${cwd}) exited ${result.status ?? result.signal}\n${result.stdout}\n${result.stderr}`;
  if (result.error) throw new Error(`${shown}\n${result.error.message}`);
  if (options.expectFailure) assert.notEqual(result.status, 0, `expected a failure: ${shown}`);
  else assert.equal(result.status, 0, shown);
  return result;
}

/**
 * A copy of the workspace to pack in: the root manifests and build configs, the packaging
 * scripts, and each package (with its build output, so the build stays incremental). Its
 * node_modules links every installed package of the repository except the workspaces, which
 * link to the copies.
 */
function stageWorkspace(stage: string): void {
  for (const file of ['package.json', 'tsconfig.json', 'tsconfig.emit.json', 'tsconfig.build.json']) {
    cpSync(join(root, file), join(stage, file), { preserveTimestamps: true });
  }
  for (const file of ['pack.ts', 'publish-manifest.ts']) {
    cpSync(join(root, 'scripts', file), join(stage, 'scripts', file));
  }
  for (const dir of workspaces) {
    cpSync(join(root, dir), join(stage, dir), {
      recursive: true,
      preserveTimestamps: true,
      filter: (path) => !relative(join(root, dir), path).split(/[\\/]/).includes('node_modules'),
    });
  }
  const modules = join(stage, 'node_modules');
  mkdirSync(join(modules, '@sluice'), { recursive: true });
  for (const entry of readdirSync(join(root, 'node_modules'))) {
    if (entry !== '@sluice') symlinkSync(join(root, 'node_modules', entry), join(modules, entry));
  }
  for (const dir of workspaces) {
    const { name } = JSON.parse(readFileSync(join(stage, dir, 'package.json'), 'utf8')) as { name: string };
    symlinkSync(join(stage, dir), join(modules, name));
  }
}

const orders = [
  { ts: 1_000, region: 'eu', amount: 10 },
  { ts: 2_000, region: 'us', amount: 5 },
  { ts: 61_000, region: 'eu', amount: 7 },
  { ts: 62_000, region: 'eu', amount: 1 },
];

const yamlPipeline = `name: orders-yaml
sources:
  orders:
    type: file
    path: ./orders.jsonl
    format: json
    event_time: { field: ts, max_out_of_orderness: 1s }
steps:
  - id: per-region
    type: aggregate
    key: [region]
    window: { type: tumbling, size: 1m }
    fields: { orders: count(*), revenue: sum(amount) }
sinks:
  results: { type: file, path: ./out/yaml.jsonl }
dead_letter: { type: file, path: ./out/yaml-dead-letters.jsonl }
`;

const sqlPipeline = `CREATE TABLE orders (ts BIGINT, region STRING, amount DOUBLE, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'file', 'path' = './orders.jsonl', 'format' = 'json');
CREATE TABLE results (region STRING, window_start BIGINT, window_end BIGINT, orders BIGINT, revenue DOUBLE)
WITH ('connector' = 'file', 'path' = './out/sql.jsonl');
INSERT INTO results
SELECT region, window_start, window_end, count(*) AS orders, sum(amount) AS revenue
FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY region, window_start, window_end;
`;

const tsPipeline = `import { count, file, fileSink, pipeline, sum, Type, tumbling } from '@sluice/core';

const order = Type.Object({ ts: Type.Integer(), region: Type.String(), amount: Type.Number() });

export default pipeline('orders-ts')
  .deadLetters(fileSink({ path: './out/ts-dead-letters.jsonl' }))
  .from(
    'orders',
    file({ path: './orders.jsonl', format: 'json', eventTime: { field: 'ts', maxOutOfOrderness: '1s' } }),
  )
  .validate('valid', order)
  .map('normalized', (o) => ({ ...o, region: o.region.toUpperCase() }))
  .keyBy('by-region', (o) => o.region)
  .window(tumbling('1m'))
  .aggregate('per-region', { orders: count(), revenue: sum('amount') })
  .to('results', fileSink({ path: './out/ts.jsonl' }));
`;

/** The README's embedding example. */
const embedding = `import { builtins, Job, Registry } from '@sluice/core';
import definition from './pipeline.ts';

const registry = new Registry([builtins]);
const { plan, functions } = definition.build();
const job = await Job.create(plan, { registry, functions });
const { metrics } = await job.run();
console.log(JSON.stringify({ in: metrics.recordsIn, dead: metrics.deadLetters }));
`;

const kafkaPipeline = `name: from-kafka
sources:
  orders: { type: kafka, brokers: ['127.0.0.1:9092'], topics: [orders], group_id: install-test }
sinks:
  results: { type: stdout }
`;

/** The records of a JSON-lines file, sorted so that the order windows fire in does not matter. */
function jsonLines(file: string): unknown[] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .sort()
    .map((line) => JSON.parse(line) as unknown);
}

describe('the packed packages, installed into an empty project', () => {
  let tmp = '';
  let stage = '';
  let tarballs = '';
  let project = '';
  const tarball = (name: string) => {
    const file = readdirSync(tarballs).find((f) => f.startsWith(`sluice-${name}-`) && f.endsWith('.tgz'));
    assert.ok(file, `no tarball of @sluice/${name} in ${readdirSync(tarballs).join(', ')}`);
    return join(tarballs, file);
  };
  const npx = (args: readonly string[], options?: { expectFailure?: boolean }) =>
    run('npx', ['--no-install', ...args], project, options);

  /** How long each step of the set-up took, reported by the first test. */
  const timings: string[] = [];
  const timed = (what: string, step: () => void) => {
    const start = performance.now();
    step();
    timings.push(`${what} ${((performance.now() - start) / 1000).toFixed(1)} s`);
  };

  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'sluice-install-'));
    stage = join(tmp, 'workspace');
    tarballs = join(tmp, 'tarballs');
    project = join(tmp, 'project');
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    timed('build', () => run(process.execPath, [tsc, '-b', 'tsconfig.build.json'], root));
    timed('pack', () => {
      stageWorkspace(stage);
      mkdirSync(tarballs);
      // Each workspace's prepack runs `tsc -b`: with twenty packages on a loaded two-core machine
      // this has taken more than the default five minutes.
      run('npm', ['pack', '--workspaces', '--pack-destination', tarballs], stage, { timeoutMs: 900_000 });
    });

    mkdirSync(join(project, 'out'), { recursive: true });
    const files: { [name: string]: string } = {
      'package.json': `${JSON.stringify({ name: 'my-pipelines', private: true, type: 'module' }, null, 2)}\n`,
      'tsconfig.json': `${JSON.stringify(
        {
          compilerOptions: {
            module: 'nodenext',
            target: 'es2024',
            strict: true,
            noEmit: true,
            allowImportingTsExtensions: true,
            erasableSyntaxOnly: true,
            verbatimModuleSyntax: true,
          },
          include: ['*.ts'],
        },
        null,
        2,
      )}\n`,
      'orders.jsonl': `${orders.map((o) => JSON.stringify(o)).join('\n')}\nnot json\n`,
      'pipeline.yaml': yamlPipeline,
      'pipeline.sql': sqlPipeline,
      'pipeline.ts': tsPipeline,
      'embed.ts': embedding,
      'kafka.yaml': kafkaPipeline,
    };
    for (const [name, text] of Object.entries(files)) writeFileSync(join(project, name), text);
    const install = ['install', '--prefer-offline', '--no-audit', '--no-fund'];
    timed('install', () =>
      run(
        'npm',
        [...install, tarball('core'), tarball('sql'), tarball('cli'), `typescript@${typescriptVersion}`],
        project,
      ),
    );
  });

  after(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('hold compiled JavaScript and declarations, no TypeScript sources, tests or test support', (t) => {
    t.diagnostic(
      `set-up: ${timings.join(', ')}; the project runs on Node ${run(userNode, ['--version'], project).stdout.trim()}`,
    );
    for (const name of ['core', 'sql', 'cli']) {
      const dir = join(project, 'node_modules/@sluice', name);
      const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) =>
        f.split('\\').join('/'),
      );
      assert.ok(
        files.includes('dist/index.js') || files.includes('dist/main.js'),
        `${name}: ${files.join(' ')}`,
      );
      const unwanted = files.filter(
        (f) =>
          (f.endsWith('.ts') && !f.endsWith('.d.ts')) ||
          f.endsWith('.tsbuildinfo') ||
          /(^|[-./])(test|bench)[-.]/.test(f),
      );
      assert.deepEqual(unwanted, [], `@sluice/${name} ships files it should not`);
    }
    const core = JSON.parse(
      readFileSync(join(project, 'node_modules/@sluice/core/package.json'), 'utf8'),
    ) as {
      exports: unknown;
      engines: { node: string };
    };
    assert.deepEqual((core.exports as { '.': unknown })['.'], {
      types: './dist/index.d.ts',
      default: './dist/index.js',
    });
    assert.match(core.engines.node, /\^22\.18\.0 \|\| \^24\.0\.0 \|\| \^26\.0\.0/);
  });

  test('run a YAML pipeline of the project with `npx sluice run`', () => {
    npx(['sluice', 'run', 'pipeline.yaml', '--log-format', 'json']);
    assert.deepEqual(jsonLines(join(project, 'out/yaml.jsonl')), [
      { region: 'eu', window_start: 0, window_end: 60_000, orders: 1, revenue: 10 },
      { region: 'eu', window_start: 60_000, window_end: 120_000, orders: 2, revenue: 8 },
      { region: 'us', window_start: 0, window_end: 60_000, orders: 1, revenue: 5 },
    ]);
    assert.equal(jsonLines(join(project, 'out/yaml-dead-letters.jsonl')).length, 1);
  });

  test('run a SQL script of the project with `npx sluice run`, which loads the installed @sluice/sql', () => {
    npx(['sluice', 'run', 'pipeline.sql', '--log-format', 'json']);
    assert.deepEqual(jsonLines(join(project, 'out/sql.jsonl')), [
      { region: 'eu', window_start: 0, window_end: 60_000, orders: 1, revenue: 10 },
      { region: 'eu', window_start: 60_000, window_end: 120_000, orders: 2, revenue: 8 },
      { region: 'us', window_start: 0, window_end: 60_000, orders: 1, revenue: 5 },
    ]);
  });

  test('run a TypeScript pipeline of the project, which imports the installed @sluice/core', () => {
    npx(['sluice', 'run', 'pipeline.ts', '--log-format', 'json']);
    const expected = [
      { key: 'EU', window_start: 0, window_end: 60_000, orders: 1, revenue: 10 },
      { key: 'EU', window_start: 60_000, window_end: 120_000, orders: 2, revenue: 8 },
      { key: 'US', window_start: 0, window_end: 60_000, orders: 1, revenue: 5 },
    ];
    assert.deepEqual(jsonLines(join(project, 'out/ts.jsonl')), expected);
    assert.equal(jsonLines(join(project, 'out/ts-dead-letters.jsonl')).length, 1);

    rmSync(join(project, 'out/ts.jsonl'));
    const embedded = run(userNode, ['embed.ts'], project);
    assert.deepEqual(JSON.parse(embedded.stdout.trim().split('\n').at(-1) ?? ''), { in: 5, dead: 1 });
    assert.deepEqual(jsonLines(join(project, 'out/ts.jsonl')), expected);
  });

  test("type-check pipeline.ts with the project's own tsc against the installed declarations", () => {
    npx(['tsc', '-p', 'tsconfig.json']);
    const misspelt = tsPipeline.replace('o.region.toUpperCase()', 'o.regoin.toUpperCase()');
    assert.notEqual(misspelt, tsPipeline);
    writeFileSync(join(project, 'pipeline.ts'), misspelt);
    try {
      const check = npx(['tsc', '-p', 'tsconfig.json'], { expectFailure: true });
      assert.match(check.stdout, /pipeline\.ts\(\d+,\d+\): error TS\d+: Property 'regoin' does not exist/);
    } finally {
      writeFileSync(join(project, 'pipeline.ts'), tsPipeline);
    }
  });

  test('say which package a Kafka pipeline needs, then load @sluice/kafka once the project installs it', () => {
    const missing = npx(['sluice', 'validate', 'kafka.yaml'], { expectFailure: true });
    assert.match(missing.stderr, /needs the package @sluice\/kafka: run `npm install @sluice\/kafka`/);
    run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball('kafka')], project);
    const valid = npx(['sluice', 'validate', 'kafka.yaml']);
    assert.match(valid.stdout, /kafka\.yaml: ok/);
    const described = npx(['sluice', 'describe', 'kafka']);
    assert.match(described.stdout, /## `kafka` \(source\)/);
  });

  test('tell a user whose Node is too old which Node to install', () => {
    const bin = join(project, 'node_modules/.bin/sluice');
    assert.ok(existsSync(bin));
    const old = run(
      userNode,
      [
        '--import',
        `data:text/javascript,Object.defineProperty(process.versions,'node',{value:'20.20.2'})`,
        bin,
      ],
      project,
      { expectFailure: true },
    );
    assert.match(old.stderr, /this is Node\.js 20\.20\.2, and Sluice needs Node\.js 22\.18\.0 or later/);
    assert.match(old.stderr, /Install Node\.js 24 LTS/);
  });
});
