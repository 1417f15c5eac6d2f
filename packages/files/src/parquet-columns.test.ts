import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '@sluice/core/testing';
import { FileBuffer } from './file-buffer.ts';
import { ParquetColumnsBuilder } from './parquet-builder.ts';
import { inferColumns, inferType } from './parquet-columns.ts';
import { decodeParquet } from './parquet-decode.ts';
import { encodeParquet } from './parquet-encode.ts';
import { mixedRecords, readParquetWithDuckdb } from './test-support.ts';

test('a column type holds every value of the column; values of mixed kinds make text', () => {
  assert.deepEqual(inferType([1, null, 2, undefined]), { kind: 'int' });
  assert.deepEqual(inferType([1, 2.5]), { kind: 'float' });
  assert.deepEqual(inferType([2 ** 53, 1]), { kind: 'float' }, 'beyond the safe integers: DOUBLE');
  assert.deepEqual(inferType([true, null]), { kind: 'bool' });
  assert.deepEqual(inferType([null, undefined]), { kind: 'string' });
  assert.deepEqual(inferType(['a', 1]), { kind: 'text' });
  assert.deepEqual(inferType([[1], [], null, [2.5, null]]), { kind: 'list', item: { kind: 'float' } });
  assert.deepEqual(inferType([[], []]), { kind: 'list', item: { kind: 'string' } });
  assert.deepEqual(inferType([{ a: 1 }, { b: 'x', a: 2 }, null]), {
    kind: 'struct',
    fields: [
      ['a', { kind: 'int' }],
      ['b', { kind: 'string' }],
    ],
  });
  assert.deepEqual(inferType([{}, {}]), { kind: 'text' }, 'Parquet has no struct without fields');
  assert.deepEqual(inferType([{ a: 1 }, [1]]), { kind: 'text' });
  assert.deepEqual(
    inferColumns([{ b: 1 }, { a: 'x', b: 2.5 }]).map(([name]) => name),
    ['b', 'a'],
    'columns in the order their fields first appear',
  );
});

/** Each record with every column of `records` (absent: null) and `text` columns as JSON text. */
function expected(records: readonly { [k: string]: unknown }[], text: readonly string[]) {
  const names = inferColumns(records).map(([name]) => name);
  return records.map((r) => {
    const out: { [k: string]: unknown } = {};
    for (const name of names) {
      const v = r[name] ?? null;
      out[name] = text.includes(name) && v !== null && typeof v !== 'string' ? JSON.stringify(v) : v;
    }
    return out;
  });
}

/** Records whose fields come and go and change kind within one file. */
function evolving(n: number, seed: number): { [k: string]: unknown }[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, (_, i) => {
    const r: { [k: string]: unknown } = { id: i, big: (i % 2 ? -1 : 1) * (2 ** 40 + i) };
    if (i % 3 === 0) r.price = i % 9 === 0 ? i : i + 0.5;
    if (i > n / 2) r.late = `only in the second half ${i}`;
    r.unicode = random() < 0.5 ? `é漢字😀 ${i}` : null;
    r.mixed = i % 4 === 0 ? { at: i } : i % 4 === 1 ? `s${i}` : i % 4 === 2 ? i : null;
    r.nested =
      random() < 0.3
        ? null
        : { xs: [[i], [], [i, null]], inner: random() < 0.5 ? null : { ok: i % 2 === 0 } };
    r.empty = {};
    return r;
  });
}

test('records read back equal to the input: nested values, nulls, fields that come late, kinds that change', async () => {
  const input = evolving(2500, 5);
  const want = expected(input, ['mixed', 'empty']);
  for (const compression of ['zstd', 'snappy', 'gzip', 'none'] as const) {
    const bytes = encodeParquet(input, compression);
    assert.deepEqual(decodeParquet(bytes), want, `${compression}: parquet-wasm reads the input back`);
  }
  const read = await readParquetWithDuckdb([encodeParquet(input, 'zstd')]);
  assert.deepEqual(read.records, want, 'DuckDB reads the input back');
  const price = read.columns.find((c) => c.path === 'price');
  assert.ok(
    Number(price?.min) === 0 && Number(price?.max) === Math.max(...input.map((r) => Number(r.price ?? 0))),
    'integers and fractions in one column, with min/max statistics',
  );
});

test('a parquet file holds the same rows whatever the batches its records came in, built from the records or their lines', async () => {
  const plain = [...mixedRecords(1500, 13), ...evolving(1500, 13).map(({ mixed, empty, ...r }) => r)];
  const files: Uint8Array[] = [];
  for (const [label, input, text] of [
    ['typed columns', plain, []],
    ['JSON lines (text columns)', [...mixedRecords(1500, 13), ...evolving(1500, 13)], ['mixed', 'empty']],
  ] as const) {
    const want = expected(input, text);
    for (const size of [1, 7, 256, 5000])
      for (const withRecords of [true, false]) {
        const file = new FileBuffer('parquet', 0);
        for (let from = 0; from < input.length; from += size)
          for (const r of input.slice(from, from + size))
            file.add(JSON.stringify(r), withRecords ? r : undefined);
        const bytes = file.finish('zstd');
        assert.deepEqual(
          decodeParquet(bytes),
          want,
          `${label}, batches of ${size}, records given: ${withRecords}`,
        );
        if (label === 'typed columns') files.push(bytes);
      }
  }
  const read = await readParquetWithDuckdb(files);
  const want = expected(plain, []);
  assert.deepEqual(
    read.records,
    files.flatMap(() => want),
    'DuckDB reads every file back',
  );
});

test('values JSON does not keep as they are are written as their JSON would be', () => {
  const when = new Date(Date.UTC(2026, 11, 7));
  const input = [
    { id: 1, at: when, x: Number.NaN, f: () => 1, u: undefined, list: [undefined, 1], z: -0 },
    { id: 2, at: null, x: 1.5, list: [2], z: 0.5 },
  ];
  const file = new FileBuffer('parquet', 0);
  for (const r of input) file.add(JSON.stringify(r), r);
  assert.deepEqual(decodeParquet(file.finish('snappy')), [
    { id: 1, at: when.toISOString(), x: null, list: [null, 1], z: 0 },
    { id: 2, at: null, x: 1.5, list: [2], z: 0.5 },
  ]);
});

test('a columns builder takes JSON records of one kind per field, and gives up on anything else', () => {
  const takes = (records: readonly unknown[]) => {
    const b = new ParquetColumnsBuilder();
    return records.every((r) => b.add(r)) && b.build() !== undefined;
  };
  assert.ok(takes(mixedRecords(50, 1)));
  assert.ok(takes([{ a: null }, { a: [1, 2.5] }, { b: { c: [] } }, {}]));
  assert.ok(!takes([{ a: 1 }, { a: 'x' }]), 'two kinds in a field: text');
  assert.ok(!takes([{ a: [1] }, { a: [[1]] }]), 'two kinds in a list');
  assert.ok(!takes([{ a: {} }]), 'an object with no field: text');
  assert.ok(!takes([{ a: new Date(0) }]), 'an object JSON writes otherwise');
  assert.ok(!takes([{ a: Number.POSITIVE_INFINITY }]), 'a number JSON writes as null');
  assert.ok(!takes([[1]]), 'a record that is not an object');
});
