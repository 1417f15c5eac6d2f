/**
 * Registry formats without a server: the Confluent wire header, Avro to JSON-compatible rows
 * (bytes written by avsc's own encoder), decimals, JSON Schema validation, and what makes a
 * schema unusable.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import avro from 'avsc';
import {
  avroDecoder,
  decimalBytes,
  decimalText,
  jsonSchemaDecoder,
  schemaCompiler,
  WIRE_HEADER,
  wireSchemaId,
} from './schema-decoders.ts';
import { registryHeaders } from './schema-registry.ts';
import { framed, zigzag } from './schema-registry-test-support.ts';

/** Encodes `value` with avsc (the writer side, independent of the decoder's type options). */
function encode(schema: object | string, value: unknown): Buffer {
  return avro.Type.forSchema(schema as never).toBuffer(value);
}

/** Decodes `payload` framed with schema id 7 at an offset inside a larger buffer, as a fetch holds it. */
function decode(schema: object | string, payload: Buffer) {
  const value = framed(7, payload);
  const buf = Buffer.concat([Buffer.from('lead-in'), value, Buffer.from('next record')]);
  const start = 'lead-in'.length;
  assert.equal(wireSchemaId(buf, start, start + value.length), 7);
  return avroDecoder(JSON.stringify(schema))(buf, start + WIRE_HEADER, start + value.length);
}

describe('Confluent wire format', () => {
  test('the schema id is the big-endian int after byte 0', () => {
    const v = framed(0x01020304, 'x');
    assert.deepEqual([...v.subarray(0, 5)], [0, 1, 2, 3, 4]);
    assert.equal(wireSchemaId(v, 0, v.length), 0x01020304);
    assert.equal(wireSchemaId(framed(5, ''), 0, 5), 5, 'an empty payload still has a header');
  });

  test('a value that is not framed has no schema id', () => {
    assert.equal(wireSchemaId(Buffer.from('{"a":1}'), 0, 7), -1, 'first byte is not 0');
    assert.equal(wireSchemaId(Buffer.from([0, 0, 0, 1]), 0, 4), -1, 'shorter than the header');
    assert.equal(wireSchemaId(Buffer.alloc(0), 0, 0), -1);
  });
});

