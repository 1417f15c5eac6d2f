/**
 * The Avro and JSON Schema encoders of the `kafka` sink's registry formats, against the source's
 * decoders: round trips, logical types, exact longs, and rejections naming the field; and the
 * record encoder with a registered schema. No broker or registry needed.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Row } from '@sluice/core';
import avro from 'avsc';
import { avroDecoder, jsonSchemaDecoder, WIRE_HEADER, wireSchemaId } from './schema-decoders.ts';
import { avroEncoder, jsonSchemaEncoder } from './schema-encoders.ts';
import { paymentRow, paymentText, REGISTRY_URL, userSchema, zigzag } from './schema-registry-test-support.ts';
import { RecordEncoder } from './sink-encode.ts';
import { sinkConfig } from './test-support.ts';

/** Encodes with the sink's encoder and decodes with the source's decoder. */
function roundTrip(text: string, row: Row, id = 7): Row {
  const value = avroEncoder(text)(row, id);
  assert.equal(wireSchemaId(value, 0, value.length), id);
  return avroDecoder(text)(value, WIRE_HEADER, value.length);
}

describe('registry format encoders', () => {
  test('avro: every type round-trips through the source decoder to an equal record', () => {
    for (let i = 0; i < 8; i++) assert.deepStrictEqual(roundTrip(paymentText, paymentRow(i)), paymentRow(i));
  });

  test('avro: logical types from text and numbers, decimals exact and sign-extended', () => {
    const row = {
      ...paymentRow(0),
      amount: 12.3,
      fee: '-1',
      at: '2024-01-02T03:04:05.678Z',
      settled: '2024-01-02 03:04:05.678912',
      day: '2024-02-29',
    };
    assert.deepStrictEqual(roundTrip(paymentText, row), {
      ...paymentRow(0),
      amount: '12.30',
      fee: '-1.000',
      at: Date.parse('2024-01-02T03:04:05.678Z'),
      settled: Date.parse('2024-01-02T03:04:05.678Z') * 1000 + 912,
      day: 19_782,
    });
  });

  test('avro: longs are written exactly within ±(2^53 − 1), where avsc’s own writer is not', () => {
    const schema = JSON.stringify({ type: 'record', name: 'L', fields: [{ name: 'n', type: 'long' }] });
    const encode = avroEncoder(schema);
    for (const n of [
      0,
      -1,
      1,
      63,
      -64,
      64,
      2 ** 31,
      -(2 ** 52) - 3,
      9_007_199_254_740_991,
      -9_007_199_254_740_991,
    ]) {
      const value = encode({ n }, 1);
      assert.deepEqual(value.subarray(WIRE_HEADER), zigzag(BigInt(n)), `${n}`);
      assert.deepStrictEqual(avroDecoder(schema)(value, WIRE_HEADER, value.length), { n });
    }
    // avsc computes the zig-zag in floating point: it writes this one as a positive number.
    const n = -(2 ** 52) - 3;
    assert.notDeepEqual(avro.Type.forSchema('long').toBuffer(n), zigzag(BigInt(n)));
  });

  test('avro: a top-level non-record writes the record’s `value`', () => {
    assert.deepStrictEqual(roundTrip('["null","string"]', { value: 'plain' }), { value: 'plain' });
    assert.throws(() => avroEncoder('"string"')({ other: 1 }, 1), /has no field `value`/);
  });

  test('avro: a record that does not fit names the field; input records are not changed', () => {
    const encode = avroEncoder(paymentText);
    const cases: [Row, RegExp][] = [
      [{ ...paymentRow(1), qty: undefined }, /field `qty` is missing/],
      [{ ...paymentRow(1), qty: 2 ** 31 }, /field `qty`: 2147483648 is not an int/],
      [{ ...paymentRow(1), id: 2 ** 53 }, /field `id`: 9007199254740992 is not a long/],
      [{ ...paymentRow(1), id: '12' }, /field `id`: "12" is not a long/],
      [
        { ...paymentRow(1), amount: '1.234' },
        /field `amount`: "1.234" is not a decimal of at most 10 digits, 2/,
      ],
      [{ ...paymentRow(1), amount: '123456789.00' }, /field `amount`: .* not a decimal/],
      [{ ...paymentRow(1), fee: '1234.5' }, /field `fee`: .* not a decimal of at most 6 digits, 3/],
      [
        { ...paymentRow(1), method: 'CHEQUE' },
        /field `method`: "CHEQUE" is not one of the symbols CARD, CASH/,
      ],
      [
        { ...paymentRow(1), receipt: 'not base64!' },
        /field `receipt`: "not base64!" is not bytes \(base64 text\)/,
      ],
      [{ ...paymentRow(1), digest: 'AAAA' }, /field `digest`: 3 bytes is not 2 bytes/],
      [{ ...paymentRow(1), note: 5 }, /field `note`: 5 matches none of the union's branches null \| string/],
      [{ ...paymentRow(1), at: 'yesterday' }, /field `at`: "yesterday" is not a timestamp/],
      [{ ...paymentRow(1), day: '2024-02-30' }, /field `day`: "2024-02-30" is not a date/],
      [{ ...paymentRow(1), lines: [{ sku: 1 }] }, /field `lines.0.sku`: 1 is not text/],
    ];
    for (const [row, reason] of cases) {
      const before = JSON.stringify(row);
      assert.throws(() => encode(row, 1), reason, String(reason));
      assert.equal(JSON.stringify(row), before);
    }
    // Fields the schema does not name are left out; missing ones with a default take it.
    const { note: _n, settled: _s, code: _c, tags: _t, lines: _l, ...required } = paymentRow(2);
    assert.deepStrictEqual(roundTrip(paymentText, { ...required, extra: true }), {
      ...required,
      settled: null,
      note: null,
      code: null,
      tags: {},
      lines: [],
    });
  });

  test('avro and json_schema: schemas that do not compile are refused', () => {
    assert.throws(() => avroEncoder('{"type":"nope"}'), /not an Avro schema Sluice can write/);
    assert.throws(() => avroEncoder('["int","long"]'), /ambiguous/);
    assert.throws(() => jsonSchemaEncoder('{"type":12}'), /not a JSON Schema Sluice can compile/);
  });

  test('json_schema: valid records round-trip; violations name the field', () => {
    const text = JSON.stringify(userSchema);
    const encode = jsonSchemaEncoder(text);
    const row = { id: 1, email: 'a@example.com', nested: { x: [1, 'two'] } };
    const value = encode(row, 9);
    assert.equal(wireSchemaId(value, 0, value.length), 9);
    assert.deepStrictEqual(jsonSchemaDecoder(text)(value, WIRE_HEADER, value.length), row);
    assert.throws(
      () => encode({ id: 'x', email: 'a@example.com' }, 9),
      /does not match the JSON Schema: \/id must be integer/,
    );
    assert.throws(() => encode({ id: 1 }, 9), /missing required field 'email'/);
  });

  test('the record encoder rejects misfits one by one, drops `_kafka`, ignores texts', () => {
    const enc = new RecordEncoder(
      sinkConfig({ topic: 't', format: 'avro', schema: paymentText, schema_registry: { url: REGISTRY_URL } }),
      'out',
    );
    assert.throws(
      () => enc.encode({ records: [paymentRow(0)], times: [0] }, 0),
      /before its schema is registered/,
    );
    enc.schema = { id: 77, encode: avroEncoder(paymentText) };
    const records = [
      { ...paymentRow(0), _kafka: { topic: 'in', partition: 0, offset: 1 } },
      { ...paymentRow(1), qty: 'many' },
      paymentRow(2),
    ];
    const batch = enc.encode(
      { records, times: [0, 0, 0], texts: ['{"ignored":true}', undefined, undefined] },
      Date.now(),
    );
    assert.deepEqual(batch.indexes, [0, 2]);
    assert.deepEqual(
      batch.rejections?.map((r) => r.index),
      [1],
    );
    assert.match(
      batch.rejections?.[0].message ?? '',
      /^the record does not match the Avro schema: field `qty`: "many" is not an int/,
    );
    const value = batch.messages[0].value as Buffer;
    assert.ok(Buffer.isBuffer(value));
    assert.equal(wireSchemaId(value, 0, value.length), 77);
    assert.deepStrictEqual(avroDecoder(paymentText)(value, WIRE_HEADER, value.length), paymentRow(0));
  });
});
