/**
 * Charts and tables bound to views: a time series when a view holds window results
 * (`window_end` and a number), and a top-N table of its rows by their first number field.
 */

import uPlot from '/dashboard/vendor/uPlot.esm.js';

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#4d7c0f', '#be185d'];
const MAX_SERIES = COLORS.length;
const TOP_N = 10;

/** Creates an element with attributes and children (text is set as text, never as markup). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  for (const c of children) node.append(c instanceof Node ? c : String(c));
  return node;
}

/** The first field of the rows, not a key field nor a window bound, whose values are numbers. */
function measureOf(rows, keyFields) {
  const skip = new Set([...keyFields, 'window_start', 'window_end']);
  for (const field of Object.keys(rows[0]?.row ?? {})) {
    if (!skip.has(field) && rows.every((r) => typeof r.row[field] === 'number')) return field;
  }
  return undefined;
}

/** A live time-series chart (uPlot) over a growing set of points. */
export class SeriesChart {
  constructor(host, names, { width = 480, height = 200, time = true } = {}) {
    this.names = names;
    this.plot = new uPlot(
      {
        width,
        height,
        scales: { x: { time } },
        series: [{}, ...names.map((label, i) => ({ label, stroke: COLORS[i % COLORS.length], width: 2 }))],
        axes: [{}, { size: 60 }],
      },
      [[], ...names.map(() => [])],
      host,
    );
  }

  /** Replaces the points: `xs` seconds, `ys[i]` the values of series i. */
  set(xs, ys) {
    this.plot.setData([xs, ...ys]);
  }
}

/** One view's part of the page: its chart (when it holds window results) and its top-N table. */
export class ViewPanel {
  constructor(host, view) {
    this.view = view;
    this.root = el('div', { class: 'view', 'data-view': view.name });
    this.title = el('h3', {}, view.name);
    this.chartHost = el('div', { class: 'view-chart' });
    this.table = el('table', { class: 'top-n' });
    this.root.append(this.title, this.chartHost, this.table);
    host.append(this.root);
    this.chart = undefined;
  }

  /** Shows `rows` (`{ key, offset, row }` from a scan) at view offset `offset`. */
  update(rows, offset) {
    const keyFields = this.view.key ?? [];
    this.title.textContent = `${this.view.name} — ${rows.length} rows, offset ${offset}`;
    this.root.setAttribute('data-offset', String(offset));
    const measure = measureOf(rows, keyFields);
    if (measure !== undefined && rows.length > 0 && typeof rows[0].row.window_end === 'number')
      this.#drawSeries(rows, keyFields, measure);
    this.#drawTop(rows, measure);
  }

  /** A series per value of the key fields other than the window's, over `window_end`. */
  #drawSeries(rows, keyFields, measure) {
    const groupFields = keyFields.filter((f) => f !== 'window_start' && f !== 'window_end');
    const groups = new Map();
    const ends = new Set();
    for (const { row } of rows) {
      const name = groupFields.map((f) => String(row[f])).join(' / ') || measure;
      if (!groups.has(name) && groups.size >= MAX_SERIES) continue;
      if (!groups.has(name)) groups.set(name, new Map());
      groups.get(name).set(row.window_end, row[measure]);
      ends.add(row.window_end);
    }
    const xs = [...ends].sort((a, b) => a - b);
    const names = [...groups.keys()].sort();
    if (!this.chart || this.chart.names.join('\u0000') !== names.join('\u0000')) {
      this.chartHost.replaceChildren();
      this.chart = new SeriesChart(this.chartHost, names);
    }
    this.chart.set(
      xs.map((x) => x / 1000),
      names.map((n) => xs.map((x) => groups.get(n).get(x) ?? null)),
    );
  }

  /** The rows with the largest `measure` (all rows in key order when there is none). */
  #drawTop(rows, measure) {
    const sorted =
      measure === undefined
        ? rows.slice(0, TOP_N)
        : [...rows].sort((a, b) => b.row[measure] - a.row[measure]);
    const top = sorted.slice(0, TOP_N);
    const fields = Object.keys(top[0]?.row ?? {});
    const head = el('tr', {}, ...fields.map((f) => el('th', {}, f)));
    const body = top.map((r) =>
      el(
        'tr',
        { 'data-key': r.key },
        ...fields.map((f) => {
          const v = r.row[f];
          if ((f === 'window_start' || f === 'window_end') && typeof v === 'number')
            return el('td', {}, new Date(v).toISOString().replace('T', ' ').replace('.000Z', 'Z'));
          return el(
            'td',
            typeof v === 'number' ? { class: 'num' } : {},
            typeof v === 'object' ? JSON.stringify(v) : String(v),
          );
        }),
      ),
    );
    this.table.replaceChildren(el('thead', {}, head), el('tbody', {}, ...body));
  }
}
