/**
 * Appends in COPY's binary format store what the text format stored: against the real server,
 * the same records written by the sink (binary, with the text fallback for values without a
 * binary form) and by plain parameterized INSERTs (the server parsing each value's text) give
 * the same rows, compared as the server prints them (so -0, NaN and a jsonb's normal form
 * count), for writes of 1, 7 and 1,000 records and both deliveries.
 */

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { Row } from '@sluice/core';
import { BinaryRows, fieldWriter } from './copy-binary.ts';
import { columnText } from './encode.ts';
import {
  abortSinks,
  batchOf,
  openSink,
  PG_URL,
  postgresMissing,
  preparedUnavailable,
  TestSchema,
} from './test-support.ts';

const skip = (await postgresMissing()) ?? false;
const noPrepared = skip === false ? await preparedUnavailable() : skip;
const schema = new TestSchema();
after(async () => {
  await abortSinks();
  await schema.drop();
});

const SHAPE = `(id integer, big bigint, small smallint, x double precision, ok boolean, t text,
  v varchar(12), c char(4), j json, jb jsonb)`;
const COLUMNS = ['id', 'big', 'small', 'x', 'ok', 't', 'v', 'c', 'j', 'jb'];

/** Values at the edges of each type, and some (strings in number columns) only text can take. */
function records(): Row[] {
  const bigs: unknown[] = [
    0,
    -1,
    1,
    2 ** 53 - 1,
    -(2 ** 53) + 1,
    4_294_967_296,
    -4_294_967_297,
    2n ** 63n - 1n,
    -(2n ** 63n),
    null,
  ];
  const xs: unknown[] = [
    0,
    -0,
    1.5,
    -2.25e-300,
    1e308,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    0.1,
    null,
  ];
  const texts: unknown[] = [
    '',
    'plain',
    'tab\there',
    'new\nline',
    'back\\slash',
    'ünïcødé ✓ 😀',
    'carriage\rreturn',
    '\\N',
    42,
    true,
  ];
  const out: Row[] = [];
  for (let id = 0; id < 2_100; id++) {
    const k = id % 10;
    out.push({
      id,
      big: bigs[k],
      small: [0, -32_768, 32_767, 7, null][id % 5],
      x: xs[(id >> 1) % 10],
      ok: [true, false, null][id % 3],
      t: texts[(id >> 2) % 10],
      v: id % 11 === 0 ? null : `v${id}`,
      c: ['ab', 'abcd', null][id % 3],
      j: id % 4 === 0 ? null : { id, list: [1, 'two', null], nested: { ok: id % 2 === 0 } },
      jb: id % 5 === 0 ? null : { b: id, a: [id, 'x'] },
      // two records give number columns strings, which only the text form takes
      ...(id === 3 || id === 1503 ? { big: `${id}`, small: '12', x: ' 2.5 ' } : {}),
    });
  }
  return out;
}

/** The table as the server prints it: one row's text per row (-0 printed as such), by id. */
async function rowsOf(table: string): Promise<string[]> {
  const rows = await schema.query<{ row: string }>(`SELECT r::text AS row FROM ${table} r ORDER BY id`);
  return rows.map((r) => r.row);
}

/** The same records by parameterized INSERTs: the server parses each value's text form. */
async function inserted(input: readonly Row[]): Promise<string> {
  const table = schema.table('expected');
  await schema.query(`CREATE TABLE ${table} ${SHAPE}`);
  for (let from = 0; from < input.length; from += 500) {
    const values: (string | null)[] = [];
    const tuples: string[] = [];
    for (const r of input.slice(from, from + 500)) {
      const slots = COLUMNS.map((c) => {
        values.push(columnText(r[c], 'other'));
        return `$${values.length}`;
      });
      tuples.push(`(${slots.join(', ')})`);
    }
    await schema.query(`INSERT INTO ${table} (${COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}`, values);
  }
  return table;
}

