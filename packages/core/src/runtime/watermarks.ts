/**
 * Per-partition watermarks and the pipeline watermark.
 *
 * Each source partition tracks the highest event time it has seen; its watermark trails that by
 * the source's bounded out-of-orderness (Flink convention: `max − bound − 1`, so a record with
 * time ≤ watermark is late). The pipeline watermark is the minimum over active partitions. A
 * partition that has read nothing for its idle timeout stops holding the minimum back until it
 * reads again; an ended partition counts as +∞.
 */

import { END_OF_TIME, START_OF_TIME } from '../time.ts';

interface PartitionClock {
  maxTime: number;
  bound: number;
  idleTimeout: number;
  lastActive: number;
  ended: boolean;
}

export class WatermarkTracker {
  readonly #partitions = new Map<string, PartitionClock>();
  #current = START_OF_TIME;

  /** Registers a partition (`source/partition`) before it reads. */
  add(id: string, bound: number, idleTimeout: number, now: number, restoredMax = START_OF_TIME): void {
    this.#partitions.set(id, { maxTime: restoredMax, bound, idleTimeout, lastActive: now, ended: false });
  }

  /**
   * Notes that a partition read records whose greatest event time is `maxTime` (or none: -∞).
   * A partition seen for the first time (one a multiplexing reader was just assigned) is added
   * with the bound and idle timeout of the partition `like`.
   */
  observe(id: string, maxTime: number, now: number, like?: string): void {
    let p = this.#partitions.get(id);
    if (!p) {
      const model = like === undefined ? undefined : this.#partitions.get(like);
      p = {
        maxTime: START_OF_TIME,
        bound: model?.bound ?? 0,
        idleTimeout: model?.idleTimeout ?? 5000,
        lastActive: now,
        ended: false,
      };
      this.#partitions.set(id, p);
    }
    p.lastActive = now;
    if (maxTime > p.maxTime) p.maxTime = maxTime;
  }

  /**
   * The pipeline watermark before each record of a batch partition `id` read at `now`, whose
   * event times are `times` in order: the watermark `advance(now)` would give after the records
   * before it, had each been observed alone. Undefined when it stays at the current watermark
   * for every record. Call it before `observe` takes the batch in; a partition not seen yet is
   * taken as a new one like `observe` would add it (modelled on `like`).
   */
  before(id: string, times: readonly number[], now: number, like?: string): number[] | undefined {
    const base = this.#current;
    const own = this.#partitions.get(id);
    const model = own ?? (like === undefined ? undefined : this.#partitions.get(like));
    const bound = model?.bound ?? 0;
    // The other partitions' minimum caps what this one can move the watermark to.
    let cap = END_OF_TIME;
    for (const [other, p] of this.#partitions) {
      if (other === id || p.ended || now - p.lastActive >= p.idleTimeout) continue;
      const wm = p.maxTime - p.bound - 1;
      if (wm < cap) cap = wm;
    }
    if (cap <= base) return undefined;
    let max = own?.maxTime ?? START_OF_TIME;
    let out: number[] | undefined;
    const n = times.length;
    for (let i = 0; i < n; i++) {
      let wm = max - bound - 1;
      if (wm > cap) wm = cap;
      if (wm < base) wm = base;
      if (out !== undefined) out[i] = wm;
      else if (wm !== base) {
        out = new Array<number>(n).fill(base, 0, i);
        out[i] = wm;
      }
      const t = times[i];
      if (t > max) max = t;
    }
    return out;
  }

  /** Forgets a partition (revoked from a multiplexing reader): it no longer holds the watermark back. */
  remove(id: string): void {
    this.#partitions.delete(id);
  }

  /** Marks a partition ended: it no longer holds the watermark back. */
  end(id: string): void {
    const p = this.#partitions.get(id);
    if (p) p.ended = true;
  }

  /** Greatest event time seen per partition, for checkpoints. */
  maxTimes(): { [id: string]: number } {
    const out: { [id: string]: number } = {};
    for (const [id, p] of this.#partitions) out[id] = p.maxTime;
    return out;
  }

  /** Sets the pipeline watermark: after a restart, or to +∞ at the end of input. */
  restore(watermark: number): void {
    this.#current = watermark;
  }

  get current(): number {
    return this.#current;
  }

  /** Whether every partition has ended. */
  get allEnded(): boolean {
    for (const p of this.#partitions.values()) if (!p.ended) return false;
    return true;
  }

  /**
   * Recomputes the pipeline watermark at processing time `now` and returns it when it advanced,
   * or undefined when it did not. The watermark never moves backwards.
   */
  advance(now: number): number | undefined {
    let min = END_OF_TIME;
    let active = 0;
    for (const p of this.#partitions.values()) {
      if (p.ended) continue;
      if (now - p.lastActive >= p.idleTimeout) continue;
      active++;
      const wm = p.maxTime - p.bound - 1;
      if (wm < min) min = wm;
    }
    if (active === 0 && !this.allEnded) return undefined;
    if (min > this.#current) {
      this.#current = min;
      return min;
    }
    return undefined;
  }
}
