/**
 * The OpenAPI document of a served job: its structure (every operation answers something, every
 * `$ref` resolves, path parameters are declared), the row schema of each view taken from the
 * plan's inferred types, and every route it lists answering on the real server.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { post, startServed, waitFor } from './test-support.ts';

const pipeline = `
name: openapi-test
settings: { checkpoint: { interval: 0s, dir: {{dir}} } }
sources:
  in: { type: http_server, port: 0, path: /ingest, ack: memory }
steps:
  - id: totals
    type: aggregate
    key: [region]
    fields: { orders: count(*), revenue: sum(amount) }
sinks:
  by_region: { type: view }
`;

const admin = { authorization: 'Bearer adm' };

interface Operation {
  summary: string;
  parameters?: { name: string; in: string; required?: boolean }[];
  responses: { [status: string]: unknown };
}
interface Document {
  openapi: string;
  info: { title: string; version: string };
  paths: { [path: string]: { [method: string]: Operation } };
  components: {
    schemas: { [name: string]: { type?: string; properties?: { [f: string]: { type?: unknown } } } };
  };
}

/** Every `$ref` in `value`. */
function refs(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) refs(v, out);
  else if (typeof value === 'object' && value !== null)
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refs(v, out);
    }
  return out;
}

test('the OpenAPI document describes the views with their inferred row schemas, and every route it lists answers', {
  timeout: 60_000,
}, async () => {
  const served = await startServed(pipeline, { tokens: { admin: 'adm' } });
  try {
    await post(served.ingest!, [
      { region: 'eu', amount: 5 },
      { region: 'us', amount: 2 },
    ]);
    await waitFor(() => (served.job.metrics().sinks.by_region.written >= 2 ? true : undefined));
    const res = await fetch(`${served.server.url}/api/openapi.json`);
    assert.equal(res.status, 200);
    const doc = (await res.json()) as Document;

    assert.equal(doc.openapi, '3.1.0');
    assert.match(doc.info.title, /openapi-test/);
    for (const ref of refs(doc)) {
      const name = ref.replace('#/components/schemas/', '');
      assert.ok(doc.components.schemas[name], `${ref} resolves`);
    }
    const row = doc.components.schemas.by_region_row;
    assert.equal(row.type, 'object');
    // The source's records are of unknown shape: region is known by name, its type is not.
    assert.deepEqual(row.properties?.region, {});
    assert.deepEqual(row.properties?.orders.type, ['number', 'null']);
    assert.ok(row.properties?.revenue, 'revenue is described');

    const answered: string[] = [];
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        assert.ok(op.summary, `${method} ${path} has a summary`);
        assert.ok(Object.keys(op.responses).length > 0, `${method} ${path} lists responses`);
        const declared = (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
        const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
        assert.deepEqual(declared, inPath, `${method} ${path} declares its path parameters`);
        if (path === '/api/job/stop') continue; // last, below
        const url = `${served.server.url}${path.replace('{key}', 'eu')}`;
        const init: RequestInit =
          method === 'post'
            ? path.endsWith('/replay')
              ? {
                  method: 'POST',
                  headers: { ...admin, 'content-type': 'application/json' },
                  body: JSON.stringify({ ids: [999] }),
                }
              : { method: 'POST', headers: admin }
            : {};
        const answer = await fetch(url, init);
        assert.ok(
          String(answer.status) in op.responses,
          `${method} ${path} answered ${answer.status}, which it does not list`,
        );
        assert.ok(answer.status < 300, `${method} ${path} answered ${answer.status}`);
        await answer.body?.cancel();
        answered.push(`${method} ${path}`);
      }
    }
    assert.ok(answered.includes('get /api/views/by_region/{key}'));
    assert.ok(answered.includes('get /api/views/by_region/changes'));
    const stop = await fetch(`${served.server.url}/api/job/stop`, { method: 'POST', headers: admin });
    assert.equal(stop.status, 202);
  } finally {
    await served.stop();
  }
});
