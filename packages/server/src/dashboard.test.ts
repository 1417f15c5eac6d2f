/**
 * The dashboard in a real headless Chromium (Debian's `chromium`, driven by playwright-core):
 * the page loads from the server, draws the step graph, the view charts and tables, updates after
 * new input without a reload, replays a dead letter after its cause was fixed, and its screenshot
 * is a drawn page of the expected size. Without /usr/bin/chromium the test says why it skips;
 * under CI=true that is a failure (.ci/run installs it).
 */

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { test } from 'node:test';
import { reportMissingService } from '@sluice/core/testing';
import { chromium } from 'playwright-core';
import { post, startServed, waitFor } from './test-support.ts';
import { colourCount, readPng } from './test-support-png.ts';

const CHROMIUM = '/usr/bin/chromium';
/** Without the background-networking flags Chromium keeps calling out to a network it cannot reach. */
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const pipeline = (lookup: string) => `
name: dashboard-test
settings: { checkpoint: { interval: 1s, dir: {{dir}} } }
sources:
  orders:
    type: http_server
    port: 0
    path: /ingest
    ack: memory
    event_time: { field: ts, max_out_of_orderness: 0s }
steps:
  - id: enrich
    type: lookup
    input: orders
    table: { type: http, url: "${lookup}/regions/{key}" }
    key: region
    as: info
    on_miss: dead_letter
    cache: { ttl: 0s }
    fields: { region: orders.region, amount: orders.amount, country: info.country }
  - id: per_minute
    type: aggregate
    input: enrich
    key: [region]
    window: { type: tumbling, size: 1m }
    fields: { orders: count(*), revenue: sum(amount) }
  - id: totals
    type: aggregate
    input: enrich
    key: [region]
    fields: { revenue: sum(amount) }
sinks:
  series: { type: view, input: per_minute }
  top: { type: view, input: totals }
`;

/** A regions API on loopback: the rows of `known`, 404 for the rest (a lookup miss). */
async function regionsApi(known: Set<string>): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const region = decodeURIComponent(req.url?.split('/').pop() ?? '');
    if (!known.has(region)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ country: region.toUpperCase() }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, server };
}

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

test('the dashboard draws the pipeline, updates live and replays a dead letter', {
  timeout: 120_000,
}, async (t) => {
  if (!existsSync(CHROMIUM)) {
    reportMissingService(`${CHROMIUM} not installed (apt-get install chromium)`);
    t.skip('chromium not installed');
    return;
  }
  const known = new Set(['eu', 'us']);
  const api = await regionsApi(known);
  const served = await startServed(pipeline(api.url), { tokens: { admin: 'admin-secret' } }).catch((err) => {
    api.server.close();
    throw err;
  });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(served.server.url);
    await page.locator('#status', { hasText: 'running' }).waitFor();
    // A marker the page keeps only as long as it is not reloaded.
    await page.evaluate('window.marker = 42');

    await post(served.ingest!, [
      { region: 'eu', amount: 5, ts: T0 },
      { region: 'us', amount: 7, ts: T0 + 1_000 },
      { region: 'eu', amount: 3, ts: T0 + 61_000 },
      { region: 'xx', amount: 9, ts: T0 + 62_000 },
      { region: 'us', amount: 1, ts: T0 + 130_000 },
    ]);
    // The graph shows every node, with the lookup's input counted.
    for (const id of ['orders', 'enrich', 'per_minute', 'totals', 'series', 'top'])
      await page.locator(`#graph g[data-node="${id}"]`).waitFor();
    await page.locator('#graph g[data-node="enrich"] text.counts', { hasText: 'total 5' }).waitFor();
    // After a checkpoint: the aggregate's state and keys, and the view sink's write p99.
    await page
      .locator('#graph g[data-node="totals"] text.state', { hasText: /^state [\d.]+ (B|KiB) · \d+ keys$/ })
      .waitFor();
    await page.locator('#graph g[data-node="top"] text.state', { hasText: /write p99 [\d.]+ ms$/ }).waitFor();
    // The top-N table of `top`: eu (8) above us (8 → tie broken by key order) — check values.
    const topRow = (key: string) => page.locator(`.view[data-view="top"] tr[data-key="${key}"]`);
    await topRow('eu').locator('td', { hasText: '8' }).waitFor();
    await topRow('us').locator('td', { hasText: '8' }).waitFor();
    // The window series of `series`: two closed windows drawn by uPlot.
    await page.locator('.view[data-view="series"] .uplot canvas').waitFor();
    await page.locator('.view[data-view="series"] tr[data-key]').nth(2).waitFor();
    // The dead letter, with its reason.
    const letter = page.locator('#dead-letters tr[data-dead-letter]', { hasText: 'LOOKUP_MISS' });
    await letter.waitFor();
    const id = Number(await letter.getAttribute('data-dead-letter'));
    assert.equal(served.job.numberedDeadLetters().at(-1)?.letter.code, 'LOOKUP_MISS');

    // A live update after new input, without a reload.
    await post(served.ingest!, [{ region: 'eu', amount: 100, ts: T0 + 131_000 }]);
    await topRow('eu').locator('td', { hasText: '108' }).waitFor();
    assert.equal(await page.evaluate('window.marker'), 42);

    // The fix (the API learns region xx), then the replay from the page with the admin token.
    known.add('xx');
    await page.fill('#admin-token', 'admin-secret');
    await page.dispatchEvent('#admin-token', 'change');
    await page.check(`#dead-letters input[data-id="${id}"]`);
    await page.click('#replay');
    await page.locator('#replay-result', { hasText: 'replayed 1' }).waitFor();
    await topRow('xx').locator('td', { hasText: '9' }).waitFor();
    const xx = await waitFor(async () => {
      const res = await fetch(`${served.server.url}/api/views/top/xx`);
      return res.status === 200 ? ((await res.json()) as { row: { revenue: number } }) : undefined;
    });
    assert.equal(xx.row.revenue, 9);
    // Replaying the same letter again is refused.
    const again = await fetch(`${served.server.url}/api/dead-letters/replay`, {
      method: 'POST',
      headers: { authorization: 'Bearer admin-secret', 'content-type': 'application/json' },
      body: JSON.stringify({ ids: [id] }),
    });
    assert.deepEqual(await again.json(), { replayed: [], refused: [{ id, reason: 'already replayed' }] });

    // The screenshot: the expected size, the graph visible, and a drawn (not blank) page.
    await page.evaluate('window.scrollTo(0, 0)');
    assert.ok(await page.locator('#graph svg').isVisible());
    const shot = readPng(await page.screenshot({ path: process.env.SLUICE_DASHBOARD_SHOT }));
    assert.equal(shot.width, 1280);
    assert.equal(shot.height, 1000);
    assert.ok(colourCount(shot) > 50, `only ${colourCount(shot)} colours: a blank page?`);
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    await served.stop();
    api.server.close();
  }
});
