/**
 * The `kafka` sink's registry formats: the config checks, and — against the real broker and the
 * real Schema Registry — sink → source round trips in both delivery modes, registration under
 * `<topic>-value`, and the registry's refusals (incompatible or invalid schema, wrong or
 * unreachable URL) at `open`. The encoders alone: `schema-encoders.test.ts`.
 */

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { type Row, type SinkRejection, SluiceError } from '@sluice/core';
import {
  payment,
  paymentRow,
  paymentText,
  REGISTRY_URL,
  registryAvailable,
  userSchema,
} from './schema-registry-test-support.ts';
import { kafkaSink } from './sink.ts';
import {
  capturingLogger,
  kafkaAvailable,
  openKafkaReader,
  readUntil,
  sinkConfig,
  sinkContext,
  Topics,
  uniqueName,
} from './test-support.ts';

const available = (await kafkaAvailable()) && (await registryAvailable());
const topics = new Topics();
after(() => topics.cleanup());

describe('kafka sink: registry format config', () => {
  const base = { topic: 't', schema_registry: { url: REGISTRY_URL } };
  const refused = (options: { [k: string]: unknown }, path: string, message: RegExp) =>
    assert.throws(
      () => kafkaSink.create(sinkConfig({ ...base, ...options })),
      (err: unknown) => {
        assert.ok(err instanceof SluiceError, String(err));
        assert.equal(err.code, 'CONFIG_INVALID');
        assert.equal(err.path, path);
        assert.match(err.message, message);
        return true;
      },
    );

  test('checked when the sink is created, without I/O', () => {
    refused(
      { format: 'avro', schema: paymentText, schema_registry: undefined },
      'schema_registry',
      /set schema_registry.url/,
    );
    refused(
      { format: 'json_schema', schema_registry: { url: 'ftp://r' }, schema: '{}' },
      'schema_registry.url',
      /not an http\(s\) URL/,
    );
    refused({ format: 'avro' }, 'schema', /format avro writes records with a schema/);
    refused({ format: 'avro', schema: '{"type": "record"' }, 'schema', /not valid JSON/);
    refused(
      { format: 'avro', schema: { type: 'record', name: 'R', fields: [{ name: 'a', type: 'nope' }] } },
      'schema',
      /not an Avro schema/,
    );
    refused({ format: 'json_schema', schema: '{"type": 12}' }, 'schema', /not a JSON Schema/);
    refused({ format: 'json', schema: paymentText }, 'schema', /applies to formats avro and json_schema/);
    // A path is read at open.
    assert.ok(kafkaSink.create(sinkConfig({ ...base, format: 'avro', schema: 'schemas/payment.avsc' })));
  });

  test('a schema file that cannot be read fails at open, before Kafka is asked', async () => {
    const sink = kafkaSink.create(sinkConfig({ ...base, format: 'avro', schema: 'no-such/payment.avsc' }));
    await assert.rejects(sink.open(sinkContext()), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'CONFIG_INVALID');
      assert.equal(err.path, 'schema');
      assert.equal(err.step, 'out');
      assert.match(err.message, /cannot read the schema file '.*no-such\/payment.avsc'/);
      return true;
    });
  });
});

/** The latest version of a subject: its schema id and text. */
async function latest(subject: string): Promise<{ id: number; schema: string; schemaType?: string }> {
  const res = await fetch(`${REGISTRY_URL}/subjects/${encodeURIComponent(subject)}/versions/latest`);
  assert.equal(res.status, 200, `subject ${subject}`);
  return (await res.json()) as { id: number; schema: string; schemaType?: string };
}

