/**
 * Views over a real HTTP server on loopback: point lookups, scans with pagination, ETags, an
 * updating stream folded by its key, dead letters for keyless records, the plan check of the
 * key, and a restart that serves the same view at the same offset.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { builtins, Job, parsePipelineYaml, Registry, resolvePlan } from '@sluice/core';
import { server } from './index.ts';
import { post, startServed, waitFor } from './test-support.ts';

const appendPipeline = (name: string) => `
name: ${name}
settings: { checkpoint: { interval: 0s, dir: {{dir}} } }
sources:
  in: { type: http_server, port: 0, path: /ingest, ack: memory }
sinks:
  latest: { type: view, name: sensors, key: [sensor] }
`;

interface RowAnswer {
  key: string;
  offset: number;
  row: { sensor: string; v: number };
}
interface ScanAnswer {
  view: string;
  offset: number;
  rows: RowAnswer[];
  next?: string;
}

const json = async <T>(res: Response): Promise<T> => {
  assert.equal(res.status, 200, `${res.url}: ${res.status}`);
  return (await res.json()) as T;
};

test('a view keeps the latest row per key: lookups, paginated scans, ranges, filters, ETags and dead letters', {
  timeout: 60_000,
}, async () => {
  const served = await startServed(appendPipeline('views-append'));
  try {
    const views = `${served.server.url}/api/views`;
    const sensors = Array.from({ length: 25 }, (_, i) => `s${String(i).padStart(2, '0')}`);
    const input = [
      ...sensors.map((sensor, i) => ({ sensor, v: i })),
      ...sensors.slice(0, 5).map((sensor, i) => ({ sensor, v: 100 + i })),
      { v: -1 },
      { sensor: { nested: true }, v: -2 },
    ];
    await post(served.ingest!, input);
    await waitFor(() => (served.job.metrics().recordsIn === input.length ? true : undefined));
    await waitFor(() => (served.job.metrics().sinks.latest.rejected === 2 ? true : undefined));

    const one = await json<RowAnswer>(await fetch(`${views}/sensors/s03`));
    assert.deepEqual(one.row, { sensor: 's03', v: 103 });
    assert.equal(one.offset, 29, 'the 29th change wrote it');
    const etag = (await fetch(`${views}/sensors/s03`)).headers.get('etag');
    assert.equal(etag, '"29"');
    const cached = await fetch(`${views}/sensors/s03`, { headers: { 'if-none-match': etag! } });
    assert.equal(cached.status, 304);
    const other = await fetch(`${views}/sensors/s03`, { headers: { 'if-none-match': '"28"' } });
    assert.equal(other.status, 200);
    await other.arrayBuffer();

    const missing = await fetch(`${views}/sensors/nope`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: string }).error, 'KEY_NOT_FOUND');
    const noView = await fetch(`${views}/nope/s03`);
    assert.equal(noView.status, 404);
    assert.match(((await noView.json()) as { message: string }).message, /views: sensors/);

    // Every row, ten at a time, in key order, each page after the last key of the previous.
    const seen: RowAnswer[] = [];
    let after: string | undefined;
    for (let page = 0; page < 10; page++) {
      const q = new URLSearchParams({ limit: '10', ...(after ? { after } : {}) });
      const scan = await json<ScanAnswer>(await fetch(`${views}/sensors?${q}`));
      assert.equal(scan.offset, 30);
      seen.push(...scan.rows);
      after = scan.next;
      if (after === undefined) break;
    }
    assert.deepEqual(
      seen.map((r) => r.key),
      sensors,
    );
    assert.deepEqual(
      seen.map((r) => r.row.v),
      sensors.map((_, i) => (i < 5 ? 100 + i : i)),
    );
    const prefixed = await json<ScanAnswer>(await fetch(`${views}/sensors?prefix=s1`));
    assert.deepEqual(
      prefixed.rows.map((r) => r.key),
      sensors.filter((s) => s.startsWith('s1')),
    );
    assert.equal(prefixed.next, undefined);

    // A key range [start, end), and a filter in the pipelines' expression language.
    const ranged = await json<ScanAnswer>(await fetch(`${views}/sensors?start=s08&end=s12`));
    assert.deepEqual(
      ranged.rows.map((r) => r.key),
      ['s08', 's09', 's10', 's11'],
    );
    const where = new URLSearchParams({ where: "v >= 100 AND sensor <> 's02'", limit: '3' });
    const filtered = await json<ScanAnswer>(await fetch(`${views}/sensors?${where}`));
    assert.deepEqual(
      filtered.rows.map((r) => r.row.v),
      [100, 101, 103],
    );
    assert.equal(filtered.next, 's03');
    where.set('after', filtered.next!);
    const rest = await json<ScanAnswer>(await fetch(`${views}/sensors?${where}`));
    assert.deepEqual(
      rest.rows.map((r) => r.row.v),
      [104],
    );
    // A row without the field is NULL for the condition: not matched, not an error.
    const absent = await json<ScanAnswer>(
      await fetch(`${views}/sensors?where=${encodeURIComponent('w = 1')}`),
    );
    assert.deepEqual(absent.rows, []);
    for (const bad of ['v >=', 'v + 1', "v > 'x' + 1"]) {
      const refused = await fetch(`${views}/sensors?where=${encodeURIComponent(bad)}`);
      assert.equal(refused.status, 400, bad);
      assert.match(((await refused.json()) as { message: string }).message, /^where: /, bad);
    }

    const scanned = await fetch(`${views}/sensors?prefix=s1`);
    const scanTag = scanned.headers.get('etag')!;
    await scanned.arrayBuffer();
    const unchanged = await fetch(`${views}/sensors?prefix=s1`, { headers: { 'if-none-match': scanTag } });
    assert.equal(unchanged.status, 304);
    await post(served.ingest!, [{ sensor: 's10', v: 7 }]);
    await waitFor(() => (served.job.metrics().sinks.latest.written === input.length - 1 ? true : undefined));
    const changed = await fetch(`${views}/sensors?prefix=s1`, { headers: { 'if-none-match': scanTag } });
    assert.equal(changed.status, 200, 'a change makes the old ETag stale');
    await changed.arrayBuffer();

    const bad = await fetch(`${views}/sensors?limit=5000`);
    assert.equal(bad.status, 400);
    await bad.arrayBuffer();

    const dead = served.job.recentDeadLetters();
    assert.equal(dead.length, 2);
    for (const d of dead) {
      assert.equal(d.step, 'latest');
      assert.match(d.message, /no scalar value for key field\(s\) 'sensor'/);
    }

    // A long key, with characters that need escaping in a path, is found too.
    const long = `${'ü/'.repeat(300)}end`;
    await post(served.ingest!, [{ sensor: long, v: 1 }]);
    await waitFor(() => (served.job.metrics().sinks.latest.written === input.length ? true : undefined));
    const found = await json<RowAnswer>(await fetch(`${views}/sensors/${encodeURIComponent(long)}`));
    assert.equal(found.row.sensor, long);
  } finally {
    await served.stop();
  }
});

const totalsPipeline = (key: string | undefined) => `
name: views-totals
settings: { checkpoint: { interval: 0s, dir: {{dir}} } }
sources:
  in: { type: http_server, port: 0, path: /ingest, ack: memory }
steps:
  - id: totals
    type: aggregate
    key: [region]
    fields: { orders: count(*), amount: sum(amount) }
sinks:
  by_region: { type: view${key === undefined ? '' : `, key: ${key}`} }
`;

test('a view of an updating stream holds each key’s latest result, and a restart serves the same view', {
  timeout: 60_000,
}, async () => {
  const served = await startServed(totalsPipeline('[region]'), {}, { keepDir: true });
  const input = [
    { region: 'eu', amount: 10 },
    { region: 'us', amount: 5 },
    { region: 'eu', amount: 7 },
    { region: 'apac', amount: 1 },
    { region: 'eu', amount: 3 },
  ];
  let before: ScanAnswer;
  try {
    await post(served.ingest!, input);
    const views = `${served.server.url}/api/views`;
    const eu = await waitFor(async () => {
      const res = await fetch(`${views}/by_region/eu`);
      if (res.status !== 200) {
        await res.arrayBuffer();
        return undefined;
      }
      const body = (await res.json()) as { row: { orders: number; amount: number } };
      return body.row.orders === 3 ? body : undefined;
    });
    assert.deepEqual(eu.row, { region: 'eu', orders: 3, amount: 20 });
    before = await json<ScanAnswer>(await fetch(`${views}/by_region`));
    assert.deepEqual(
      before.rows.map((r) => [r.key, r.row]),
      [
        ['apac', { region: 'apac', orders: 1, amount: 1 }],
        ['eu', { region: 'eu', orders: 3, amount: 20 }],
        ['us', { region: 'us', orders: 1, amount: 5 }],
      ],
    );
    // One change per record: an update-before followed by its update-after is one upsert.
    assert.equal(before.offset, input.length);
  } finally {
    await served.stop();
  }

  const again = await startServed(totalsPipeline('[region]'), {}, { dir: served.dir });
  try {
    const after = await json<ScanAnswer>(await fetch(`${again.server.url}/api/views/by_region`));
    assert.deepEqual(after, before);
  } finally {
    await again.stop();
  }
});

test('a view of an updating stream takes the unique key the plan knows; an append stream needs one', {
  timeout: 60_000,
}, async () => {
  const served = await startServed(totalsPipeline(undefined));
  try {
    const { views } = await json<{ views: { name: string; key: string[] }[] }>(
      await fetch(`${served.server.url}/api/views`),
    );
    assert.deepEqual(
      views.map((v) => [v.name, v.key]),
      [['by_region', ['region']]],
    );
    await post(served.ingest!, [
      { region: 'eu', amount: 2 },
      { region: 'eu', amount: 3 },
    ]);
    const eu = await waitFor(async () => {
      const res = await fetch(`${served.server.url}/api/views/by_region/eu`);
      if (res.status !== 200) {
        await res.arrayBuffer();
        return undefined;
      }
      const body = (await res.json()) as RowAnswer;
      return body.offset === 2 ? body : undefined;
    });
    assert.deepEqual(eu.row, { region: 'eu', orders: 2, amount: 5 });
  } finally {
    await served.stop();
  }

  const registry = new Registry([builtins, server]);
  const plan = parsePipelineYaml(
    appendPipeline('views-nokey')
      .replace('key: [sensor]', 'changes: 10')
      .replaceAll('{{dir}}', '/tmp/unused'),
    '/tmp/unused/p.yaml',
    { registry },
  );
  await assert.rejects(
    Job.validate(plan, { registry }),
    (err: Error & { code?: string }) => err.code === 'CONFIG_INVALID' && /needs `key`/.test(err.message),
  );
});

test('a view whose key leaves out the unique key of its updating input is refused by the plan check', {
  timeout: 60_000,
}, () => {
  const registry = new Registry([builtins, server]);
  const yaml = totalsPipeline('[amount]').replaceAll('{{dir}}', '/tmp/unused');
  const plan = parsePipelineYaml(yaml, '/tmp/unused/p.yaml', { registry });
  assert.throws(
    () => resolvePlan(plan, registry),
    (err: Error & { code?: string; path?: string }) =>
      err.code === 'PLAN_KEY_MISMATCH' && /region/.test(err.message),
  );
});
