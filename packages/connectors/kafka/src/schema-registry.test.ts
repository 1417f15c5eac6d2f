/**
 * `SchemaResolver` against the real registry (Apicurio's Confluent-compatible API): schemas
 * fetched by id and compiled once, one request per id however many ask, an unknown id as a
 * permanent per-id failure, a URL that is not a registry as a configuration error, and an
 * unreachable registry retried until the reader gives up.
 */

import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { SluiceError } from '@sluice/core';
import avro from 'avsc';
import { schemaCompiler, type ValueDecoder, WIRE_HEADER } from './schema-decoders.ts';
import { type RegistrySettings, SchemaResolver } from './schema-registry.ts';
import { framed, REGISTRY_URL, registerSchema, registryAvailable } from './schema-registry-test-support.ts';
import { capturingLogger } from './test-support.ts';

const available = await registryAvailable();

const settings: RegistrySettings = { url: REGISTRY_URL, timeoutMs: 5_000 };
const never = new AbortController().signal;

function resolver(s: RegistrySettings = settings, log = capturingLogger()): SchemaResolver<ValueDecoder> {
  return new SchemaResolver(s, schemaCompiler('avro'), { log, step: 'in', secrets: [] });
}

describe('schema resolver against the registry', { skip: !available }, () => {
  const schema = {
    type: 'record',
    name: 'Reading',
    fields: [
      { name: 'sensor', type: 'string' },
      { name: 'value', type: 'double' },
    ],
  };
  let id: number;
  const requests: string[] = [];
  const realFetch = globalThis.fetch;

  before(async () => {
    id = await registerSchema('resolver', schema);
    // Count the requests that reach the registry (the real one answers them).
    globalThis.fetch = (input, init) => {
      requests.push(String(input));
      return realFetch(input, init);
    };
  });

  after(() => {
    globalThis.fetch = realFetch;
  });

  test('a schema is fetched once, however many ask for it at the same time, and decodes', async () => {
    const r = resolver();
    assert.equal(r.get(id), undefined, 'nothing known before resolve');
    requests.length = 0;
    await Promise.all([r.resolve([id], never), r.resolve([id, id], never), r.resolve([id], never)]);
    assert.deepEqual(requests, [`${REGISTRY_URL}/schemas/ids/${id}`]);
    await r.resolve([id], never);
    assert.equal(requests.length, 1, 'a known id is not fetched again');
    const entry = r.get(id);
    assert.ok(entry && 'ok' in entry, JSON.stringify(entry));
    const value = framed(id, avro.Type.forSchema(schema as never).toBuffer({ sensor: 's1', value: 2.5 }));
    assert.deepStrictEqual(entry.ok(value, WIRE_HEADER, value.length), { sensor: 's1', value: 2.5 });
  });

  test('an id the registry does not have is unusable for good, and not asked again', async () => {
    const r = resolver();
    const missing = 2_000_000_000;
    requests.length = 0;
    await r.resolve([missing], never);
    assert.deepEqual(r.get(missing), { error: `schema id ${missing} is not in the schema registry` });
    await r.resolve([missing], never);
    assert.equal(requests.length, 1);
  });

  test('a JSON Schema id is unusable for the avro format', async () => {
    const jsonId = await registerSchema('resolver-json', { type: 'object', properties: { a: {} } }, 'JSON');
    const r = resolver();
    await r.resolve([jsonId], never);
    const entry = r.get(jsonId);
    assert.ok(entry && 'error' in entry);
    assert.match(entry.error, /is registered as JSON, but the source's format avro reads AVRO schemas/);
  });

  test('a URL that is not the registry API fails as a configuration error', async () => {
    const r = resolver({ ...settings, url: 'http://127.0.0.1:8081/not-the-api' });
    await assert.rejects(r.resolve([id], never), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'CONFIG_INVALID');
      assert.equal(err.path, 'schema_registry.url');
      return true;
    });
  });
});

describe('schema resolver with the registry unreachable', () => {
  let port: number;
  before(async () => {
    // A port that was free a moment ago: connections to it are refused.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
    await new Promise((resolve) => server.close(resolve));
  });

  test('retries with backoff, logging each attempt, until the reader gives up', async () => {
    const log = capturingLogger();
    const r = resolver({ url: `http://127.0.0.1:${port}`, timeoutMs: 1_000 }, log);
    const closing = new AbortController();
    const done = r.resolve([1], closing.signal);
    const rejected = assert.rejects(done);
    // Bounded: each retry waits at most ~200 ms here; give up after three attempts.
    for (let i = 0; i < 200 && log.lines.filter((l) => l.level === 'warn').length < 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    closing.abort();
    await rejected;
    const warns = log.lines.filter((l) => l.level === 'warn');
    assert.ok(warns.length >= 3, `retried: ${JSON.stringify(log.lines)}`);
    assert.deepEqual(
      warns.slice(0, 3).map((w) => w.fields?.attempt),
      [1, 2, 3],
    );
    assert.match(String(warns[0].message), /schema registry unavailable; retrying/);
    assert.equal(r.get(1), undefined, 'nothing cached for an id never fetched');
  });
});