/** Opens a sink, writes `records` (one batch), commits when exactly-once, closes; returns the rejections. */
async function writeAll(
  config: { [k: string]: unknown },
  records: Row[],
): Promise<SinkRejection[] | undefined> {
  const sink = kafkaSink.create(sinkConfig({ schema_registry: { url: REGISTRY_URL }, ...config }));
  await sink.open(sinkContext({ pipeline: uniqueName('sr') }));
  try {
    const rejections = await sink.write({ records, times: records.map(() => Date.now()) });
    if (sink.prepareCommit) {
      await sink.prepareCommit(1);
      await sink.commit!(1);
    }
    return rejections;
  } finally {
    await sink.close();
  }
}

/** Reads `count` records of `topic` back through a `kafka` source in `format`. */
async function readBack(topic: string, format: string, count: number): Promise<Row[]> {
  const reader = await openKafkaReader({
    topics: [topic],
    group_id: uniqueName('sr-group'),
    format,
    include_metadata: false,
    schema_registry: { url: REGISTRY_URL },
  });
  try {
    const got = await readUntil(reader, (c) => c.records.length + c.failures.length >= count);
    assert.deepEqual(got.failures, []);
    return got.records;
  } finally {
    await reader.close();
  }
}

const byId = (rows: Row[]) => [...rows].sort((a, b) => Number(a.id) - Number(b.id));

