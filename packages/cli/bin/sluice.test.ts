/**
 * The `sluice` bin checks the Node.js version before loading anything a too-old Node cannot
 * parse, and says which Node is needed and how to get it. Old Nodes are played by the Node
 * running the tests with `process.versions.node` replaced before the bin starts.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';

const bin = join(import.meta.dirname, 'sluice.cjs');
const nodeCheck = createRequire(import.meta.url)('./node-check.cjs') as {
  supported: string;
  minimum: string;
  nodeVersionProblem(version: string, binDir: string): string | undefined;
};

/** Runs `sluice ...args` in the repository as if Node were `version` (`undefined`: as it is). */
function sluiceOn(version: string | undefined, args: readonly string[]) {
  const pretend =
    version === undefined
      ? []
      : [
          '--import',
          `data:text/javascript,Object.defineProperty(process.versions,'node',{value:'${version}'})`,
        ];
  return spawnSync(process.execPath, [...pretend, bin, ...args], { encoding: 'utf8', timeout: 60_000 });
}

test('on a Node older than the supported ones, sluice says which Node it needs and how to run it', () => {
  for (const version of ['20.20.2', '22.17.1', '18.0.0']) {
    const run = sluiceOn(version, ['run', 'pipeline.yaml']);
    assert.equal(run.status, 1, `Node ${version}: ${run.stderr}`);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, new RegExp(`this is Node\\.js ${version.replaceAll('.', '\\.')}`));
    assert.match(run.stderr, /needs Node\.js 22\.18\.0 or later \(supported: the LTS lines 22, 24 and 26\)/);
    assert.match(run.stderr, /In the Sluice repository, run it as `npm run sluice -- <command>`/);
    assert.doesNotMatch(run.stderr, /ERR_|\n\s+at /, 'no stack trace');
  }
});

test('on a supported or newer Node, sluice runs the CLI', () => {
  for (const version of ['22.18.0', '28.0.0']) {
    const run = sluiceOn(version, ['--version']);
    assert.equal(run.status, 0, `Node ${version}: ${run.stderr}`);
    assert.equal(run.stdout.trim(), '0.1.0');
  }
});

test('an installed sluice tells how to install a supported Node', () => {
  const message = nodeCheck.nodeVersionProblem('20.20.2', '/home/u/app/node_modules/@sluice/cli/bin');
  assert.match(message ?? '', /needs Node\.js 22\.18\.0 or later/);
  assert.match(message ?? '', /Install Node\.js 24 LTS \(https:\/\/nodejs\.org/);
  assert.doesNotMatch(message ?? '', /npm run sluice/);
  assert.equal(
    nodeCheck.nodeVersionProblem('22.18.0', '/home/u/app/node_modules/@sluice/cli/bin'),
    undefined,
  );
});

test('the check reads the versions from engines.node of the CLI package', () => {
  const manifest = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as {
    engines: { node: string };
  };
  assert.equal(nodeCheck.supported, manifest.engines.node);
  assert.equal(nodeCheck.minimum, '22.18.0');
});
