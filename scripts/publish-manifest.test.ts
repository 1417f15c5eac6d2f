/**
 * The published package.json points at compiled JavaScript and declarations, never at the
 * TypeScript sources, and every package states the Node versions it supports.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isUnpublishedSource, type Manifest, publishManifest } from './publish-manifest.ts';
import { workspaceDirs } from './workspaces.ts';

const root = join(import.meta.dirname, '..');
const manifestOf = (dir: string) =>
  JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as Manifest;
const packages = workspaceDirs(root);

const repoManifest: Manifest = {
  name: '@example/pkg',
  version: '1.0.0',
  type: 'module',
  engines: { node: '^22.18.0 || ^24.0.0' },
  exports: {
    '.': './src/index.ts',
    './testing': './src/testing/index.ts',
    './internal-tests': './src/test-support.ts',
    './package.json': './package.json',
  },
  imports: { '#main': './src/main.ts' },
  bin: { example: './bin/example.cjs' },
  scripts: { prepack: 'node ../../scripts/pack.ts prepack' },
  dependencies: { typebox: '^1.4.3' },
  devDependencies: { '@example/other': '^1.0.0' },
};

test('exports and imports point at dist/*.js with dist/*.d.ts; test support, scripts and devDependencies go', () => {
  const published = publishManifest(repoManifest, () => true);
  assert.deepEqual(published.exports, {
    '.': { types: './dist/index.d.ts', default: './dist/index.js' },
    './testing': { types: './dist/testing/index.d.ts', default: './dist/testing/index.js' },
    './package.json': './package.json',
  });
  assert.deepEqual(published.imports, { '#main': { types: './dist/main.d.ts', default: './dist/main.js' } });
  assert.deepEqual(published.bin, { example: './bin/example.cjs' });
  assert.deepEqual(published.engines, { node: '^22.18.0 || ^24.0.0' });
  assert.deepEqual(published.dependencies, { typebox: '^1.4.3' });
  assert.equal(published.scripts, undefined);
  assert.equal(published.devDependencies, undefined);
});

test('a target the build did not write, a TypeScript bin or missing engines are errors naming the field', () => {
  assert.throws(
    () => publishManifest(repoManifest, (path) => path !== './dist/testing/index.d.ts'),
    /@example\/pkg: package.json exports\["\.\/testing"\]: \.\/src\/testing\/index\.ts was not compiled to \.\/dist\/testing\/index\.d\.ts/,
  );
  assert.throws(
    () => publishManifest({ ...repoManifest, bin: './src/main.ts' }, () => true),
    /package.json bin: \.\/src\/main\.ts is TypeScript/,
  );
  assert.throws(
    () => publishManifest({ ...repoManifest, engines: undefined }, () => true),
    /package.json engines: state the supported Node versions/,
  );
});

test('tests, test support and benchmarks are not published', () => {
  assert.ok(isUnpublishedSource('src/runtime/job.test.ts'));
  assert.ok(isUnpublishedSource('./src/test-support.ts'));
  assert.ok(isUnpublishedSource('src/runtime/engine-test-support.ts'));
  assert.ok(isUnpublishedSource('src/window/bench.ts'));
  assert.ok(isUnpublishedSource('src/sink-bench.ts'));
  assert.ok(isUnpublishedSource('src/yaml/test-registry.ts'));
  assert.ok(isUnpublishedSource('src/kafka-cli-test-support.ts'));
  assert.ok(!isUnpublishedSource('src/testing/index.ts'));
  assert.ok(!isUnpublishedSource('src/runtime/job.ts'));
  assert.ok(!isUnpublishedSource('src/latest.ts'));
});

test('every workspace package states engines.node; the core and the CLI the same versions', () => {
  const engines = new Map(packages.map((dir) => [dir, manifestOf(dir).engines?.node ?? '']));
  for (const [dir, range] of engines) assert.ok(range, `${dir}: no engines.node`);
  assert.equal(engines.get('packages/core'), engines.get('packages/cli'));
  // @sluice/kafka supports no Node 22 older than its Kafka client does.
  const oldest22 = (range: string) => Number(/\b22\.(\d+)\.\d+/.exec(range)?.[1]);
  const kafka = engines.get('packages/connectors/kafka') ?? '';
  const client = manifestOf('node_modules/@platformatic/kafka').engines?.node ?? '';
  assert.ok(oldest22(kafka) >= oldest22(client), `@sluice/kafka ${kafka}, its client ${client}`);
});
