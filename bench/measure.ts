/**
 * What the benchmarks share: timing a run in CPU and wall time, and the median of runs.
 */

/** One run: CPU milliseconds of this process (user + system), wall milliseconds, and its output. */
export interface Measurement {
  cpuMs: number;
  wallMs: number;
  /** What the run produced (records out, matches), a check that compared sides did the same work. */
  output: number;
}

/** Times `run` (synchronous or not) in CPU and wall time. */
export async function measure(run: () => Promise<number> | number): Promise<Measurement> {
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const output = await run();
  const cpu = process.cpuUsage(cpu0);
  return { cpuMs: (cpu.user + cpu.system) / 1000, wallMs: performance.now() - wall0, output };
}

/** The median (the mean of the middle two for an even count; NaN for none). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
