/**
 * No secret reaches a response, a log line or the dashboard: a served pipeline whose config holds
 * passwords in connection URLs, header tokens and `${VAR}` values, and whose server has read and
 * admin tokens, is driven through lookups that miss, a sink that refuses records and an upstream
 * that fails once (so errors, retries and dead letters carry its URLs), then every GET route is
 * read — with the right token, a wrong one and none — and every byte of every answer, header and
 * log line is searched for each secret.
 */

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { createLogger } from '@sluice/core';
import { startServed, waitFor } from './test-support.ts';

const secrets = {
  read: 'read-tok-5eKr1t',
  admin: 'admin-tok-9xQv',
  ingest: 'ingest-tok-Zq7w',
  lookupPassword: 'lookup-pw-Hh3k',
  lookupKey: 'lookup-key-Pp8m',
  sinkPassword: 'sink-pw-Ww2n',
  sinkToken: 'sink-tok-Mm4r',
};

test('no secret of the pipeline or the server appears in any response or log line', {
  timeout: 60_000,
}, async () => {
  // The upstream of the lookup and of the http sink: eu is known, anything else a miss; the sink's
  // first request fails (retried), records marked `refuse` are refused for good.
  let sinkRequests = 0;
  const upstream = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      if (req.url === '/regions/eu') return res.writeHead(200).end('{"country":"FR"}');
      if (req.url?.startsWith('/regions/')) return res.writeHead(404).end();
      sinkRequests++;
      if (sinkRequests === 1) return res.writeHead(503, { 'retry-after': '0' }).end('busy');
      if (body.includes('refuse')) return res.writeHead(400).end('refused');
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const port = (upstream.address() as AddressInfo).port;
  process.env.SLUICE_TEST_INGEST_TOKEN = secrets.ingest;
  process.env.SLUICE_TEST_LOOKUP_KEY = secrets.lookupKey;
  process.env.SLUICE_TEST_SINK_TOKEN = secrets.sinkToken;
  const pipeline = `
name: secrets
settings: { checkpoint: { interval: 0s, dir: {{dir}} } }
sources:
  orders: { type: http_server, port: 0, path: /ingest, ack: memory, token: "\${SLUICE_TEST_INGEST_TOKEN}" }
steps:
  - id: enrich
    type: lookup
    input: orders
    table:
      type: http
      url: "http://lookup:${secrets.lookupPassword}@127.0.0.1:${port}/regions/{key}"
      headers: { x-api-key: "\${SLUICE_TEST_LOOKUP_KEY}" }
    key: region
    as: info
    on_miss: dead_letter
    fields: { region: orders.region, amount: orders.amount, note: orders.note, country: info.country }
sinks:
  out:
    type: http
    url: "http://writer:${secrets.sinkPassword}@127.0.0.1:${port}/out"
    headers: { authorization: "Bearer \${SLUICE_TEST_SINK_TOKEN}" }
    batch_size: 1
  latest: { type: view, key: [region] }
`;
  const logs: string[] = [];
  const log = createLogger({ level: 'debug', format: 'json', write: (line) => logs.push(line) });
  const served = await startServed(
    pipeline,
    { tokens: { read: secrets.read, admin: secrets.admin } },
    { log },
  ).catch(async (err) => {
    upstream.close();
    throw err;
  });
  const seen: { what: string; text: string }[] = [];
  try {
    const ingest = async (records: unknown[], token = secrets.ingest) => {
      const res = await fetch(served.ingest!, {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson', authorization: `Bearer ${token}` },
        body: records.map((r) => JSON.stringify(r)).join('\n'),
      });
      seen.push({ what: `POST ingest → ${res.status}`, text: `${headersText(res)}\n${await res.text()}` });
      return res.status;
    };
    assert.equal(await ingest([{ region: 'eu', amount: 1 }], 'wrong'), 401);
    assert.equal(
      await ingest([
        { region: 'eu', amount: 1, note: 'ok' },
        { region: 'xx', amount: 2, note: 'ok' },
        { region: 'eu', amount: 3, note: 'refuse' },
        { region: 'eu', amount: 4, note: 'ok' },
      ]),
      202,
    );
    await waitFor(() => {
      const m = served.job.metrics();
      return m.sinks.out.written + m.sinks.out.rejected === 3 && m.steps.enrich.dead === 1 ? true : undefined;
    });
    // What the secrets could leak through: a lookup miss and a sink refusal as dead letters, and
    // a retried request in the log.
    assert.equal(served.job.metrics().sinks.out.rejected, 1);
    assert.ok(sinkRequests >= 4, 'the failed request was retried');

    const { url } = served.server;
    const auth = (token: string) => ({ authorization: `Bearer ${token}` });
    const read = async (path: string, headers: { [k: string]: string } = auth(secrets.read)) => {
      const res = await fetch(`${url}${path}`, { headers });
      const text = await res.text();
      seen.push({ what: `GET ${path} → ${res.status}`, text: `${headersText(res)}\n${text}` });
      return { status: res.status, text };
    };
    const checkpoint = await fetch(`${url}/api/checkpoints`, {
      method: 'POST',
      headers: auth(secrets.admin),
    });
    seen.push({
      what: 'POST /api/checkpoints',
      text: `${headersText(checkpoint)}\n${await checkpoint.text()}`,
    });
    assert.equal(checkpoint.status, 200);

    const routes = [
      '/',
      '/dashboard/dashboard.js',
      '/dashboard/graph.js',
      '/dashboard/charts.js',
      '/dashboard/dashboard.css',
      '/dashboard/vendor/uPlot.esm.js',
      '/dashboard/vendor/uPlot.min.css',
      '/api/job',
      '/api/steps',
      '/api/checkpoints',
      '/api/dead-letters',
      '/api/views',
      '/api/views/latest',
      '/api/views/latest/eu',
      '/api/openapi.json',
      '/metrics',
    ];
    for (const path of routes) assert.equal((await read(path)).status, 200, path);
    const letters = JSON.parse((await read('/api/dead-letters')).text) as {
      deadLetters: { step: string; message: string }[];
    };
    assert.deepEqual(letters.deadLetters.map((d) => d.step).sort(), ['enrich', 'out']);
    // Without a token, with a wrong one, an unknown route and view: the error answers too.
    for (const path of ['/api/job', '/metrics', '/api/views/latest']) {
      assert.equal((await read(path, {})).status, 401);
      assert.equal((await read(path, auth('wrong'))).status, 401);
    }
    assert.equal((await read('/api/nope')).status, 404);
    assert.equal((await read('/api/views/nope')).status, 404);
    // The change stream, read until its first changes.
    const stream = await fetch(`${url}/api/views/latest/changes?from=1`, { headers: auth(secrets.read) });
    const reader = stream.body!.getReader();
    let sse = '';
    while (!sse.includes('event: change')) {
      const { done, value } = await reader.read();
      if (done) break;
      sse += new TextDecoder().decode(value);
    }
    assert.match(sse, /event: change/);
    await reader.cancel();
    seen.push({ what: 'GET changes', text: `${headersText(stream)}\n${sse}` });
  } finally {
    await served.stop();
    await new Promise((resolve) => upstream.close(resolve));
  }
  assert.ok(logs.length > 0);
  assert.ok(
    logs.some((l) => l.includes(`127.0.0.1:${port}`)),
    'a log line names the upstream (the retry), so its credentials were there to leak',
  );
  for (const l of logs) seen.push({ what: 'log line', text: l });
  for (const [name, secret] of Object.entries(secrets)) {
    for (const { what, text } of seen)
      assert.ok(!text.includes(secret), `${name} appears in ${what}: ${excerpt(text, secret)}`);
  }
});

function headersText(res: Response): string {
  return [...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n');
}

function excerpt(text: string, secret: string): string {
  const at = text.indexOf(secret);
  return text.slice(Math.max(0, at - 200), at + secret.length + 100);
}
