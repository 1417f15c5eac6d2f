/**
 * The Grafana dashboard in `grafana/sluice-pipelines.json` against what exists: every metric its
 * Prometheus queries name is one a served job exports (histograms by their _bucket, _sum and
 * _count series), every label they group by is one of that metric's labels, and every
 * PostgreSQL query reads a results table and columns that a pipeline of the repository writes
 * (examples/orders-to-postgres). The dashboard's own structure is checked too: unique panel ids,
 * datasources that are inputs, grid positions.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';
import { post, startServed, waitFor } from './test-support.ts';

const root = new URL('../../../', import.meta.url);
const dashboard = JSON.parse(
  readFileSync(new URL('packages/server/grafana/sluice-pipelines.json', root), 'utf8'),
) as {
  __inputs: { name: string; pluginId: string }[];
  templating: { list: { query: { query: string } }[] };
  panels: {
    id: number;
    title: string;
    datasource: { uid: string };
    gridPos: { x: number; y: number; w: number; h: number };
    targets: { expr?: string; rawSql?: string; datasource: { uid: string } }[];
  }[];
};

const pipeline = `
name: grafana-metrics
settings: { checkpoint: { interval: 0s, dir: {{dir}} } }
sources:
  in: { type: http_server, port: 0, path: /ingest, ack: memory }
steps:
  - id: priced
    type: map
    fields: { total: amount * 2 }
  - id: per_amount
    type: aggregate
    input: priced
    key: [amount]
    fields: { n: count(*) }
sinks:
  out: { type: discard, input: priced }
  latest: { type: view, key: [amount], input: priced }
  counts: { type: view, input: per_amount }
`;

/** The metrics of a Prometheus text exposition: name → type and the labels its samples carry. */
function exposition(text: string): Map<string, { type: string; labels: Set<string> }> {
  const out = new Map<string, { type: string; labels: Set<string> }>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) out.set(type[1], { type: type[2], labels: new Set() });
    const sample = /^([a-z_:][a-z0-9_:]*)\{([^}]*)\}/.exec(line);
    if (sample) {
      const base = sample[1].replace(/_(bucket|sum|count)$/, '');
      const metric = out.get(sample[1]) ?? out.get(base);
      for (const m of sample[2].matchAll(/(\w+)="/g)) metric?.labels.add(m[1]);
    }
  }
  return out;
}

test('the Grafana dashboard is well formed and queries metrics, labels, tables and columns that exist', {
  timeout: 60_000,
}, async () => {
  const inputs = new Set(dashboard.__inputs.map((i) => `\${${i.name}}`));
  const ids = dashboard.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  for (const p of dashboard.panels) {
    assert.ok(inputs.has(p.datasource.uid), `${p.title}: its datasource is an input`);
    assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${p.title} fits the 24-column grid`);
    assert.ok(p.targets.length > 0, `${p.title} has queries`);
  }

  const served = await startServed(pipeline);
  let metrics: Map<string, { type: string; labels: Set<string> }>;
  try {
    await post(served.ingest!, [{ amount: 1 }, { amount: 'x' }]);
    await waitFor(() => (served.job.metrics().recordsIn === 2 ? true : undefined));
    await served.job.checkpoint();
    metrics = exposition(await (await fetch(`${served.server.url}/metrics`)).text());
  } finally {
    await served.stop();
  }

  const promQueries = [
    ...dashboard.panels.flatMap((p) => p.targets.flatMap((t) => (t.expr ? [t.expr] : []))),
    ...dashboard.templating.list.map((v) => v.query.query),
  ];
  assert.ok(promQueries.length >= 10);
  const used = new Set<string>();
  for (const expr of promQueries) {
    for (const m of expr.matchAll(/\b(sluice_[a-z0-9_]+)/g)) {
      const name = m[1];
      const histogram = /_(bucket|sum|count)$/.test(name)
        ? name.replace(/_(bucket|sum|count)$/, '')
        : undefined;
      const metric = metrics.get(name) ?? (histogram ? metrics.get(histogram) : undefined);
      assert.ok(metric, `${expr}: ${name} is not exported`);
      if (histogram && !metrics.has(name))
        assert.equal(metric.type, 'histogram', `${name} is a histogram's series`);
      used.add(histogram && !metrics.has(name) ? histogram : name);
    }
  }
  // Grouping labels checked against the metric each aggregation reads.
  for (const expr of promQueries) {
    const agg = /by \(([^)]*)\) \((?:rate\()?(sluice_[a-z0-9_]+)/.exec(expr);
    if (!agg) continue;
    const metric = metrics.get(agg[2]) ?? metrics.get(agg[2].replace(/_(bucket|sum|count)$/, ''));
    for (const label of agg[1].split(',').map((l) => l.trim()))
      if (label !== 'le') assert.ok(metric?.labels.has(label), `${expr}: ${agg[2]} has no label ${label}`);
  }
  assert.ok(used.size >= 10, `the dashboard uses ${used.size} metrics`);

  const example = parse(readFileSync(new URL('examples/orders-to-postgres/pipeline.yaml', root), 'utf8')) as {
    sinks: { [id: string]: { type: string; table: string; columns: { [c: string]: string } } };
  };
  const tables = new Map(
    Object.values(example.sinks)
      .filter((s) => s.type === 'postgres')
      .map((s) => [s.table, new Set(Object.keys(s.columns))]),
  );
  const sqls = dashboard.panels.flatMap((p) => p.targets.flatMap((t) => (t.rawSql ? [t.rawSql] : [])));
  assert.ok(sqls.length >= 1);
  for (const sql of sqls) {
    const m = /^SELECT (.+?) FROM (\w+)(?: ORDER BY (\w+))?/.exec(sql);
    assert.ok(m, `${sql}: a SELECT of columns from one table`);
    const columns = tables.get(m[2]);
    assert.ok(columns, `${sql}: no pipeline of the repository writes ${m[2]}`);
    for (const c of [...m[1].split(',').map((s) => s.trim()), ...(m[3] ? [m[3]] : [])])
      assert.ok(columns.has(c), `${sql}: ${m[2]} has no column ${c}`);
  }
});
