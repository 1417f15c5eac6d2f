/**
 * The contract of a fault scenario: a run of Sluice under a fault (kill -9, a failing sink, a
 * corrupt checkpoint, hostile input), measured by what was produced, acknowledged and delivered.
 *
 * Each scenario is a module `bench/faults/<name>.fault.ts` whose default export is a
 * `FaultScenario`. `npm run faults` runs every scenario at full size and writes their figures to
 * docs/reliability.md; a test beside the scenario runs it small and asserts on the same figures,
 * so the report and CI measure the same code.
 */

export { median } from '../measure.ts';

/** What one run of a scenario measured. */
export interface FaultFigures {
  /** What was done, one line: "http_server, kill -9 ×3 under load, group commit". */
  case: string;
  /** Records the load generator offered. */
  produced: number;
  /** Records the system under test acknowledged (202, broker ack, checkpointed offset…). */
  acknowledged: number;
  /** Distinct acknowledged records found downstream. */
  distinct: number;
  /** Records found downstream more than once (each extra copy counts once). */
  duplicates: number;
  /** Acknowledged records not found downstream. */
  lost: number;
  /** Seconds from each restart until records flowed again (empty when not measured). */
  recoverySeconds: number[];
  /** Anything a reader needs to interpret the row ("at-least-once: duplicates allowed"). */
  note?: string;
}

/** Size of a run: `small` for the tests, `full` for the report. */
export type FaultScale = 'small' | 'full';

export interface FaultScenario {
  /** Kebab-case name, the file's name without `.fault.ts`. */
  name: string;
  /** What the scenario shows, one or two sentences for the report. */
  description: string;
  /** The services it needs ('kafka', …); the runner skips the scenario when one is down. */
  services?: readonly string[];
  run(scale: FaultScale): Promise<FaultFigures[]>;
}

/**
 * Compares what was acknowledged with what was delivered: `delivered` lists the id of every
 * record found downstream (with repeats). Records delivered but never acknowledged are fine
 * (a crash may come between a write and its acknowledgement) and are not counted.
 */
export function deliveryFigures(
  acknowledged: Iterable<string>,
  delivered: Iterable<string>,
): Pick<FaultFigures, 'acknowledged' | 'distinct' | 'duplicates' | 'lost'> {
  const seen = new Map<string, number>();
  for (const id of delivered) seen.set(id, (seen.get(id) ?? 0) + 1);
  let acked = 0;
  let distinct = 0;
  let lost = 0;
  for (const id of new Set(acknowledged)) {
    acked++;
    if (seen.has(id)) distinct++;
    else lost++;
  }
  let duplicates = 0;
  for (const n of seen.values()) if (n > 1) duplicates += n - 1;
  return { acknowledged: acked, distinct, duplicates, lost };
}
