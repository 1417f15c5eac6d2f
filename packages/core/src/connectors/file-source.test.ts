import assert from 'node:assert/strict';
import { appendFile, mkdir, mkdtemp, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Value } from 'typebox/value';
import type { Logger, SourceBatch, SourceContext, SourceReader } from '../connector.ts';
import { SluiceError } from '../errors.ts';
import type { Row } from '../record.ts';
import { systemClock } from '../time.ts';
import type { FilePosition } from './file-reader.ts';
import { type FileSourceConfig, fileSource } from './file-source.ts';

let root: string;
let dirCount = 0;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'sluice-file-source-'));
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function freshDir(): Promise<string> {
  const dir = join(root, `t${dirCount++}`);
  await mkdir(dir);
  return dir;
}

interface Logged {
  level: string;
  message: string;
}

function recordingLogger(lines: Logged[]): Logger {
  const log = (level: string) => (message: string) => {
    lines.push({ level, message });
  };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

function configOf(options: Partial<FileSourceConfig> & { path: string }): FileSourceConfig {
  const config = Value.Default(fileSource.config, { ...options });
  assert.ok(Value.Check(fileSource.config, config), 'config matches the schema');
  return config as FileSourceConfig;
}

async function openSource(
  baseDir: string,
  options: Partial<FileSourceConfig> & { path: string },
  restored: SourceContext['restored'] = {},
  logged: Logged[] = [],
  signal = new AbortController().signal,
): Promise<SourceReader[]> {
  const ctx: SourceContext = {
    id: 'in',
    restored,
    clock: systemClock,
    baseDir,
    signal,
    log: recordingLogger(logged),
  };
  return fileSource.create(configOf(options)).open(ctx);
}

const never = new AbortController().signal;

async function drain(reader: SourceReader, max = 1000): Promise<{ records: Row[]; batches: SourceBatch[] }> {
  const records: Row[] = [];
  const batches: SourceBatch[] = [];
  for (let batch = await reader.read(max, never); batch; batch = await reader.read(max, never)) {
    records.push(...batch.records);
    batches.push(batch);
  }
  return { records, batches };
}

/** Follow mode: reads until `want` records arrived (failing after a few empty polls). */
async function readFollowed(reader: SourceReader, want: number, max = 1000): Promise<Row[]> {
  const records: Row[] = [];
  for (let empty = 0; records.length < want; ) {
    const batch = await reader.read(max, never);
    assert.ok(batch, 'a followed file never ends');
    if (batch.records.length === 0 && ++empty > 20)
      throw new Error(`only ${records.length} of ${want} records`);
    records.push(...batch.records);
  }
  return records;
}

const lines = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, k) => JSON.stringify({ n: from + k }) + '\n').join('');
const ns = (records: Row[]) => records.map((r) => r.n);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);

