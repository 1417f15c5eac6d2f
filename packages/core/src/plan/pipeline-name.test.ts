import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pipeline } from '../api/pipeline.ts';
import { builtins } from '../builtins.ts';
import { DirectoryCheckpointStore } from '../checkpoint/index.ts';
import { file, fileSink } from '../index.ts';
import { Registry } from '../registry.ts';
import { Job } from '../runtime/job.ts';
import { parsePipelineYaml } from '../yaml/index.ts';
import { pipelineNameProblem } from './pipeline-name.ts';

const registry = new Registry([builtins]);

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-name-'));
});
after(() => rm(dir, { recursive: true, force: true }));

const yaml = (name: string) => `
name: ${name}
settings: { checkpoint: { dir: ./ckpt } }
sources:
  in: { type: file, path: ./in.jsonl }
sinks:
  out: { type: file, path: ./out.jsonl }
`;

describe('pipeline names', () => {
  test('a name that is a safe path segment passes', () => {
    for (const name of ['orders', 'orders-per-region', 'v1.2_daily', '2026', 'A'.repeat(128)]) {
      assert.equal(pipelineNameProblem(name), undefined, name);
    }
  });

  test('a name that is not a safe path segment is refused, saying why', () => {
    for (const name of [
      '../../etc/x',
      '..',
      '.',
      '.hidden',
      'a/b',
      'a\\b',
      '-x',
      'a b',
      'é',
      'A'.repeat(129),
    ]) {
      assert.match(pipelineNameProblem(name) ?? '', /pipeline name/, name);
    }
  });

  test('validate refuses `name: ../../etc/x` with file, line and column', async () => {
    const plan = parsePipelineYaml(yaml('../../etc/x'), join(dir, 'pipeline.yaml'), { registry });
    await assert.rejects(Job.validate(plan, { registry }), (err: unknown) => {
      assert.ok(err instanceof Error && 'code' in err);
      const e = err as Error & { code: string; file?: string; line?: number; column?: number; path?: string };
      assert.equal(e.code, 'CONFIG_INVALID');
      assert.equal(e.path, 'name');
      assert.equal(e.file, join(dir, 'pipeline.yaml'));
      assert.equal(e.line, 2);
      assert.equal(e.column, 7);
      assert.match(e.message, /'\.\.\/\.\.\/etc\/x'.*letters, digits/);
      return true;
    });
  });

  test('a job with such a name does not start, and writes nothing', async () => {
    const base = join(dir, 'job');
    await mkdir(base);
    await writeFile(join(base, 'in.jsonl'), '{"a":1}\n');
    const { plan } = pipeline('../escaped')
      .from('in', file({ path: './in.jsonl' }))
      .to('out', fileSink({ path: './out.jsonl' }))
      .build();
    await assert.rejects(Job.create({ ...plan, baseDir: base }, { registry }), {
      code: 'CONFIG_INVALID',
      message: /'\.\.\/escaped' is not a usable pipeline name/,
    });
    assert.deepEqual(await readdir(base), ['in.jsonl']);
  });

  test('the checkpoint store refuses a pipeline folder outside its root', () => {
    const root = join(dir, 'ckpt');
    assert.equal(DirectoryCheckpointStore.forPipeline(root, 'ok').dir, join(root, 'ok'));
    for (const name of ['../x', '..', '.', '', 'a/b', '/etc']) {
      assert.throws(() => DirectoryCheckpointStore.forPipeline(root, name), { code: 'CONFIG_INVALID' }, name);
    }
  });
});
