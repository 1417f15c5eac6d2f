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

/** Medians of an engine run and a baseline run measured side by side (see `compare`). */
export interface Comparison {
  /** Records per CPU-second. */
  engineRate: number;
  baselineRate: number;
  /** engineRate / baselineRate. */
  ratio: number;
  /** Engine records per second of wall-clock time. */
  engineWallRate: number;
  /** What both produced (they must agree). */
  output: number;
}

/**
 * Runs `engine` and `baseline` once each to warm up, then `runs` times each, alternating so that
 * drift in machine load hits both sides alike, and returns the medians, as rates of `records`
 * per CPU-second. Throws (naming `what`) when the two produce different outputs: they did not do
 * the same work.
 */
export async function compare(
  what: string,
  records: number,
  runs: number,
  engine: () => Promise<number> | number,
  baseline: () => Promise<number> | number,
): Promise<Comparison> {
  await engine();
  await baseline();
  const e: Measurement[] = [];
  const b: Measurement[] = [];
  for (let i = 0; i < runs; i++) {
    e.push(await measure(engine));
    b.push(await measure(baseline));
  }
  if (e[0].output !== b[0].output)
    throw new Error(`${what}: the engine produced ${e[0].output}, the baseline loop ${b[0].output}`);
  const engineRate = median(e.map((m) => records / (m.cpuMs / 1000)));
  const baselineRate = median(b.map((m) => records / (m.cpuMs / 1000)));
  return {
    engineRate,
    baselineRate,
    ratio: engineRate / baselineRate,
    engineWallRate: median(e.map((m) => records / (m.wallMs / 1000))),
    output: e[0].output,
  };
}
