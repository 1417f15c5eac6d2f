/**
 * The `kafka` source's registry formats end to end, against the real broker and the real
 * Schema Registry: schemas registered over the registry's REST API, Confluent-framed values
 * produced to a topic, read back through the source as rows; poison records (not framed, an
 * unknown schema id, a truncated payload, a schema of the other kind, a JSON Schema violation)
 * as dead letters with their topic, partition and offset while the rest goes on.
 */

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { SluiceError, validateConfig } from '@sluice/core';
import avro from 'avsc';
import { framed, REGISTRY_URL, registerSchema, registryAvailable } from './schema-registry-test-support.ts';
import { kafkaSource } from './source.ts';
import {
  KAFKA_BROKER,
  kafkaAvailable,
  openKafkaReader,
  type ProducedRecord,
  produce,
  readUntil,
  Topics,
  uniqueName,
} from './test-support.ts';

const available = (await kafkaAvailable()) && (await registryAvailable());
const topics = new Topics();
after(() => topics.cleanup());

const payment = {
  type: 'record',
  name: 'Payment',
  namespace: 'sluice.test',
  fields: [
    { name: 'id', type: 'long' },
    { name: 'amount', type: { type: 'bytes', logicalType: 'decimal', precision: 10, scale: 2 } },
    { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'method', type: { type: 'enum', name: 'Method', symbols: ['CARD', 'CASH'] } },
    { name: 'note', type: ['null', 'string'], default: null },
    { name: 'receipt', type: 'bytes' },
  ],
};
const writer = avro.Type.forSchema(payment as never);

/** Payment `i` as written (the decimal as its unscaled bytes) and as the source should read it. */
function paymentOf(i: number) {
  const cents = 1000 + i;
  const unscaled = Buffer.alloc(4);
  unscaled.writeInt32BE(cents);
  return {
    written: {
      id: 1_000_000_000_000 + i,
      amount: unscaled,
      at: 1_700_000_000_000 + i,
      method: i % 2 ? 'CASH' : 'CARD',
      note: i % 3 ? null : `n${i}`,
      receipt: Buffer.from([i & 0xff]),
    },
    read: {
      id: 1_000_000_000_000 + i,
      amount: `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`,
      at: 1_700_000_000_000 + i,
      method: i % 2 ? 'CASH' : 'CARD',
      note: i % 3 ? null : `n${i}`,
      receipt: Buffer.from([i & 0xff]).toString('base64'),
    },
  };
}

