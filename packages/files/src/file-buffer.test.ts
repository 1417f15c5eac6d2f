import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FileBuffer, fileName, lineOf, runName, sinkMark } from './file-buffer.ts';
import { decodeParquet } from './parquet-decode.ts';

test('a sink mark names the pipeline, the sink and, when scaled out, the task', () => {
  const mark = sinkMark('orders', 'out');
  assert.match(mark, /^[0-9a-f]{12}$/);
  assert.equal(sinkMark('orders', 'out'), mark, 'the same across restarts');
  assert.notEqual(sinkMark('orders', 'other'), mark);
  assert.notEqual(sinkMark('billing', 'out'), mark);
  assert.notEqual(sinkMark('orders', 'out', { partition: 0 }), mark);
  assert.notEqual(sinkMark('orders', 'out', { partition: 0 }), sinkMark('orders', 'out', { partition: 1 }));
});

test('file names sort by run, then by sequence', () => {
  const early = runName(Date.UTC(2026, 0, 1));
  const late = runName(Date.UTC(2026, 11, 1));
  const names = [
    fileName('m', late, 0, 'jsonl'),
    fileName('m', early, 10, 'jsonl'),
    fileName('m', early, 9, 'jsonl'),
  ];
  assert.deepEqual([...names].sort(), [names[2], names[1], names[0]]);
  assert.match(names[0] ?? '', /^part-m-[0-9a-z]{15}-000000\.jsonl$/);
});

test('a record is written as the JSON text it was read as, or as its JSON; one JSON cannot hold is refused', () => {
  const batch = {
    records: [{ a: 1 }, { a: 2 }, { a: 3n }],
    times: [0, 0, 0],
    texts: ['{"a": 1}', undefined, undefined],
  };
  assert.equal(lineOf(batch, 0), '{"a": 1}');
  assert.equal(lineOf(batch, 1), '{"a":2}');
  const refused = lineOf(batch, 2);
  assert.ok(typeof refused !== 'string');
  assert.equal(refused.index, 2);
  assert.match(refused.message, /cannot be written as JSON/);
});

test('a jsonl buffer hands out the lines not sent yet; its size counts every line', () => {
  const file = new FileBuffer('jsonl', 0);
  file.add('{"a":1}');
  file.add('{"a":2}');
  assert.equal(file.buffered, 16);
  assert.equal(Buffer.from(file.take()).toString(), '{"a":1}\n{"a":2}\n');
  assert.equal(file.buffered, 0);
  file.add('{"a":3}');
  assert.equal(Buffer.from(file.finish('zstd')).toString(), '{"a":3}\n');
  assert.equal(file.bytes, 24);
});

test('a parquet buffer holds every record until it is finished, then encodes them all', () => {
  const file = new FileBuffer('parquet', 0);
  file.add('{"id":1,"name":"a"}');
  file.add('{"id":2,"name":"b"}');
  assert.equal(file.buffered, 0, 'nothing to send before the file is finished');
  assert.deepEqual(decodeParquet(file.finish('snappy')), [
    { id: 1, name: 'a' },
    { id: 2, name: 'b' },
  ]);
});
