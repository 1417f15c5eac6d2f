import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Value } from 'typebox/value';
import { builtins } from '../builtins.ts';
import { silentLogger } from '../connector.ts';
import { SluiceError } from '../errors.ts';
import { Registry } from '../registry.ts';
import { Job } from '../runtime/job.ts';
import { systemClock } from '../time.ts';
import { parsePipelineYaml } from '../yaml/index.ts';
import { ensureDir } from './ensure-dir.ts';
import { fileSink } from './file-sink.ts';

const registry = new Registry([builtins]);
/** Linux's /proc refuses new entries with ENOENT, on which Node's recursive mkdir spins forever. */
const proc = existsSync('/proc/self') ? false : 'skipped: /proc not available on this system';
/** A bound on each test, so that a regression fails instead of hanging the suite. */
const bounded = { timeout: 20_000 };

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-ensure-dir-'));
});
after(() => rm(dir, { recursive: true, force: true }));

function unusable(pattern: RegExp, path: string, step?: string) {
  return (err: unknown) => {
    assert.ok(err instanceof SluiceError, String(err));
    assert.equal(err.code, 'PATH_UNUSABLE', err.message);
    assert.equal(err.path, path);
    assert.equal(err.step, step);
    assert.match(err.message, pattern);
    return true;
  };
}

describe('ensureDir', () => {
  test('creates missing folders level by level and says which it created first', async () => {
    const target = join(dir, 'a', 'b', 'c');
    assert.equal(await ensureDir(target, { path: 'path' }), join(dir, 'a'));
    assert.ok((await stat(target)).isDirectory());
    assert.equal(await ensureDir(target, { path: 'path' }), undefined);
  });

  test('a file in the way is named', async () => {
    await writeFile(join(dir, 'blocker'), 'x');
    await assert.rejects(
      ensureDir(join(dir, 'blocker', 'x', 'y'), { path: 'path', step: 'out' }),
      unusable(/blocker' is a file, not a folder/, 'path', 'out'),
    );
  });

  test('under /proc: a clear error at once instead of a busy loop', { ...bounded, skip: proc }, async () => {
    await assert.rejects(
      ensureDir('/proc/sluice-test/out', { path: 'settings.checkpoint.dir' }),
      unusable(
        /cannot create the folder '\/proc\/sluice-test'.*virtual file system/,
        'settings.checkpoint.dir',
      ),
    );
  });
});

describe('folders for user-given paths', () => {
  test('the file sink refuses a path under /proc when it opens', { ...bounded, skip: proc }, async () => {
    const config = Value.Default(fileSink.config, { path: '/proc/sluice-test/out.jsonl' });
    assert.ok(Value.Check(fileSink.config, config));
    const sink = fileSink.create(config);
    await assert.rejects(
      sink.open({
        id: 'out',
        restored: undefined,
        clock: systemClock,
        baseDir: dir,
        signal: new AbortController().signal,
        log: silentLogger,
      }),
      unusable(/\/proc\/sluice-test/, 'path', 'out'),
    );
  });

  test('the file sink refuses a folder that exists but takes no files', {
    ...bounded,
    skip: proc,
  }, async () => {
    const yaml = `
name: proc-file
settings: { checkpoint: { dir: ./ckpt } }
sources:
  in: { type: generate, template: orders, count: 10 }
sinks:
  out: { type: file, path: /proc/out.jsonl }
`;
    const plan = parsePipelineYaml(yaml, join(dir, 'file.yaml'), { registry });
    const job = await Job.create(plan, { registry });
    await assert.rejects(job.run(), unusable(/'\/proc'.*choose a path/, 'path', 'out'));
  });

  test('a job whose checkpoint dir is under /proc fails to start, naming the line', {
    ...bounded,
    skip: proc,
  }, async () => {
    const yaml = `
name: proc-ckpt
settings:
  checkpoint: { dir: /proc/sluice-test }
sources:
  in: { type: generate, template: orders, count: 10 }
sinks:
  out: { type: file, path: ./out.jsonl }
`;
    const plan = parsePipelineYaml(yaml, join(dir, 'ckpt.yaml'), { registry });
    await assert.rejects(Job.create(plan, { registry }), (err: unknown) => {
      unusable(/\/proc\/sluice-test/, 'settings.checkpoint.dir')(err);
      assert.equal((err as SluiceError).file, join(dir, 'ckpt.yaml'));
      assert.equal((err as SluiceError).line, 4);
      return true;
    });
  });
});
