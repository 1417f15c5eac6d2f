/**
 * The changelog formats of the `file` and `stdout` sinks: which line each change becomes, and
 * which input records a line stands for.
 */

import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { DELETE, INSERT, type Row, type RowKind, UPDATE_AFTER, UPDATE_BEFORE } from '../record.ts';
import { systemClock } from '../time.ts';
import { changelogEntries } from './changelog-format.ts';
import { StreamSink } from './stdio-sink.ts';

const a1 = { k: 'a', v: 1 };
const a2 = { k: 'a', v: 2 };
const b1 = { k: 'b', v: 1 };

/** (row, first, count) of each entry. */
function shape(options: Parameters<typeof changelogEntries>[0], records: Row[], kinds?: RowKind[]) {
  return changelogEntries(options, records, kinds, undefined).map((e) => [
    e.error ?? e.row,
    e.first,
    e.count,
  ]);
}

describe('debezium', () => {
  test('insert, a paired update, a lone update-before, a lone update-after and a delete', () => {
    assert.deepEqual(
      shape(
        { changelog: 'debezium' },
        [a1, a1, a2, b1, b1, a2],
        [INSERT, UPDATE_BEFORE, UPDATE_AFTER, UPDATE_BEFORE, DELETE, UPDATE_AFTER],
      ),
      [
        [{ before: null, after: a1, op: 'c' }, 0, 1],
        [{ before: a1, after: a2, op: 'u' }, 1, 2],
        [{ before: b1, after: null, op: 'd' }, 3, 1],
        [{ before: b1, after: null, op: 'd' }, 4, 1],
        [{ before: null, after: a2, op: 'u' }, 5, 1],
      ],
    );
  });

  test('append-only input: every record is a create', () => {
    assert.deepEqual(shape({ changelog: 'debezium' }, [a1, b1]), [
      [{ before: null, after: a1, op: 'c' }, 0, 1],
      [{ before: null, after: b1, op: 'c' }, 1, 1],
    ]);
  });
});

describe('upsert', () => {
  const options = { changelog: 'upsert', key: ['k'] } as const;

  test('an update of the same key is its new row; a delete and a lone update-before are markers', () => {
    assert.deepEqual(
      shape(options, [a1, a1, a2, a2, b1], [INSERT, UPDATE_BEFORE, UPDATE_AFTER, UPDATE_BEFORE, DELETE]),
      [
        [a1, 0, 1],
        [a2, 1, 2],
        [{ k: 'a', __deleted: true }, 3, 1],
        [{ k: 'b', __deleted: true }, 4, 1],
      ],
    );
  });

  test('an update that changes the key deletes the old key and upserts the new one', () => {
    assert.deepEqual(shape(options, [a1, b1], [UPDATE_BEFORE, UPDATE_AFTER]), [
      [{ k: 'a', __deleted: true }, 0, 1],
      [b1, 1, 1],
    ]);
  });

  test('a record without a key field is an error of its own', () => {
    const rows = shape(options, [{ v: 1 }, a1], [INSERT, INSERT]);
    assert.match(String(rows[0][0]), /no key field 'k'/);
    assert.deepEqual(rows[1], [a1, 1, 1]);
  });

  test('the texts of rows written as they are go along', () => {
    const entries = changelogEntries(
      options,
      [a1, a1, a2],
      [INSERT, UPDATE_BEFORE, UPDATE_AFTER],
      ['t0', 't1', 't2'],
    );
    assert.deepEqual(
      entries.map((e) => e.text),
      ['t0', 't2'],
    );
  });
});

describe('stdout sink with a changelog', () => {
  test('writes one debezium line per change and rejects both records of a pair it cannot write', async () => {
    let text = '';
    const output = new Writable({
      write(chunk, _encoding, done) {
        text += String(chunk);
        done();
      },
    });
    const sink = new StreamSink({ format: 'json', delimiter: ',', changelog: 'debezium' }, output);
    await sink.open({
      id: 'out',
      restored: undefined,
      clock: systemClock,
      baseDir: '.',
      signal: new AbortController().signal,
      log: { debug() {}, info() {}, warn() {}, error() {} },
    });
    const bad = { k: 'a', v: 10n };
    const rejections = await sink.write({
      records: [a1, a1, bad, a1],
      times: [0, 1, 1, 2],
      kinds: [INSERT, UPDATE_BEFORE, UPDATE_AFTER, DELETE],
    });
    await sink.close();
    assert.deepEqual(
      rejections?.map((r) => r.index),
      [1, 2],
    );
    assert.equal(
      text,
      '{"before":null,"after":{"k":"a","v":1},"op":"c"}\n{"before":{"k":"a","v":1},"after":null,"op":"d"}\n',
    );
  });
});
