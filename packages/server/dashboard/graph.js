/**
 * The step graph as SVG: one column per depth (sources first, sinks last), each node with its
 * rates, watermark lag, state size at the last checkpoint and, for sinks, how full its queue is
 * (red when it holds the sources back) and the p99 of its recent writes.
 */

const SVG = 'http://www.w3.org/2000/svg';
const W = 190;
const H = 90;
const GAP_X = 60;
const GAP_Y = 18;

/** Creates an SVG element with attributes. */
function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

/** Text of a rate: one decimal under 10, whole numbers above. */
export function rate(n) {
  if (n === null || n === undefined) return '–';
  return n < 10 ? n.toFixed(1) : Math.round(n).toLocaleString('en');
}

/** Text of a duration in milliseconds. */
export function duration(ms) {
  if (ms === null || ms === undefined) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

/** Text of a size in bytes. */
export function bytes(n) {
  if (n === null || n === undefined) return '–';
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** The node's last line: its state at the last checkpoint and, for a sink, its write p99. */
function stateLine(n) {
  const parts = [];
  if (n.state) {
    const keys = n.state.keys === undefined ? '' : ` · ${n.state.keys.toLocaleString('en')} keys`;
    parts.push(`state ${bytes(n.state.bytes)}${keys}`);
  }
  const p99 = n.writeLatency?.p99Ms;
  if (p99 !== null && p99 !== undefined)
    parts.push(`write p99 ${p99 < 10 ? `${p99.toFixed(1)} ms` : duration(p99)}`);
  return parts.join(' · ');
}

/** Each node's column: one more than the deepest of its inputs. */
function depths(nodes) {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const depth = new Map();
  const of = (id, seen) => {
    if (depth.has(id)) return depth.get(id);
    const node = byId.get(id.split('.')[0]);
    if (!node || seen.has(node.id)) return 0;
    seen.add(node.id);
    const d = node.inputs.length === 0 ? 0 : 1 + Math.max(...node.inputs.map((i) => of(i, seen)));
    depth.set(node.id, d);
    return d;
  };
  for (const n of nodes) of(n.id, new Set());
  return depth;
}

/** Draws `nodes` (from `GET /api/steps`) into `host`, replacing what was there. */
export function drawGraph(host, nodes) {
  const depth = depths(nodes);
  const columns = [];
  for (const n of nodes) {
    const d = depth.get(n.id) ?? 0;
    columns[d] ??= [];
    columns[d].push(n);
  }
  const at = new Map();
  columns.forEach((col, x) => {
    col.forEach((n, y) => {
      at.set(n.id, { x: 10 + x * (W + GAP_X), y: 10 + y * (H + GAP_Y) });
    });
  });
  const width = 20 + columns.length * (W + GAP_X) - GAP_X;
  const height = 20 + Math.max(...columns.map((c) => c.length)) * (H + GAP_Y) - GAP_Y;
  const root = svg('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img' });
  for (const n of nodes) {
    const to = at.get(n.id);
    for (const input of n.inputs) {
      const from = at.get(input.split('.')[0]);
      if (!from) continue;
      const x1 = from.x + W;
      const y1 = from.y + H / 2;
      const x2 = to.x;
      const y2 = to.y + H / 2;
      const mid = (x1 + x2) / 2;
      root.append(svg('path', { class: 'edge', d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}` }));
    }
  }
  for (const n of nodes) {
    const { x, y } = at.get(n.id);
    const g = svg('g', {
      class: `node ${n.kind}${n.backpressure ? ' backpressure' : ''}`,
      transform: `translate(${x},${y})`,
      'data-node': n.id,
    });
    g.append(svg('rect', { width: W, height: H, rx: 6 }));
    const line = (text, row, cls) => {
      const t = svg('text', { x: 8, y: 16 + row * 15, ...(cls ? { class: cls } : {}) });
      t.textContent = text;
      g.append(t);
      return t;
    };
    line(`${n.id} · ${n.type}`, 0, 'title');
    const inText = line(`in ${rate(n.rates.inPerSec)}/s · out ${rate(n.rates.outPerSec)}/s`, 1, 'rates');
    inText.setAttribute('data-rate-in', String(n.rates.inPerSec));
    const c = n.counters ?? {};
    const total = n.kind === 'sink' ? c.written : n.kind === 'source' ? c.in : c.in;
    line(`total ${Number(total ?? 0).toLocaleString('en')}${c.dead ? ` · dead ${c.dead}` : ''}`, 2, 'counts');
    if (n.kind === 'sink') {
      line(
        `queue ${n.queued} (${Math.round(n.queueFill * 100)}%)${n.backpressure ? ' BACKPRESSURE' : ''}`,
        3,
      );
      g.append(svg('rect', { class: 'fill-bar', x: 0, y: H - 4, width: W * n.queueFill, height: 4 }));
    } else {
      line(`watermark lag ${duration(n.watermarkLagMs)}`, 3, 'lag');
    }
    const last = stateLine(n);
    if (last !== '') line(last, 4, 'state');
    root.append(g);
  }
  host.replaceChildren(root);
}
