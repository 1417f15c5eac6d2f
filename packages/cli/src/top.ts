/**
 * `sluice top [url]`: a terminal view of a running pipeline — status, watermark lag, checkpoint
 * age, and per source, step and sink its rates, totals, watermark lag, queue fill, state size at
 * the last checkpoint and (sinks) the p99 of its recent writes — redrawn
 * every `--interval`, read from the same HTTP API as the dashboard (`sluice run --serve`).
 * `renderTop` draws one frame to a string, so that a test can read it.
 */

/** What `GET /api/job` answers (the fields `top` shows). */
export interface TopJob {
  pipeline: string;
  status: string;
  uptimeMs: number;
  totals: { recordsIn: number; recordsOut: number; deadLetters: number; late: number; filtered: number };
  watermarkLagMs: number | null;
  lastCheckpoint: { id: number; completedAt: number | undefined } | null;
}

/** A node of `GET /api/steps`. */
export interface TopNode {
  id: string;
  kind: 'source' | 'step' | 'sink';
  type: string;
  counters: { [k: string]: number } | undefined;
  rates: { inPerSec: number; outPerSec: number };
  watermarkLagMs?: number | null;
  queueFill?: number;
  backpressure?: boolean;
  /** Its state at the last checkpoint (null before the first, or when it has none). */
  state?: { bytes: number; keys?: number } | null;
  /** A sink's recent writes. */
  writeLatency?: { p99Ms: number | null };
}

/** A count with thousands separators. */
const count = (n: number | undefined) => (n ?? 0).toLocaleString('en');

/** A rate: one decimal under 10/s. */
const rate = (n: number) => (n < 10 ? n.toFixed(1) : Math.round(n).toLocaleString('en'));

/** A duration, short. */
export function ago(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '-';
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
  return `${(ms / 3_600_000).toFixed(1)}h`;
}

/** A size in bytes, short. */
export function size(n: number | undefined): string {
  if (n === undefined) return '-';
  if (n < 1024) return `${n}B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)}K`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)}M`;
  return `${(n / 1024 ** 3).toFixed(1)}G`;
}

/** A write latency in milliseconds, short. */
const latency = (ms: number | null | undefined) =>
  ms === null || ms === undefined ? '' : ms < 10 ? `${ms.toFixed(1)}ms` : ago(ms);

const COLUMNS = [
  'ID',
  'KIND',
  'TYPE',
  'IN/S',
  'OUT/S',
  'TOTAL',
  'DEAD',
  'WM LAG',
  'QUEUE',
  'STATE',
  'KEYS',
  'W P99',
] as const;
const RIGHT = new Set(['IN/S', 'OUT/S', 'TOTAL', 'DEAD', 'WM LAG', 'QUEUE', 'STATE', 'KEYS', 'W P99']);

/** One frame of `sluice top` as text (no terminal control codes), `width` columns at most. */
export function renderTop(job: TopJob, nodes: readonly TopNode[], now: number, width = 120): string {
  const checkpoint =
    job.lastCheckpoint === null
      ? 'none'
      : `#${job.lastCheckpoint.id} ${ago(job.lastCheckpoint.completedAt === undefined ? null : now - job.lastCheckpoint.completedAt)} ago`;
  const head = [
    `${job.pipeline} — ${job.status}, up ${ago(job.uptimeMs)}`,
    `in ${count(job.totals.recordsIn)}  out ${count(job.totals.recordsOut)}  dead ${count(job.totals.deadLetters)}  late ${count(job.totals.late)}  filtered ${count(job.totals.filtered)}`,
    `watermark lag ${ago(job.watermarkLagMs)}  last checkpoint ${checkpoint}`,
    '',
  ];
  const rows = nodes.map((n) => {
    const c = n.counters ?? {};
    const total = n.kind === 'sink' ? c.written : c.in;
    const queue =
      n.kind === 'sink' ? `${Math.round((n.queueFill ?? 0) * 100)}%${n.backpressure ? ' FULL' : ''}` : '';
    return [
      n.id,
      n.kind,
      n.type,
      rate(n.rates.inPerSec),
      rate(n.rates.outPerSec),
      count(total),
      count(n.kind === 'sink' ? c.rejected : c.dead),
      n.kind === 'sink' ? '' : ago(n.watermarkLagMs),
      queue,
      n.state ? size(n.state.bytes) : '',
      n.state?.keys === undefined ? '' : count(n.state.keys),
      latency(n.writeLatency?.p99Ms),
    ];
  });
  const widths = COLUMNS.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (RIGHT.has(COLUMNS[i]) ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd()
      .slice(0, width);
  return [...head.map((l) => l.slice(0, width)), line(COLUMNS), ...rows.map(line), ''].join('\n');
}

export interface TopOptions {
  token?: string;
  interval: number;
  once: boolean;
}

/** Reads one frame's data from the server at `url`. */
export async function readTop(
  url: string,
  token: string | undefined,
): Promise<{ job: TopJob; nodes: TopNode[] }> {
  const headers: { [k: string]: string } = token ? { authorization: `Bearer ${token}` } : {};
  const get = async (path: string) => {
    const res = await fetch(new URL(path, url), { headers, signal: AbortSignal.timeout(5_000) });
    const body: unknown = await res.json().catch(() => ({}));
    if (!res.ok) {
      const message = (body as { message?: string }).message ?? '';
      throw new Error(`${path} answered ${res.status}${message ? `: ${message}` : ''}`);
    }
    return body;
  };
  const [job, steps] = await Promise.all([get('/api/job'), get('/api/steps')]);
  return { job: job as TopJob, nodes: (steps as { nodes: TopNode[] }).nodes };
}

/** `sluice top`: draws frames until Ctrl-C (or one with `--once`); returns the exit code. */
export async function topCommand(url: string, options: TopOptions): Promise<number> {
  const token = options.token ?? process.env.SLUICE_READ_TOKEN;
  const tty = process.stdout.isTTY === true && !options.once;
  for (;;) {
    let frame: string;
    try {
      const { job, nodes } = await readTop(url, token);
      frame = renderTop(job, nodes, Date.now(), process.stdout.columns ?? 120);
    } catch (err) {
      const reason =
        err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
      process.stderr.write(`sluice top: cannot read ${url}: ${reason}\n`);
      return 1;
    }
    process.stdout.write(tty ? `\x1b[H\x1b[2J${frame}` : frame);
    if (options.once) return 0;
    await new Promise((r) => setTimeout(r, options.interval));
  }
}