describe('Avro to rows', () => {
  const order = {
    type: 'record',
    name: 'Order',
    namespace: 'shop',
    fields: [
      { name: 'id', type: 'long' },
      { name: 'qty', type: 'int' },
      { name: 'price', type: 'double' },
      { name: 'ratio', type: 'float' },
      { name: 'paid', type: 'boolean' },
      { name: 'name', type: 'string' },
      { name: 'blob', type: 'bytes' },
      { name: 'digest', type: { type: 'fixed', name: 'Digest', size: 4 } },
      { name: 'status', type: { type: 'enum', name: 'Status', symbols: ['NEW', 'PAID'] } },
      { name: 'note', type: ['null', 'string'], default: null },
      { name: 'code', type: ['null', 'bytes'], default: null },
      { name: 'tags', type: { type: 'array', items: 'string' } },
      { name: 'attachments', type: { type: 'map', values: 'bytes' } },
      {
        name: 'lines',
        type: {
          type: 'array',
          items: {
            type: 'record',
            name: 'Line',
            fields: [
              { name: 'sku', type: 'string' },
              { name: 'raw', type: 'bytes' },
            ],
          },
        },
      },
      { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } },
      { name: 'day', type: { type: 'int', logicalType: 'date' } },
      { name: 'ref', type: { type: 'string', logicalType: 'uuid' } },
    ],
  };

  test('every type maps to a JSON-compatible value; records are plain objects', () => {
    const row = decode(
      order,
      encode(order, {
        id: 9_007_199_254_740_990,
        qty: -3,
        price: 12.5,
        ratio: 0.5,
        paid: true,
        name: 'Zoë',
        blob: Buffer.from([1, 2, 255]),
        digest: Buffer.from('abcd'),
        status: 'PAID',
        note: 'leave at door',
        code: null,
        tags: ['a', 'b'],
        attachments: { x: Buffer.from('hi') },
        lines: [{ sku: 'S1', raw: Buffer.from('r') }],
        at: 1_700_000_000_123,
        day: 19_700,
        ref: '1b4e28ba-2fa1-11d2-883f-0016d3cca427',
      }),
    );
    // deepStrictEqual compares prototypes too: these must be plain objects, not avsc records.
    assert.deepStrictEqual(row, {
      id: 9_007_199_254_740_990,
      qty: -3,
      price: 12.5,
      ratio: 0.5,
      paid: true,
      name: 'Zoë',
      blob: 'AQL/',
      digest: 'YWJjZA==',
      status: 'PAID',
      note: 'leave at door',
      code: null,
      tags: ['a', 'b'],
      attachments: { x: 'aGk=' },
      lines: [{ sku: 'S1', raw: 'cg==' }],
      at: 1_700_000_000_123,
      day: 19_700,
      ref: '1b4e28ba-2fa1-11d2-883f-0016d3cca427',
    });
    assert.equal(JSON.stringify(JSON.parse(JSON.stringify(row))), JSON.stringify(row), 'survives JSON');
  });

  test('a union is the value of the branch written', () => {
    const schema = {
      type: 'record',
      name: 'U',
      fields: [
        {
          name: 'v',
          type: [
            'null',
            'string',
            'bytes',
            { type: 'record', name: 'Inner', fields: [{ name: 'b', type: 'bytes' }] },
            { type: 'array', items: 'bytes' },
          ],
        },
      ],
    };
    const writer = avro.Type.forSchema(schema as never, { wrapUnions: true });
    const cases: [unknown, unknown][] = [
      [null, null],
      [{ string: 'text' }, 'text'],
      [{ bytes: Buffer.from([0]) }, 'AA=='],
      [{ Inner: { b: Buffer.from([1]) } }, { b: 'AQ==' }],
      [{ array: [Buffer.from([2])] }, ['Ag==']],
    ];
    for (const [written, read] of cases) {
      assert.deepStrictEqual(decode(schema, writer.toBuffer({ v: written })), { v: read });
    }
  });

  test('a recursive type decodes at every depth', () => {
    const schema = {
      type: 'record',
      name: 'Node',
      fields: [
        { name: 'data', type: 'bytes' },
        { name: 'next', type: ['null', 'Node'], default: null },
      ],
    };
    const value = { data: Buffer.from('a'), next: { data: Buffer.from('b'), next: null } };
    assert.deepStrictEqual(decode(schema, encode(schema, value)), {
      data: 'YQ==',
      next: { data: 'Yg==', next: null },
    });
  });

  test('decimal becomes its exact decimal text, from bytes and from fixed', () => {
    const schema = {
      type: 'record',
      name: 'Money',
      fields: [
        { name: 'a', type: { type: 'bytes', logicalType: 'decimal', precision: 10, scale: 2 } },
        {
          name: 'b',
          type: { type: 'fixed', name: 'F', size: 3, logicalType: 'decimal', precision: 6, scale: 3 },
        },
        { name: 'c', type: ['null', { type: 'bytes', logicalType: 'decimal', precision: 4, scale: 0 }] },
      ],
    };
    // The writer knows no logical types: it writes the unscaled two's-complement bytes.
    const row = decode(
      schema,
      encode(schema, {
        a: Buffer.from([0xfb, 0x2e]),
        b: Buffer.from([0x00, 0x30, 0x39]),
        c: Buffer.from([0x07]),
      }),
    );
    assert.deepStrictEqual(row, { a: '-12.34', b: '12.345', c: '7' });
  });

  test('decimal text and bytes', () => {
    assert.equal(decimalText(Buffer.from([0x04, 0xd2]), 2), '12.34');
    assert.equal(decimalText(Buffer.from([0xfb, 0x2e]), 2), '-12.34');
    assert.equal(decimalText(Buffer.from([0x00]), 2), '0.00');
    assert.equal(decimalText(Buffer.from([0xff]), 3), '-0.001');
    assert.equal(decimalText(Buffer.from([0x80]), 0), '-128');
    assert.equal(decimalText(Buffer.alloc(0), 2), '0');
    for (const [text, scale] of [
      ['12.34', 2],
      ['-0.001', 3],
      ['-128', 0],
      ['127', 0],
      ['123456789012345678901234567890.5', 1],
    ] as const) {
      assert.equal(decimalText(decimalBytes(text, scale), scale), text);
    }
    assert.deepEqual([...decimalBytes('-128', 0)], [0x80]);
    assert.deepEqual([...decimalBytes('128', 0)], [0x00, 0x80]);
  });

  test('a top-level value that is not a record becomes { value }', () => {
    assert.deepStrictEqual(decode('string', encode('string', 'plain')), { value: 'plain' });
    assert.deepStrictEqual(decode('bytes', encode('bytes', Buffer.from([1]))), { value: 'AQ==' });
    assert.deepStrictEqual(decode(['null', 'long'], encode(['null', 'long'], 5)), { value: 5 });
  });

  test('longs are exact within ±(2^53 − 1); beyond, the record fails instead of losing precision', () => {
    const schema = { type: 'record', name: 'L', fields: [{ name: 'n', type: 'long' }] };
    const edges = [
      0n,
      -1n,
      1n,
      2n ** 31n,
      -(2n ** 52n) - 1n,
      // avsc's own reader turns this one positive.
      -9_007_199_254_740_990n,
      9_007_199_254_740_991n,
      -9_007_199_254_740_991n,
    ];
    for (const n of edges) assert.deepStrictEqual(decode(schema, zigzag(n)), { n: Number(n) }, `${n}`);
    for (const n of [2n ** 53n, -(2n ** 53n), 2n ** 63n - 1n, -(2n ** 63n)]) {
      assert.throws(() => decode(schema, zigzag(n)), /long outside ±\(2\^53 − 1\)/, `${n}`);
    }
  });

  test('truncated payloads and payloads with bytes left over fail', () => {
    const schema = { type: 'record', name: 'T', fields: [{ name: 's', type: 'string' }] };
    const good = encode(schema, { s: 'hello' });
    const decoder = avroDecoder(JSON.stringify(schema));
    // Truncated at the end of the fetched bytes.
    const cut = framed(1, good.subarray(0, 3));
    assert.throws(() => decoder(cut, WIRE_HEADER, cut.length), /truncated/);
    // Truncated inside a larger buffer: the decoder must not read into the next record.
    const inside = Buffer.concat([framed(1, good.subarray(0, 3)), Buffer.from('XXXXXXXX')]);
    assert.throws(() => decoder(inside, WIRE_HEADER, WIRE_HEADER + 3), /truncated/);
    const extra = framed(1, Buffer.concat([good, Buffer.from([0])]));
    assert.throws(() => decoder(extra, WIRE_HEADER, extra.length), /1 bytes left over/);
  });

  test('unions a JSON value cannot tell apart are refused when the schema compiles', () => {
    assert.throws(() => avroDecoder(JSON.stringify(['int', 'long'])), /ambiguous/);
    assert.throws(() => avroDecoder('{"type": "nope"}'), /not an Avro schema/);
  });
});