describe('file source, once', () => {
  it('reads a JSON lines file to its end, then returns null', async () => {
    const dir = await freshDir();
    await writeFile(join(dir, 'a.jsonl'), lines(0, 2500) + '{"n":2500}');
    const [reader] = await openSource(dir, { path: './a.jsonl' });
    assert.equal(reader.partition, join(dir, 'a.jsonl'));
    const { records, batches } = await drain(reader, 1000);
    assert.deepEqual(ns(records), range(0, 2501));
    assert.ok(batches.every((b) => b.records.length <= 1000));
    assert.deepEqual(batches[0].offsets?.slice(0, 2), [0, 8]);
    assert.equal(await reader.read(10, never), null);
    assert.equal(fileSource.bounded?.(configOf({ path: 'x' })), true);
  });

  it('reports bad lines as failures with their raw text and offset, and goes on', async () => {
    const dir = await freshDir();
    await writeFile(join(dir, 'a.jsonl'), '{"n":1}\n{"n":\n\n{"n":2}\n');
    const [reader] = await openSource(dir, { path: 'a.jsonl' });
    const batch = await reader.read(100, never);
    assert.ok(batch);
    assert.deepEqual(batch.records, [{ n: 1 }, { n: 2 }]);
    assert.deepEqual(batch.offsets, [0, 15]);
    assert.equal(batch.failures?.length, 1);
    assert.equal(batch.failures?.[0].payload, '{"n":');
    assert.equal(batch.failures?.[0].offset, 8);
  });

  it('resumes exactly at a restored position', async () => {
    const dir = await freshDir();
    await writeFile(join(dir, 'a.jsonl'), lines(0, 1000));
    const [first] = await openSource(dir, { path: 'a.jsonl' });
    const head: Row[] = [];
    while (head.length < 300) head.push(...((await first.read(128, never))?.records ?? []));
    const position = first.position() as FilePosition;
    await first.close();
    assert.equal(typeof position.inode, 'number');
    const [second] = await openSource(dir, { path: 'a.jsonl' }, { [first.partition]: position });
    const { records } = await drain(second);
    assert.deepEqual([...ns(head), ...ns(records)], range(0, 1000));
  });

  it('starts again from 0, with a warning, when the file was replaced or is shorter', async () => {
    const dir = await freshDir();
    const path = join(dir, 'a.jsonl');
    await writeFile(path, lines(0, 10));
    const [first] = await openSource(dir, { path: 'a.jsonl' });
    await first.read(5, never);
    const position = first.position() as FilePosition;
    await first.close();

    await writeFile(join(dir, 'b.jsonl'), lines(100, 103));
    await rename(join(dir, 'b.jsonl'), path);
    const logged: Logged[] = [];
    const [replaced] = await openSource(dir, { path: 'a.jsonl' }, { [path]: position }, logged);
    assert.deepEqual(ns((await drain(replaced)).records), [100, 101, 102]);
    assert.match(logged.find((l) => l.level === 'warn')?.message ?? '', /replaced/);

    const shorter: Logged[] = [];
    const [short] = await openSource(dir, { path: 'a.jsonl' }, { [path]: { offset: 10_000 } }, shorter);
    assert.deepEqual(ns((await drain(short)).records), [100, 101, 102]);
    assert.match(shorter.find((l) => l.level === 'warn')?.message ?? '', /shorter/);
  });

  it('rejects a position that is not a file position', async () => {
    const dir = await freshDir();
    await writeFile(join(dir, 'a.jsonl'), lines(0, 1));
    await assert.rejects(openSource(dir, { path: 'a.jsonl' }, { [join(dir, 'a.jsonl')]: { next: 3 } }), {
      code: 'CHECKPOINT_INCOMPATIBLE',
    });
  });

  it('makes one partition per file matched by a glob, sorted', async () => {
    const dir = await freshDir();
    await mkdir(join(dir, 'logs', 'sub'), { recursive: true });
    await writeFile(join(dir, 'logs', 'b.jsonl'), lines(10, 12));
    await writeFile(join(dir, 'logs', 'a.jsonl'), lines(0, 2));
    await writeFile(join(dir, 'logs', 'sub', 'c.jsonl'), lines(20, 21));
    await writeFile(join(dir, 'logs', 'skip.txt'), 'x\n');
    const readers = await openSource(dir, { path: 'logs/**/*.jsonl' });
    assert.deepEqual(
      readers.map((r) => r.partition),
      [join(dir, 'logs', 'a.jsonl'), join(dir, 'logs', 'b.jsonl'), join(dir, 'logs', 'sub', 'c.jsonl')],
    );
    const all: unknown[] = [];
    for (const r of readers) all.push(...ns((await drain(r)).records));
    assert.deepEqual(all, [0, 1, 10, 11, 20]);
  });

  it('fails with CONFIG_INVALID when nothing matches', async () => {
    const dir = await freshDir();
    await assert.rejects(openSource(dir, { path: 'missing.jsonl' }), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'CONFIG_INVALID');
      assert.equal(err.path, 'path');
      return true;
    });
    await assert.rejects(openSource(dir, { path: '*.csv' }), { code: 'CONFIG_INVALID' });
  });

  it('reads CSV with a header and resumes after a restart without losing the header', async () => {
    const dir = await freshDir();
    await writeFile(join(dir, 'a.csv'), 'id,note\n1,"multi\nline"\n2,plain\n3,"x,y"\n');
    const [first] = await openSource(dir, { path: 'a.csv', format: 'csv' });
    const batch = await first.read(1, never);
    assert.deepEqual(batch?.records, [{ id: 1, note: 'multi\nline' }]);
    assert.deepEqual(batch?.offsets, [8]);
    const position = first.position();
    await first.close();
    const [second] = await openSource(dir, { path: 'a.csv', format: 'csv' }, { [first.partition]: position });
    assert.deepEqual((await drain(second)).records, [
      { id: 2, note: 'plain' },
      { id: 3, note: 'x,y' },
    ]);
  });

  it('reads text lines', async () => {
    const dir = await freshDir();
    await writeFile(join(dir, 'app.log'), 'GET /a 200\r\nGET /b 404\n');
    const [reader] = await openSource(dir, { path: 'app.log', format: 'text' });
    assert.deepEqual((await drain(reader)).records, [{ line: 'GET /a 200' }, { line: 'GET /b 404' }]);
  });
});

