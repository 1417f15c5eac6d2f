/**
 * Progress reporting for `sluice run`: a live status line on a terminal, a structured log line
 * every few seconds otherwise.
 */

import type { JobMetrics, Logger } from '@sluice/core';

export interface ProgressReporter {
  stop(): void;
}

const clearLine = '\r\x1b[2K';

/**
 * The live status line at the bottom of a terminal. Log lines go through `print`, which clears
 * the status line, writes the log line and draws the status line again below it, so that the two
 * never share a line.
 */
export class StatusLine {
  readonly #write: (s: string) => void;
  #shown = '';

  constructor(write: (s: string) => void) {
    this.#write = write;
  }

  /** Replaces the status line with `text` (one line, no newline). */
  show(text: string): void {
    this.#shown = text;
    this.#write(`${clearLine}${text}`);
  }

  /** Writes `line` and a newline above the status line. */
  print(line: string): void {
    if (this.#shown === '') {
      this.#write(`${line}\n`);
      return;
    }
    this.#write(`${clearLine}${line}\n${this.#shown}`);
  }

  /** Removes the status line. */
  clear(): void {
    if (this.#shown !== '') this.#write(clearLine);
    this.#shown = '';
  }
}

function rate(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return `${Math.round(n)}`;
}

function ago(ms: number): string {
  if (ms < 1000) return 'just now';
  if (ms < 60_000) return `${Math.round(ms / 1000)}s ago`;
  return `${Math.round(ms / 60_000)}m ago`;
}

/** Watermark lag: how far event time trails the wall clock. */
function lag(m: JobMetrics, now: number): string {
  if (!Number.isFinite(m.watermark)) return '-';
  const ms = now - m.watermark;
  if (ms > 86_400_000) return `${Math.round(ms / 86_400_000)}d`;
  if (ms > 3_600_000) return `${(ms / 3_600_000).toFixed(1)}h`;
  return `${(ms / 1000).toFixed(1)}s`;
}

/**
 * Starts reporting `metrics()` on the status line (`status`, on a terminal) or, without one, as
 * log lines: every second on the status line, every ten seconds as log lines, unless `everyMs`
 * says otherwise. `stop()` ends the reports and clears the status line.
 */
export function reportProgress(
  metrics: () => JobMetrics,
  options: { status?: StatusLine; log: Logger; everyMs?: number },
): ProgressReporter {
  const { status } = options;
  let last = metrics();
  let lastAt = Date.now();
  const every = options.everyMs ?? (status ? 1000 : 10_000);
  const timer = setInterval(() => {
    const m = metrics();
    const now = Date.now();
    const secs = (now - lastAt) / 1000;
    const inRate = (m.recordsIn - last.recordsIn) / secs;
    const outRate = (m.recordsOut - last.recordsOut) / secs;
    const checkpoint = m.lastCheckpointAt === undefined ? 'none' : ago(now - m.lastCheckpointAt);
    if (status) {
      status.show(
        ` in ${rate(inRate)}/s  out ${rate(outRate)}/s  total ${rate(m.recordsIn)}  dead ${m.deadLetters}  late ${m.late}  wm lag ${lag(m, now)}  checkpoint ${checkpoint}`,
      );
    } else {
      options.log.info('progress', {
        records_in: m.recordsIn,
        records_out: m.recordsOut,
        in_per_s: Math.round(inRate),
        out_per_s: Math.round(outRate),
        dead_letters: m.deadLetters,
        late: m.late,
        filtered: m.filtered,
        watermark: Number.isFinite(m.watermark) ? new Date(m.watermark).toISOString() : null,
        last_checkpoint: m.lastCheckpointId ?? null,
      });
    }
    last = m;
    lastAt = now;
  }, every);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      status?.clear();
    },
  };
}