describe('JSON Schema', () => {
  const schema = {
    $id: 'https://example.com/order.json',
    type: 'object',
    properties: { id: { type: 'integer' }, email: { type: 'string', format: 'email' } },
    required: ['id'],
  };

  test('a valid object is the row; a violation names the field', () => {
    const decoder = jsonSchemaDecoder(JSON.stringify(schema));
    const ok = framed(3, '{"id":1,"email":"a@example.com"}');
    assert.deepStrictEqual(decoder(ok, WIRE_HEADER, ok.length), { id: 1, email: 'a@example.com' });
    const bad = framed(3, '{"id":"one","email":"nope"}');
    assert.throws(
      () => decoder(bad, WIRE_HEADER, bad.length),
      /does not match its schema: .*\/id must be integer/,
    );
    assert.throws(() => decoder(bad, WIRE_HEADER, bad.length), /\/email must match format "email"/);
  });

  test('JSON that is not an object, or not JSON, fails', () => {
    const decoder = jsonSchemaDecoder('{}');
    for (const [text, reason] of [
      ['[1]', /an array, not a JSON object/],
      ['7', /a number, not a JSON object/],
      ['{"a":', /not valid JSON/],
    ] as const) {
      const v = framed(3, text);
      assert.throws(() => decoder(v, WIRE_HEADER, v.length), reason);
    }
  });

  test('two versions with the same $id compile side by side', () => {
    const v2 = { ...schema, required: ['id', 'email'] };
    const a = jsonSchemaDecoder(JSON.stringify(schema));
    const b = jsonSchemaDecoder(JSON.stringify(v2));
    const v = framed(3, '{"id":1}');
    assert.deepStrictEqual(a(v, WIRE_HEADER, v.length), { id: 1 });
    assert.throws(() => b(v, WIRE_HEADER, v.length), /missing required field 'email'/);
  });

  test('a schema Ajv cannot compile is refused', () => {
    assert.throws(() => jsonSchemaDecoder('{"type": 12}'), /not a JSON Schema Sluice can compile/);
  });
});

describe('schemas by format', () => {
  test('a schema of the other kind, or with references, is unusable', () => {
    const avroSchema = { id: 1, type: 'AVRO', schema: '"string"', references: [] };
    const jsonSchema = { id: 2, type: 'JSON', schema: '{}', references: [] };
    assert.throws(
      () => schemaCompiler('json_schema')(avroSchema),
      /is registered as AVRO, but the source's format json_schema reads JSON schemas/,
    );
    assert.throws(
      () => schemaCompiler('avro')(jsonSchema),
      /is registered as JSON, but the source's format avro reads AVRO schemas/,
    );
    assert.throws(
      () => schemaCompiler('avro')({ ...avroSchema, references: [{ name: 'x', subject: 's', version: 1 }] }),
      /schema references/,
    );
    assert.equal(typeof schemaCompiler('avro')(avroSchema), 'function');
  });

  test('basic auth goes in the Authorization header', () => {
    const h = registryHeaders({ url: 'http://r', username: 'key', password: 's3cret', timeoutMs: 1 });
    assert.equal(h.authorization, `Basic ${Buffer.from('key:s3cret').toString('base64')}`);
    assert.equal(registryHeaders({ url: 'http://r', timeoutMs: 1 }).authorization, undefined);
  });
});