describe('postgres append in COPY binary', { skip }, async () => {
  const input = records();
  const expectedTable = skip === false ? await inserted(input) : '';

  for (const delivery of ['at_least_once', 'exactly_once'] as const)
    for (const size of [1, 7, 1000]) {
      const skipThis = delivery === 'exactly_once' ? (noPrepared ?? false) : false;
      test(`${delivery}, writes of ${size}: the rows equal those the server parsed from text`, {
        skip: skipThis,
      }, async () => {
        const table = schema.table();
        await schema.query(`CREATE TABLE ${table} ${SHAPE}`);
        const sink = await openSink({ url: PG_URL, table, batch_size: size, delivery });
        for (let from = 0, n = 0; from < input.length; from += size, n++) {
          assert.equal(await sink.write(batchOf(input.slice(from, from + size))), undefined);
          if (n % 50 === 49) {
            await sink.prepareCommit?.(n);
            await sink.commit?.(n);
          }
        }
        await sink.close();
        assert.deepEqual(await rowsOf(table), await rowsOf(expectedTable));
      });
    }
});

describe('binary field writers', () => {
  test('a value without a binary form that stores what its text does is left to the text format', () => {
    const rows = new BinaryRows(4);
    const int = fieldWriter('integer');
    const big = fieldWriter('bigint');
    const float = fieldWriter('double precision');
    assert.ok(int && big && float);
    for (const v of [1.5, 2 ** 31, '1', true]) assert.equal(int(rows, v), false, String(v));
    for (const v of [2 ** 53, 0.5, '7', 2n ** 63n]) assert.equal(big(rows, v), false, String(v));
    for (const v of ['1.5', 1n]) assert.equal(float(rows, v), false, String(v));
    assert.equal(rows.position, 0, 'nothing written');
    for (const type of ['numeric', 'timestamp with time zone', 'real', 'uuid', 'text[]', 'date'])
      assert.equal(fieldWriter(type), undefined, type);
    for (const type of ['character varying(3)', 'character(1)', 'character varying', 'jsonb'])
      assert.ok(fieldWriter(type), type);
  });

  test('64-bit integers from numbers: both halves, negative ones included', () => {
    const rows = new BinaryRows(1);
    const big = fieldWriter('bigint');
    assert.ok(big);
    const values = [0, 1, -1, 2 ** 32, -(2 ** 32) - 1, 2 ** 53 - 1, -(2 ** 53) + 1];
    for (const v of values) assert.equal(big(rows, v), true);
    const bytes = rows.bytes;
    assert.equal(bytes.length, values.length * 12, 'the buffer grew from 1 byte');
    values.forEach((v, i) => {
      assert.equal(bytes.readInt32BE(i * 12), 8);
      assert.equal(bytes.readBigInt64BE(i * 12 + 4), BigInt(v));
    });
  });
  test("the byte-by-byte writers equal Buffer's own writeInt16BE, writeInt32BE, writeDoubleBE and utf8 write", () => {
    const rows = new BinaryRows(1);
    const expected: Buffer[] = [];
    const field = (length: number, fill: (b: Buffer) => void): void => {
      const b = Buffer.alloc(4 + length);
      b.writeInt32BE(length, 0);
      fill(b.subarray(4));
      expected.push(b);
    };
    for (const v of [0, 1, -1, 255, 256, -32_768, 32_767, -129]) {
      rows.int16(v);
      field(2, (b) => b.writeInt16BE(v, 0));
    }
    for (const v of [0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 65_536, -65_537, 16_777_216]) {
      rows.int32(v);
      field(4, (b) => b.writeInt32BE(v, 0));
    }
    for (const v of [0, -0, 1.5, -2.25e-300, 1e308, Number.NaN, Number.NEGATIVE_INFINITY, 5e-324]) {
      rows.float64(v);
      field(8, (b) => b.writeDoubleBE(v, 0));
    }
    const texts = [
      '',
      'a',
      'x'.repeat(64),
      'x'.repeat(65),
      `${'a'.repeat(63)}é`,
      'é',
      '😀 ✓',
      'z'.repeat(70_000),
    ];
    for (const t of texts) {
      rows.text(t);
      field(Buffer.byteLength(t), (b) => b.write(t, 0, 'utf8'));
      rows.text(t, 1);
      field(1 + Buffer.byteLength(t), (b) => {
        b[0] = 1;
        b.write(t, 1, 'utf8');
      });
    }
    rows.fields(10);
    rows.null();
    const tail = Buffer.alloc(6);
    tail.writeInt16BE(10, 0);
    tail.writeInt32BE(-1, 2);
    expected.push(tail);
    assert.deepEqual(Buffer.from(rows.bytes), Buffer.concat(expected));
  });
});
