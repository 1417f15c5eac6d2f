import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Value } from 'typebox/value';
import { type Sink, type SinkContext, silentLogger } from '../connector.ts';
import type { Row } from '../record.ts';
import { type Clock, ManualClock, systemClock } from '../time.ts';
import { fileSink } from './file-sink.ts';
import type { FileSinkConfig, FileSinkState } from './file-sink-config.ts';
import { createDecoder, type DecodeOutput } from './format-decode.ts';

let root: string;
let dirCount = 0;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'sluice-file-sink-'));
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function freshDir(): Promise<string> {
  const dir = join(root, `t${dirCount++}`);
  await mkdir(dir);
  return dir;
}

function configOf(options: Partial<FileSinkConfig> & { path: string }): FileSinkConfig {
  const config = Value.Default(fileSink.config, { ...options });
  assert.ok(Value.Check(fileSink.config, config), 'config matches the schema');
  return config as FileSinkConfig;
}

async function openSink(
  baseDir: string,
  options: Partial<FileSinkConfig> & { path: string },
  restored?: unknown,
  clock: Clock = systemClock,
): Promise<Sink> {
  const sink = fileSink.create(configOf(options));
  const ctx: SinkContext = {
    id: 'out',
    restored,
    clock,
    baseDir,
    signal: new AbortController().signal,
    log: silentLogger,
  };
  await sink.open(ctx);
  return sink;
}

const rows = (from: number, to: number): Row[] =>
  Array.from({ length: to - from }, (_, k) => ({ n: from + k }));
const write = (sink: Sink, records: Row[]) => sink.write({ records, times: records.map(() => 0) });

async function readJsonLines(path: string): Promise<Row[]> {
  const text = await readFile(path, 'utf8');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Row);
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);