describe('kafka sink: registry formats (real broker and registry)', { skip: !available }, () => {
  test('avro, at least once: registered under <topic>-value, read back equal; misfits rejected', async () => {
    const topic = await topics.create('sr-avro', 2);
    const records: Row[] = Array.from({ length: 20 }, (_, i) => paymentRow(i));
    records[3] = { ...records[3], _kafka: { topic: 'in', partition: 0, offset: 3 } };
    records.push({ ...paymentRow(20), amount: undefined }, { ...paymentRow(21), method: 'CHEQUE' });
    const rejections = await writeAll(
      { topic, key: 'CAST(id AS VARCHAR)', format: 'avro', schema: payment },
      records,
    );
    assert.deepEqual(
      rejections?.map((r) => r.index),
      [20, 21],
    );
    assert.match(rejections?.[0].message ?? '', /field `amount` is missing/);
    assert.match(rejections?.[1].message ?? '', /field `method`: "CHEQUE"/);
    const registered = await latest(`${topic}-value`);
    assert.deepEqual(JSON.parse(registered.schema), payment);
    const rows = await readBack(topic, 'avro', 20);
    assert.deepStrictEqual(
      byId(rows),
      Array.from({ length: 20 }, (_, i) => paymentRow(i)),
    );
  });

  test('json_schema, exactly once: read back equal by a read_committed source; violations rejected', async () => {
    const topic = await topics.create('sr-json', 1);
    const records: Row[] = [
      { id: 1, email: 'a@example.com' },
      { id: 'two', email: 'b@example.com' },
      { id: 3, email: 'c@example.com', _kafka: { topic: 'in', partition: 0, offset: 3 } },
      { id: 4 },
      { id: 5, email: 'e@example.com', extra: [1, { deep: true }] },
    ];
    const rejections = await writeAll(
      { topic, format: 'json_schema', schema: JSON.stringify(userSchema), delivery: 'exactly_once' },
      records,
    );
    assert.deepEqual(
      rejections?.map((r) => r.index),
      [1, 3],
    );
    assert.match(rejections?.[0].message ?? '', /\/id must be integer/);
    assert.match(rejections?.[1].message ?? '', /missing required field 'email'/);
    const registered = await latest(`${topic}-value`);
    assert.equal(registered.schemaType, 'JSON');
    assert.deepStrictEqual(await readBack(topic, 'json_schema', 3), [
      { id: 1, email: 'a@example.com' },
      { id: 3, email: 'c@example.com' },
      { id: 5, email: 'e@example.com', extra: [1, { deep: true }] },
    ]);
  });

  test('the same schema again, from a file and under a chosen subject, keeps its id', async () => {
    const topic = await topics.create('sr-file', 1);
    const dir = mkdtempSync(join(tmpdir(), 'sluice-sr-'));
    writeFileSync(join(dir, 'payment.avsc'), JSON.stringify(payment, null, 2));
    const subject = uniqueName('sr-subject');
    const ids: number[] = [];
    for (const schema of [payment, 'payment.avsc']) {
      const log = capturingLogger();
      const sink = kafkaSink.create(
        sinkConfig({ topic, format: 'avro', schema, subject, schema_registry: { url: REGISTRY_URL } }),
      );
      await sink.open({ ...sinkContext({ log }), baseDir: dir });
      assert.equal(await sink.write({ records: [paymentRow(ids.length)], times: [Date.now()] }), undefined);
      await sink.close();
      const line = log.lines.find((l) => l.message === 'kafka sink: schema registered');
      ids.push(line?.fields?.schema_id as number);
    }
    assert.equal(ids[0], ids[1]);
    assert.equal((await latest(subject)).id, ids[0]);
    assert.deepStrictEqual(byId(await readBack(topic, 'avro', 2)), [paymentRow(0), paymentRow(1)]);
  });

  test('the registry refusing the schema, or a wrong URL, fails open with CONFIG_INVALID at the right path', async () => {
    const topic = await topics.create('sr-refused', 1);
    await writeAll({ topic, format: 'avro', schema: payment }, []);
    const put = await fetch(`${REGISTRY_URL}/config/${encodeURIComponent(`${topic}-value`)}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ compatibility: 'BACKWARD' }),
    });
    assert.equal(put.status, 200);
    const incompatible = { ...payment, fields: [{ name: 'id', type: 'string' }, ...payment.fields.slice(1)] };
    // An anonymous record: avsc compiles it, the registry's Avro parser refuses it (422).
    const anonymous = { type: 'record', fields: [{ name: 'id', type: 'long' }] };
    const cases: [{ [k: string]: unknown }, string, RegExp][] = [
      [
        { schema: incompatible },
        'schema',
        /incompatible with the earlier versions of subject '.*-value' \(409/,
      ],
      [
        { schema: anonymous, subject: uniqueName('sr-anon') },
        'schema',
        /refused the schema .* as invalid \(422/,
      ],
      [
        {
          schema: payment,
          schema_registry: {
            url: 'http://127.0.0.1:8081/apis',
            basic_auth: { username: 'u', password: 'hunter2-secret' },
          },
        },
        'schema_registry.url',
        /answered 404/,
      ],
    ];
    for (const [options, path, message] of cases) {
      const sink = kafkaSink.create(
        sinkConfig({ topic, format: 'avro', schema_registry: { url: REGISTRY_URL }, ...options }),
      );
      await assert.rejects(sink.open(sinkContext()), (err: unknown) => {
        assert.ok(err instanceof SluiceError, String(err));
        assert.equal(err.code, 'CONFIG_INVALID');
        assert.equal(err.path, path);
        assert.match(err.message, message);
        assert.doesNotMatch(err.message, /hunter2-secret/);
        return true;
      });
      await sink.close();
    }
  });

  test('an unreachable registry is retried with backoff, then SINK_UNAVAILABLE', async () => {
    const log = capturingLogger();
    const sink = kafkaSink.create(
      sinkConfig({
        topic: 'unused',
        format: 'avro',
        schema: payment,
        schema_registry: { url: 'http://127.0.0.1:1', timeout: '1s' },
        retry: { max_attempts: 3, initial_backoff: '10ms', max_backoff: '20ms' },
      }),
    );
    await assert.rejects(sink.open(sinkContext({ log })), (err: unknown) => {
      assert.ok(err instanceof SluiceError, String(err));
      assert.equal(err.code, 'SINK_UNAVAILABLE');
      assert.match(err.message, /cannot register the schema of subject 'unused-value' after 3 attempts/);
      return true;
    });
    await sink.close();
    assert.equal(
      log.lines.filter((l) => l.message === 'kafka sink: schema registry unavailable; retrying').length,
      2,
    );
  });
});
