/**
 * The dashboard: reads the operations API and the views once a second (with the tokens typed in,
 * kept for the browser tab only) and redraws the graph, the charts and the tables in place.
 */

import { el, SeriesChart, ViewPanel } from './charts.js';
import { drawGraph, duration } from './graph.js';

const POLL_MS = 1000;
const HISTORY = 120;

const $ = (id) => document.getElementById(id);
const tokens = {
  read: sessionStorage.getItem('sluice.read') ?? '',
  admin: sessionStorage.getItem('sluice.admin') ?? '',
};
$('read-token').value = tokens.read;
$('admin-token').value = tokens.admin;
for (const group of ['read', 'admin']) {
  $(`${group}-token`).addEventListener('change', (e) => {
    tokens[group] = e.target.value;
    sessionStorage.setItem(`sluice.${group}`, tokens[group]);
    refreshReplayButton();
  });
}

/** GETs an API path as JSON with the read token (the admin token when only that is set). */
async function api(path, init = {}) {
  const token = init.method === 'POST' ? tokens.admin : tokens.read || tokens.admin;
  const headers = { ...(init.headers ?? {}) };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(path, { ...init, headers });
  if (res.status === 304) return { status: 304 };
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    const error = new Error(body.message ?? `${path} answered ${res.status}`);
    error.status = res.status;
    throw error;
  }
  return { status: res.status, body, etag: res.headers.get('etag') };
}

const throughput = new SeriesChart($('throughput'), ['in', 'out'], { width: 480, height: 180 });
const history = { t: [], in: [], out: [] };
const panels = new Map();
const viewTags = new Map();
const selected = new Set();

function showSummary(job) {
  $('pipeline').textContent = job.pipeline;
  $('status').textContent = job.status;
  $('uptime').textContent = duration(job.uptimeMs);
  $('records-in').textContent = job.totals.recordsIn.toLocaleString('en');
  $('dead-total').textContent = job.totals.deadLetters.toLocaleString('en');
  $('watermark-lag').textContent = duration(job.watermarkLagMs);
  $('checkpoint-age').textContent =
    job.lastCheckpoint === null
      ? 'none'
      : `#${job.lastCheckpoint.id}, ${duration(Date.now() - job.lastCheckpoint.completedAt)} ago`;
}

function showThroughput(nodes) {
  const sum = (kind, pick) => nodes.filter((n) => n.kind === kind).reduce((a, n) => a + pick(n), 0);
  history.t.push(Date.now() / 1000);
  history.in.push(sum('source', (n) => n.rates.inPerSec));
  history.out.push(sum('sink', (n) => n.rates.outPerSec));
  for (const k of ['t', 'in', 'out']) if (history[k].length > HISTORY) history[k].shift();
  throughput.set(history.t, [history.in, history.out]);
}

function showCheckpoints(list) {
  const rows = list
    .slice(0, 10)
    .map((c) =>
      el(
        'tr',
        {},
        el('td', { class: 'num' }, c.id),
        el('td', {}, new Date(c.completedAt).toLocaleTimeString()),
        el('td', { class: 'num' }, duration(c.durationMs)),
        el('td', { class: 'num' }, c.bytes.toLocaleString('en')),
      ),
    );
  $('checkpoints').tBodies[0].replaceChildren(...rows);
}

function showDeadLetters(letters) {
  const rows = letters.map((d) => {
    const box = el('input', {
      type: 'checkbox',
      'data-id': d.id,
      'aria-label': `select dead letter ${d.id}`,
    });
    box.checked = selected.has(d.id);
    box.addEventListener('change', () => {
      if (box.checked) selected.add(d.id);
      else selected.delete(d.id);
      refreshReplayButton();
    });
    const payload = typeof d.payload === 'string' ? d.payload : JSON.stringify(d.payload);
    return el(
      'tr',
      { 'data-dead-letter': d.id },
      el('td', {}, box),
      el('td', { class: 'num' }, d.id),
      el('td', {}, d.step),
      el('td', {}, d.code),
      el('td', {}, d.message),
      el('td', {}, el('code', {}, payload.length > 200 ? `${payload.slice(0, 200)}…` : payload)),
    );
  });
  $('dead-letters').tBodies[0].replaceChildren(...rows);
}

function refreshReplayButton() {
  $('replay').disabled = selected.size === 0 || tokens.admin === '';
  $('replay').title = tokens.admin === '' ? 'replay needs the admin token' : '';
}

$('replay').addEventListener('click', async () => {
  const ids = [...selected];
  try {
    const { body } = await api('/api/dead-letters/replay', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ids }),
    });
    selected.clear();
    const refused = body.refused.map((r) => `#${r.id}: ${r.reason}`).join('; ');
    $('replay-result').textContent =
      `replayed ${body.replayed.length}${refused ? `; refused ${refused}` : ''}`;
  } catch (err) {
    $('replay-result').textContent = `replay failed: ${err.message}`;
  }
  refreshReplayButton();
});

async function showViews(views) {
  for (const view of views) {
    if (!panels.has(view.name)) panels.set(view.name, new ViewPanel($('views'), view));
    const tag = viewTags.get(view.name);
    const res = await api(`/api/views/${encodeURIComponent(view.name)}?limit=1000`, {
      headers: tag ? { 'if-none-match': tag } : {},
    });
    if (res.status === 304) continue;
    viewTags.set(view.name, res.etag);
    panels.get(view.name).update(res.body.rows, res.body.offset);
  }
}

async function poll() {
  try {
    const [job, steps, checkpoints, dead, views] = await Promise.all([
      api('/api/job'),
      api('/api/steps'),
      api('/api/checkpoints'),
      api('/api/dead-letters?limit=50'),
      api('/api/views'),
    ]);
    showSummary(job.body);
    drawGraph($('graph'), steps.body.nodes);
    showThroughput(steps.body.nodes);
    showCheckpoints(checkpoints.body.checkpoints);
    showDeadLetters(dead.body.deadLetters);
    await showViews(views.body.views);
    $('error').hidden = true;
    $('updated').textContent = new Date().toLocaleTimeString();
    document.body.dataset.updates = String(Number(document.body.dataset.updates ?? 0) + 1);
  } catch (err) {
    $('error').hidden = false;
    $('error').textContent =
      err.status === 401
        ? 'This server needs a read token: type it above.'
        : `Cannot read the API: ${err.message}`;
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

refreshReplayButton();
poll();