describe('file sink', () => {
  it('writes one file named exactly path at close, leaving no in-progress file', async () => {
    const dir = await freshDir();
    await writeFile(join(dir, 'stale'), 'keep me');
    const sink = await openSink(dir, { path: './out/results.jsonl' });
    await write(sink, rows(0, 3));
    await write(sink, rows(3, 5));
    assert.deepEqual(await readdir(join(dir, 'out')), ['.results.jsonl.inprogress']);
    await sink.close();
    assert.deepEqual(await readdir(join(dir, 'out')), ['results.jsonl']);
    assert.deepEqual(await readJsonLines(join(dir, 'out', 'results.jsonl')), rows(0, 5));
    assert.equal(fileSink.delivery, 'exactly-once');
  });

  it('JSON: writes a record given with its text as that text, unless the text spans lines', async () => {
    const dir = await freshDir();
    const sink = await openSink(dir, { path: 'r.jsonl' });
    const records = [{ a: 1 }, { b: 2 }, { c: 3 }, { d: 4 }];
    const texts = ['{ "a": 1.0 }', '{\n  "b": 2\n}', undefined, '{"d":4}\r'];
    assert.equal(await sink.write({ records, times: [0, 0, 0, 0], texts }), undefined);
    await sink.close();
    assert.equal(await readFile(join(dir, 'r.jsonl'), 'utf8'), '{ "a": 1.0 }\n{"b":2}\n{"c":3}\n{"d":4}\n');
  });

  it('replaces an existing target at close, and writes an empty file for no records', async () => {
    const dir = await freshDir();
    await writeFile(join(dir, 'r.jsonl'), '{"old":true}\n');
    await writeFile(join(dir, '.r.jsonl.inprogress'), '{"stale":true}\n');
    const sink = await openSink(dir, { path: 'r.jsonl' });
    assert.deepEqual(await readdir(dir), ['r.jsonl']);
    await sink.close();
    assert.equal(await readFile(join(dir, 'r.jsonl'), 'utf8'), '');
  });

  it('writes every record exactly once across a crash and restore', async () => {
    const dir = await freshDir();
    const crashed = await openSink(dir, { path: 'out.jsonl' });
    await write(crashed, rows(0, 100));
    const state = (await crashed.prepareCommit?.(1)) as FileSinkState;
    assert.deepEqual(state.inProgress, {
      path: 'out.jsonl',
      length: Buffer.byteLength(
        rows(0, 100)
          .map((r) => JSON.stringify(r) + '\n')
          .join(''),
      ),
    });
    await crashed.commit?.(1);
    await write(crashed, rows(100, 150));
    await crashed.prepareCommit?.(2);
    await write(crashed, rows(150, 160));
    // crash: checkpoint 2 never completed, the object is dropped without close

    const restored = await openSink(dir, { path: 'out.jsonl' }, JSON.parse(JSON.stringify(state)));
    await write(restored, rows(100, 200));
    await restored.close();
    assert.deepEqual(await readdir(dir), ['out.jsonl']);
    assert.deepEqual(
      (await readJsonLines(join(dir, 'out.jsonl'))).map((r) => r.n),
      range(0, 200),
    );
  });

  it('rolls by size into several finalized parts, published at commit', async () => {
    const dir = await freshDir();
    const sink = await openSink(dir, { path: 'out/p.jsonl', roll: { max_bytes: 200 } });
    await write(sink, rows(0, 100));
    const hidden = (await readdir(join(dir, 'out'))).filter((f) => f.endsWith('.inprogress'));
    assert.ok(hidden.length > 3, `${hidden.length} parts`);
    const state = (await sink.prepareCommit?.(1)) as FileSinkState;
    assert.equal(state.pending.length, hidden.length - 1);
    assert.equal(state.nextSeq, hidden.length);
    assert.deepEqual(
      (await readdir(join(dir, 'out'))).filter((f) => !f.startsWith('.')),
      [],
      'nothing published before the checkpoint completes',
    );
    await sink.commit?.(1);
    const published = (await readdir(join(dir, 'out'))).filter((f) => !f.startsWith('.'));
    assert.deepEqual(published.sort(), [...state.pending].sort());
    await sink.close();
    const parts = (await readdir(join(dir, 'out'))).sort();
    assert.equal(parts.length, hidden.length);
    for (const part of parts) {
      assert.match(part, /^p-\d{14}-\d{6}\.jsonl$/);
      assert.ok((await stat(join(dir, 'out', part))).size <= 200);
    }
    const all: unknown[] = [];
    for (const part of parts) all.push(...(await readJsonLines(join(dir, 'out', part))).map((r) => r.n));
    assert.deepEqual(all, range(0, 100));
  });

  it('restores rolled parts: publishes the checkpointed ones, drops the later ones', async () => {
    const dir = await freshDir();
    const options = { path: 'p.jsonl', roll: { max_bytes: 100 } };
    const crashed = await openSink(dir, options);
    await write(crashed, rows(0, 30));
    const state = (await crashed.prepareCommit?.(1)) as FileSinkState;
    assert.ok(state.pending.length > 0);
    await write(crashed, rows(30, 60));
    // crash before commit(1) ran, with parts written after the checkpoint
    const restored = await openSink(dir, options, state);
    const visible = (await readdir(dir)).filter((f) => !f.startsWith('.'));
    assert.deepEqual(
      visible.sort(),
      [...state.pending].sort(),
      'checkpointed parts are published on restore',
    );
    await write(restored, rows(30, 60));
    await restored.close();
    const parts = (await readdir(dir)).sort();
    assert.ok(parts.every((p) => !p.startsWith('.')));
    const all: unknown[] = [];
    for (const part of parts) all.push(...(await readJsonLines(join(dir, part))).map((r) => r.n));
    assert.deepEqual(all, range(0, 60));
  });

  it('abort publishes nothing a completed checkpoint does not cover', async () => {
    const dir = await freshDir();
    const options = { path: 'p.jsonl', roll: { max_bytes: 100 } };
    const sink = await openSink(dir, options);
    await write(sink, rows(0, 20));
    await sink.prepareCommit?.(1);
    await sink.commit?.(1);
    const committed = (await readdir(dir)).filter((f) => !f.startsWith('.')).sort();
    await write(sink, rows(20, 40));
    const state = (await sink.prepareCommit?.(2)) as FileSinkState;
    assert.ok(state.pending.length > 0, 'checkpoint 2 prepared parts');
    await write(sink, rows(40, 60));
    await sink.abort?.();
    assert.deepEqual(
      (await readdir(dir)).filter((f) => !f.startsWith('.')).sort(),
      committed,
      'only the parts of checkpoint 1 are published',
    );
    await assert.rejects(write(sink, rows(60, 61)), { code: 'SINK_UNAVAILABLE' });

    const plain = await freshDir();
    await writeFile(join(plain, 'r.jsonl'), 'earlier\n');
    const unrolled = await openSink(plain, { path: 'r.jsonl' });
    await unrolled.abort?.();
    assert.equal(
      await readFile(join(plain, 'r.jsonl'), 'utf8'),
      'earlier\n',
      'the earlier file is left alone',
    );
  });

  it('restored from an older checkpoint, moves aside the parts a later, lost one published', async () => {
    const dir = await freshDir();
    const options = { path: 'p.jsonl', roll: { max_bytes: 100 } };
    const first = await openSink(dir, options);
    await write(first, rows(0, 30));
    const older = (await first.prepareCommit?.(1)) as FileSinkState;
    await first.commit?.(1);
    const publishedByOlder = (await readdir(dir)).filter((f) => !f.startsWith('.')).sort();
    await write(first, rows(30, 60));
    await first.prepareCommit?.(2);
    await first.commit?.(2);
    const publishedByLost = (await readdir(dir)).filter(
      (f) => !f.startsWith('.') && !publishedByOlder.includes(f),
    );
    assert.ok(publishedByLost.length > 0, 'checkpoint 2 published parts');
    // crash; checkpoint 2 turns out unreadable and the job restores checkpoint 1

    const restored = await openSink(dir, options, older);
    const visible = (await readdir(dir)).filter((f) => !f.startsWith('.')).sort();
    assert.deepEqual(visible, [...new Set([...publishedByOlder, ...older.pending])].sort());
    const aside = (await readdir(join(dir, '.quarantine'))).sort();
    // The part in progress at checkpoint 1 is taken back and cut instead.
    const taken = [...older.pending, older.inProgress?.path];
    assert.deepEqual(aside, publishedByLost.filter((f) => !taken.includes(f)).sort());
    assert.ok(aside.length > 0);
    await write(restored, rows(30, 60));
    await restored.close();
    const all: unknown[] = [];
    for (const part of (await readdir(dir)).filter((f) => !f.startsWith('.')).sort())
      all.push(...(await readJsonLines(join(dir, part))).map((r) => r.n));
    assert.deepEqual(all, range(0, 60), 'every record once');
  });

  it('restored with another path, finishes the checkpointed output where it was and writes the rest to the new path', async () => {
    const dir = await freshDir();
    for (const roll of [undefined, { max_bytes: 100 }]) {
      const old = roll ? 'old/p.jsonl' : 'old.jsonl';
      const now = roll ? 'new/p.jsonl' : 'new.jsonl';
      const first = await openSink(dir, { path: old, ...(roll ? { roll } : {}) });
      await write(first, rows(0, 30));
      const state = (await first.prepareCommit?.(1)) as FileSinkState;
      await write(first, rows(30, 40));
      // crash before commit(1); the pipeline now writes to another path
      const second = await openSink(
        dir,
        { path: now, ...(roll ? { roll } : {}) },
        JSON.parse(JSON.stringify(state)),
      );
      await write(second, rows(30, 60));
      await second.close();
      const ids = async (folder: string, match: (f: string) => boolean) => {
        const out: unknown[] = [];
        for (const f of (await readdir(folder)).filter(match).sort())
          out.push(...(await readJsonLines(join(folder, f))).map((r) => r.n));
        return out;
      };
      const visible = (f: string) => !f.startsWith('.');
      const [oldIds, newIds] = roll
        ? [await ids(join(dir, 'old'), visible), await ids(join(dir, 'new'), visible)]
        : [await ids(dir, (f) => f === 'old.jsonl'), await ids(dir, (f) => f === 'new.jsonl')];
      assert.deepEqual(oldIds, range(0, 30), `${old}: the records of the checkpoint, published`);
      assert.deepEqual(newIds, range(30, 60), `${now}: the replayed records`);
      const hidden = roll
        ? [...(await readdir(join(dir, 'old'))), ...(await readdir(join(dir, 'new')))]
        : await readdir(dir);
      assert.deepEqual(
        hidden.filter((f) => f.startsWith('.')),
        [],
        'no in-progress file is left',
      );
    }
  });

  it('rolls by time and keeps numbering parts after existing ones', async () => {
    const dir = await freshDir();
    await writeFile(join(dir, 'p-20200101000000-000007.jsonl'), '');
    const clock = new ManualClock(Date.UTC(2026, 0, 2, 3, 4, 5));
    const sink = await openSink(dir, { path: 'p.jsonl', roll: { interval: '1m' } }, undefined, clock);
    await write(sink, rows(0, 2));
    clock.advance(30_000);
    await write(sink, rows(2, 4));
    clock.advance(30_000);
    await write(sink, rows(4, 5));
    await sink.close();
    const parts = (await readdir(dir)).sort();
    assert.deepEqual(parts, [
      'p-20200101000000-000007.jsonl',
      'p-20260102030405-000008.jsonl',
      'p-20260102030505-000009.jsonl',
    ]);
    assert.deepEqual(await readJsonLines(join(dir, parts[1])), rows(0, 4));
    assert.deepEqual(await readJsonLines(join(dir, parts[2])), rows(4, 5));
  });

  it('writes CSV with a header and quoting, and rejects records with unknown fields', async () => {
    const dir = await freshDir();
    const sink = await openSink(dir, { path: 'o.csv', format: 'csv' });
    const rejected = await write(sink, [
      { id: 1, note: 'plain', tags: null },
      { id: 2, note: 'a,b "c"\nd', tags: ['x'] },
      { id: 3, extra: true },
      { id: 4, note: undefined },
    ]);
    assert.deepEqual(
      rejected?.map((r) => r.index),
      [2],
    );
    assert.match(rejected?.[0].message ?? '', /field 'extra'/);
    await sink.close();
    const text = await readFile(join(dir, 'o.csv'), 'utf8');
    assert.equal(text, 'id,note,tags\n1,plain,\n2,"a,b ""c""\nd","[""x""]"\n4,,\n');
    const decoder = createDecoder({ format: 'csv', header: true, delimiter: ',', infer_types: true });
    const out: DecodeOutput = { records: [], offsets: [], failures: [] };
    decoder.push(Buffer.from(text));
    decoder.decode(out, 10, true);
    assert.deepEqual(out.records[1], { id: 2, note: 'a,b "c"\nd', tags: '["x"]' });
  });

  it('keeps the CSV columns across a restore and repeats the header in each part', async () => {
    const dir = await freshDir();
    const options = { path: 'o.csv', format: 'csv', roll: { max_bytes: 40 } } as const;
    const first = await openSink(dir, options);
    await write(first, [{ a: 1, b: 'x' }]);
    const state = (await first.prepareCommit?.(1)) as FileSinkState;
    assert.deepEqual(state.columns, ['a', 'b']);
    const second = await openSink(dir, options, state);
    await write(second, [
      { b: 'y', a: 2 },
      { a: 3, b: 'zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz' },
    ]);
    await second.close();
    const parts = (await readdir(dir)).sort();
    assert.equal(parts.length, 2);
    assert.equal(await readFile(join(dir, parts[0]), 'utf8'), 'a,b\n1,x\n2,y\n');
    assert.equal(await readFile(join(dir, parts[1]), 'utf8'), 'a,b\n3,zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz\n');
  });

  it('rejects records JSON cannot encode and rejects a foreign checkpoint state', async () => {
    const dir = await freshDir();
    const sink = await openSink(dir, { path: 'o.jsonl' });
    const rejected = await write(sink, [{ n: 1 }, { n: 10n }]);
    assert.deepEqual(
      rejected?.map((r) => r.index),
      [1],
    );
    await sink.close();
    await assert.rejects(openSink(dir, { path: 'o.jsonl' }, { offset: 3 }), {
      code: 'CHECKPOINT_INCOMPATIBLE',
    });
  });
});
