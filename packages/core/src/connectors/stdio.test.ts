import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type SinkContext, type SourceContext, type SourceReader, silentLogger } from '../connector.ts';
import type { Row } from '../record.ts';
import { systemClock } from '../time.ts';
import type { DecodeOptions } from './format-options.ts';
import { StreamSink, stdoutSink } from './stdio-sink.ts';
import { StreamSource, stdinSource } from './stdio-source.ts';

const never = new AbortController().signal;
const json: DecodeOptions = { format: 'json', header: true, delimiter: ',', infer_types: true };

function sourceContext(restored: SourceContext['restored'] = {}): SourceContext {
  return { id: 'in', restored, clock: systemClock, baseDir: '.', signal: never, log: silentLogger };
}

const sinkContext: SinkContext = {
  id: 'out',
  restored: undefined,
  clock: systemClock,
  baseDir: '.',
  signal: never,
  log: silentLogger,
};

async function drain(reader: SourceReader, max = 100): Promise<Row[]> {
  const records: Row[] = [];
  for (let batch = await reader.read(max, never); batch; batch = await reader.read(max, never)) {
    records.push(...batch.records);
  }
  return records;
}

describe('stdin source', () => {
  it('decodes the stream as one bounded partition and counts records as its position', async () => {
    const input = Readable.from([Buffer.from('{"n":1}\n{"n"'), Buffer.from(':2}\nbad\n{"n":3}')]);
    const [reader] = await new StreamSource(json, input).open(sourceContext({ stdin: 7 }));
    assert.equal(reader.partition, 'stdin');
    const first = await reader.read(100, never);
    assert.ok(first);
    const records = [...first.records, ...(await drain(reader))];
    assert.deepEqual(records, [{ n: 1 }, { n: 2 }, { n: 3 }]);
    assert.equal(reader.position(), 4, 'three records and one failure read');
    assert.equal(await reader.read(10, never), null);
    assert.equal(
      stdinSource.bounded?.({ ...json, max_depth: 1000, invalid_utf8: 'dead_letter', max_line: '1mb' }),
      true,
    );
  });

  it('returns an empty batch while the input is quiet, then continues', async () => {
    const input = new PassThrough();
    const [reader] = await new StreamSource({ ...json, format: 'text' }, input).open(sourceContext());
    const t = performance.now();
    assert.deepEqual((await reader.read(10, never))?.records, []);
    assert.ok(performance.now() - t >= 200);
    input.write('a\nb');
    assert.deepEqual((await reader.read(10, never))?.records, [{ line: 'a' }]);
    input.end('\n');
    assert.deepEqual(await drain(reader), [{ line: 'b' }]);
  });

  it('reads CSV', async () => {
    const input = Readable.from(['x;y\n1;"a;b"\n']);
    const [reader] = await new StreamSource({ ...json, format: 'csv', delimiter: ';' }, input).open(
      sourceContext(),
    );
    assert.deepEqual(await drain(reader), [{ x: 1, y: 'a;b' }]);
  });
});

describe('stdout sink', () => {
  it('writes JSON lines in large pieces and waits for drain when the stream is full', async () => {
    const chunks: string[] = [];
    let drained = 0;
    const slow = new Writable({
      highWaterMark: 64,
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk.toString());
        setTimeout(callback, 5);
      },
    });
    slow.on('drain', () => drained++);
    const sink = new StreamSink({ format: 'json', delimiter: ',' }, slow);
    await sink.open(sinkContext);
    for (let b = 0; b < 5; b++) {
      const records = Array.from({ length: 20 }, (_, k) => ({ n: b * 20 + k }));
      await sink.write({ records, times: records.map(() => 0) });
      assert.ok(slow.writableLength <= 64 * 40, 'the sink does not run ahead of the stream');
    }
    await sink.prepareCommit?.(1);
    assert.equal(slow.writableLength, 0);
    await sink.close();
    assert.equal(chunks.length, 5, 'one piece per batch');
    assert.ok(drained >= 4);
    const lines = chunks.join('').split('\n').filter(Boolean);
    assert.deepEqual(
      lines.map((l) => JSON.parse(l).n),
      Array.from({ length: 100 }, (_, k) => k),
    );
    assert.equal(stdoutSink.delivery, 'at-least-once');
  });

  it('writes CSV with one header row', async () => {
    const out = new PassThrough();
    const chunks: string[] = [];
    out.on('data', (c: Buffer) => chunks.push(c.toString()));
    const sink = new StreamSink({ format: 'csv', delimiter: ',' }, out);
    await sink.open(sinkContext);
    await sink.write({ records: [{ a: 1, b: 'x,y' }], times: [0] });
    await sink.write({ records: [{ a: 2, b: 'z' }], times: [0] });
    await sink.close();
    assert.equal(chunks.join(''), 'a,b\n1,"x,y"\n2,z\n');
  });
});

describe('stdin to stdout in a real process', () => {
  it('pipes records through the process streams', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-stdio-'));
    try {
      const here = fileURLToPath(new URL('.', import.meta.url));
      const script = join(dir, 'pipe.ts');
      await writeFile(
        script,
        [
          `import { stdinSource } from ${JSON.stringify(join(here, 'stdio-source.ts'))};`,
          `import { stdoutSink } from ${JSON.stringify(join(here, 'stdio-sink.ts'))};`,
          `import { silentLogger } from ${JSON.stringify(join(here, '..', 'connector.ts'))};`,
          `import { systemClock } from ${JSON.stringify(join(here, '..', 'time.ts'))};`,
          'const signal = new AbortController().signal;',
          "const base = { restored: {}, clock: systemClock, baseDir: '.', signal, log: silentLogger };",
          "const [reader] = await stdinSource.create({ format: 'csv', header: true, delimiter: ',', infer_types: true }).open({ id: 'in', ...base });",
          "const sink = stdoutSink.create({ format: 'json', delimiter: ',' });",
          "await sink.open({ id: 'out', ...base, restored: undefined });",
          'for (let b = await reader.read(1000, signal); b; b = await reader.read(1000, signal)) await sink.write({ records: b.records, times: [] });',
          'await sink.close();',
        ].join('\n'),
      );
      const child = spawn(process.execPath, [script], { stdio: ['pipe', 'pipe', 'inherit'] });
      let output = '';
      child.stdout.on('data', (c: Buffer) => {
        output += c.toString();
      });
      const rows = Array.from({ length: 5000 }, (_, i) => `${i},"name ${i}"`).join('\n');
      child.stdin.end(`id,name\n${rows}\n`);
      const code = await new Promise((resolve) => child.on('close', resolve));
      assert.equal(code, 0);
      const records = output
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
      assert.equal(records.length, 5000);
      assert.deepEqual(records[4999], { id: 4999, name: 'name 4999' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