describe('file source, follow', () => {
  const follow = { mode: 'follow', poll_interval: '20ms' } as const;

  it('reads appended lines, holding back an unfinished one, and is unbounded', async () => {
    const dir = await freshDir();
    const path = join(dir, 'a.jsonl');
    await writeFile(path, lines(0, 3));
    const [reader] = await openSource(dir, { path: 'a.jsonl', ...follow });
    assert.equal(fileSource.bounded?.(configOf({ path: 'x', mode: 'follow' })), false);
    assert.deepEqual(ns(await readFollowed(reader, 3)), [0, 1, 2]);
    await appendFile(path, '{"n":3}\n{"n":');
    assert.deepEqual(ns(await readFollowed(reader, 1)), [3]);
    const idle = await reader.read(10, never);
    assert.deepEqual(idle?.records, []);
    assert.equal((reader.position() as FilePosition).offset, Buffer.byteLength(lines(0, 4)));
    await appendFile(path, '4}\n');
    assert.deepEqual(ns(await readFollowed(reader, 1)), [4]);
    await reader.close();
  });

  it('returns an empty batch after about poll_interval, and at once on abort', async () => {
    const dir = await freshDir();
    await writeFile(join(dir, 'a.jsonl'), '');
    const [reader] = await openSource(dir, { path: 'a.jsonl', mode: 'follow', poll_interval: '200ms' });
    let t = performance.now();
    assert.deepEqual((await reader.read(10, never))?.records, []);
    const waited = performance.now() - t;
    assert.ok(waited >= 150 && waited < 2000, `waited ${waited}ms`);
    await reader.close();
    const [slow] = await openSource(dir, { path: 'a.jsonl', mode: 'follow', poll_interval: '10s' });
    const abort = new AbortController();
    t = performance.now();
    const pending = slow.read(10, abort.signal);
    setTimeout(() => abort.abort(), 10);
    assert.deepEqual((await pending)?.records, []);
    assert.ok(performance.now() - t < 2000);
    await slow.close();
  });

  it('reads a rotated file to its end, then the new file from its start', async () => {
    const dir = await freshDir();
    const path = join(dir, 'app.jsonl');
    await writeFile(path, lines(0, 2));
    const logged: Logged[] = [];
    const [reader] = await openSource(dir, { path: 'app.jsonl', ...follow }, {}, logged);
    assert.deepEqual(ns(await readFollowed(reader, 2)), [0, 1]);
    await appendFile(path, lines(2, 4) + '{"n":4}');
    await rename(path, join(dir, 'app.jsonl.1'));
    await writeFile(path, lines(100, 102));
    assert.deepEqual(ns(await readFollowed(reader, 5)), [2, 3, 4, 100, 101]);
    assert.ok(logged.some((l) => /rotated/.test(l.message)));
    const position = reader.position() as FilePosition;
    assert.equal(position.offset, Buffer.byteLength(lines(100, 102)));
    await reader.close();
  });

  it('reads a truncated file again from its start, with a warning', async () => {
    const dir = await freshDir();
    const path = join(dir, 'app.jsonl');
    await writeFile(path, lines(0, 5));
    const logged: Logged[] = [];
    const [reader] = await openSource(dir, { path: 'app.jsonl', ...follow }, {}, logged);
    assert.deepEqual(ns(await readFollowed(reader, 5)), [0, 1, 2, 3, 4]);
    await truncate(path, 0);
    await appendFile(path, lines(7, 8));
    assert.deepEqual(ns(await readFollowed(reader, 1)), [7]);
    assert.ok(logged.some((l) => l.level === 'warn' && /truncated/.test(l.message)));
    await reader.close();
  });

  it('starts at the end when asked, and waits for a file that does not exist yet', async () => {
    const dir = await freshDir();
    await writeFile(join(dir, 'a.jsonl'), lines(0, 3) + '{"n":');
    const [tail] = await openSource(dir, { path: 'a.jsonl', ...follow, start: 'end' });
    await appendFile(join(dir, 'a.jsonl'), '3}\n' + lines(4, 5));
    assert.deepEqual(ns(await readFollowed(tail, 2)), [3, 4]);
    await tail.close();

    const [later] = await openSource(dir, { path: 'later.jsonl', ...follow });
    assert.deepEqual((await later.read(10, never))?.records, []);
    await writeFile(join(dir, 'later.jsonl'), lines(0, 2));
    assert.deepEqual(ns(await readFollowed(later, 2)), [0, 1]);
    await later.close();
  });

  it('follows a CSV file started at the end, keeping its header', async () => {
    const dir = await freshDir();
    const path = join(dir, 'a.csv');
    await writeFile(path, 'id,v\n1,a\n');
    const [reader] = await openSource(dir, { path: 'a.csv', format: 'csv', ...follow, start: 'end' });
    await appendFile(path, '2,b\n');
    assert.deepEqual(await readFollowed(reader, 1), [{ id: 2, v: 'b' }]);
    await reader.close();
  });
});

describe('file source, max_line', () => {
  it('makes a line longer than max_line a dead letter and reads on', async () => {
    const dir = await freshDir();
    const long = JSON.stringify({ pad: 'x'.repeat(3 * 1024 * 1024) });
    await writeFile(join(dir, 'a.jsonl'), `${lines(0, 2)}${long}\n${lines(2, 4)}`);
    const [reader] = await openSource(dir, { path: 'a.jsonl', max_line: '1mb' });
    const { records, batches } = await drain(reader);
    assert.deepEqual(ns(records), [0, 1, 2, 3]);
    const failures = batches.flatMap((b) => b.failures ?? []);
    assert.equal(failures.length, 1);
    assert.equal(failures[0].offset, lines(0, 2).length);
    assert.match(
      failures[0].message,
      new RegExp(`a line of ${long.length} bytes, longer than max_line \\(1mb\\)`),
    );
    assert.ok(failures[0].payload.length < 2000);
  });
});