describe('kafka source: registry formats', { skip: !available }, () => {
  test('avro: framed values become rows; poison records become failures with coordinates', async () => {
    const id = await registerSchema('avro-payments', payment);
    const name = await topics.create('avro', 2);
    const good = 30;
    const records: ProducedRecord[] = [];
    const expected = new Map<number, object>();
    for (let i = 0; i < good; i++) {
      const p = paymentOf(i);
      records.push({ partition: i % 2, key: `k${i}`, value: framed(id, writer.toBuffer(p.written)) });
      expected.set(1_000_000_000_000 + i, p.read);
    }
    const truncated = framed(id, writer.toBuffer(paymentOf(99).written).subarray(0, 6));
    // Poison, each on partition 1 after its good records: offsets 15, 16, 17.
    const poison = [
      { value: Buffer.from('{"id": 1}'), reason: /offset 15 is not in the Confluent wire format/ },
      {
        value: framed(2_000_000_001, Buffer.from([2])),
        reason: /offset 16 cannot be decoded: schema id 2000000001 is not in the schema registry/,
      },
      { value: truncated, reason: new RegExp(`offset 17 \\(schema id ${id}\\) is truncated Avro`) },
    ];
    for (const p of poison) records.push({ partition: 1, value: p.value });
    await produce(name, records);

    const reader = await openKafkaReader({
      topics: [name],
      group_id: uniqueName('avro-group'),
      format: 'avro',
      schema_registry: { url: REGISTRY_URL },
    });
    try {
      const got = await readUntil(
        reader,
        (c) => c.records.length + c.failures.length >= good + poison.length,
      );
      assert.equal(got.records.length, good);
      for (const row of got.records) {
        const { _kafka: meta, ...data } = row as { _kafka: { topic: string; key: string }; id: number };
        assert.deepStrictEqual(data, expected.get(data.id));
        assert.equal(meta.topic, name);
      }
      assert.equal(got.failures.length, poison.length);
      const failures = [...got.failures].sort((a, b) => Number(a.offset) - Number(b.offset));
      for (let i = 0; i < poison.length; i++) {
        const f = failures[i];
        assert.equal(f.partition, `${name}/1`);
        assert.equal(f.offset, 15 + i);
        assert.match(f.message, new RegExp(`^record at topic '${name}' partition 1 offset ${15 + i} `));
        assert.match(f.message, poison[i].reason);
        assert.equal(
          f.payload,
          poison[i].value.toString('base64'),
          'the dead letter carries the whole value',
        );
      }
      // Every record of partition 1 came in offset order with the failures interleaved correctly.
      const p1 = got.batches.filter((b) => b.partition === `${name}/1`).flatMap((b) => b.offsets ?? []);
      assert.deepEqual(
        p1,
        Array.from({ length: 15 }, (_, i) => i),
      );
    } finally {
      await reader.close();
    }
  });

  test('json_schema: valid objects become rows; violations and wrong schemas become failures', async () => {
    const schema = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      properties: { id: { type: 'integer' }, email: { type: 'string', format: 'email' } },
      required: ['id', 'email'],
    };
    const id = await registerSchema('json-users', schema, 'JSON');
    const avroId = await registerSchema('json-users-avro', payment);
    const name = await topics.create('json-schema', 1);
    const records: ProducedRecord[] = [
      { partition: 0, value: framed(id, JSON.stringify({ id: 1, email: 'a@example.com' })) },
      { partition: 0, value: framed(id, JSON.stringify({ id: 'two', email: 'b@example.com' })) },
      { partition: 0, value: framed(id, JSON.stringify({ id: 3 })) },
      { partition: 0, value: framed(avroId, writer.toBuffer(paymentOf(1).written)) },
      { partition: 0, value: framed(id, '[1, 2]') },
      { partition: 0, value: framed(id, JSON.stringify({ id: 6, email: 'f@example.com' })) },
    ];
    await produce(name, records);
    const reader = await openKafkaReader({
      topics: [name],
      group_id: uniqueName('json-group'),
      format: 'json_schema',
      include_metadata: false,
      schema_registry: { url: REGISTRY_URL },
    });
    try {
      const got = await readUntil(reader, (c) => c.records.length + c.failures.length >= records.length);
      assert.deepStrictEqual(got.records, [
        { id: 1, email: 'a@example.com' },
        { id: 6, email: 'f@example.com' },
      ]);
      const byOffset = new Map(got.failures.map((f) => [f.offset, f.message]));
      assert.deepEqual([...byOffset.keys()].sort(), [1, 2, 3, 4]);
      assert.match(
        byOffset.get(1) ?? '',
        /offset 1 \(schema id \d+\) does not match its schema: \/id must be integer/,
      );
      assert.match(byOffset.get(2) ?? '', /offset 2 .* missing required field 'email'/);
      assert.match(
        byOffset.get(3) ?? '',
        /offset 3 cannot be decoded: schema id \d+ is registered as AVRO, but the source's format json_schema reads JSON schemas/,
      );
      assert.match(byOffset.get(4) ?? '', /offset 4 .*an array, not a JSON object/);
    } finally {
      await reader.close();
    }
  });

  test('a registry URL that is not the API stops the source, without its password in the error', async () => {
    // The registry here has no authentication: a wrong base URL (404, not code 40403) is refused for good.
    const name = await topics.create('registry-url', 1);
    const id = await registerSchema('bad-url', payment);
    await produce(name, [{ partition: 0, value: framed(id, writer.toBuffer(paymentOf(0).written)) }]);
    const reader = await openKafkaReader({
      topics: [name],
      group_id: uniqueName('bad-url-group'),
      format: 'avro',
      schema_registry: {
        url: 'http://127.0.0.1:8081/apis',
        basic_auth: { username: 'u', password: 'hunter2-secret' },
      },
    });
    try {
      await assert.rejects(
        readUntil(reader, () => false),
        (err: unknown) => {
          assert.ok(err instanceof SluiceError, String(err));
          assert.equal(err.code, 'CONFIG_INVALID');
          assert.match(err.message, /schemas\/ids\/\d+ answered 404/);
          assert.doesNotMatch(err.message, /hunter2-secret/);
          return true;
        },
      );
    } finally {
      await reader.close();
    }
  });
});

describe('kafka source: registry format config', () => {
  const base = { brokers: [KAFKA_BROKER], topics: ['t'], group_id: 'g' };

  test('the registry password is marked secret', () => {
    const checked = validateConfig(kafkaSource.config, {
      ...base,
      format: 'avro',
      schema_registry: { url: 'http://r', basic_auth: { username: 'u', password: 'p' } },
    });
    assert.ok(checked.ok);
    const props = (kafkaSource.config as { properties: { [k: string]: unknown } }).properties;
    const registry = props.schema_registry as {
      properties: { basic_auth: { properties: { password: { secret?: boolean } } } };
    };
    assert.equal(registry.properties.basic_auth.properties.password.secret, true);
  });

  test('avro and json_schema need schema_registry.url, an http(s) URL without credentials', async () => {
    for (const [extra, message] of [
      [{ format: 'avro' }, /format avro reads schemas from a Schema Registry/],
      [{ format: 'json_schema', schema_registry: { url: 'ftp://r' } }, /not an http\(s\) URL/],
      [{ format: 'avro', schema_registry: { url: 'http://u:p@r' } }, /must not hold credentials/],
    ] as const) {
      await assert.rejects(openKafkaReader({ ...base, ...extra }), (err: unknown) => {
        assert.ok(err instanceof SluiceError);
        assert.equal(err.code, 'CONFIG_INVALID');
        assert.match(err.message, message);
        return true;
      });
    }
  });
});
