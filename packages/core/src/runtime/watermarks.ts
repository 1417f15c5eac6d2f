/**
 * Per-partition watermarks and the pipeline watermark.
 *
 * Each source partition tracks the highest event time it has seen; its watermark trails that by
 * the source's bounded out-of-orderness (Flink convention: `max − bound − 1`, so a record with
 * time ≤ watermark is late). The pipeline watermark is the minimum over active partitions. A
 * partition that has read nothing for its idle timeout stops holding the minimum back until it
 * reads again; an ended partition counts as +∞.
 */

import { SluiceError } from '../errors.ts';
import { END_OF_TIME, START_OF_TIME } from '../time.ts';

/** How a source's partitions make their watermarks (from its `event_time`). */
export interface PartitionSettings {
  /** Bounded out-of-orderness, ms. */
  readonly bound: number;
  /** A partition with no record for this long stops holding the watermark back, ms. */
  readonly idleTimeout: number;
}

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
  /** Each source's bound and idle timeout, for the partitions its readers announce. */
  readonly #sources = new Map<string, PartitionSettings>();
  /** Greatest event time of each partition at the restored checkpoint. */
  #restoredTimes: { readonly [id: string]: number } = {};

  /**
   * Takes up a restored checkpoint: the pipeline watermark, and each partition's greatest event
   * time, which a partition registered later by `addPartition` starts from, so that it judges its
   * records as it would have without a restart.
   */
  restoreFrom(watermark: number, maxTimes: { readonly [id: string]: number } | undefined): void {
    this.#current = watermark;
    this.#restoredTimes = maxTimes ?? {};
  }

  /** Records how the partitions of source `source` make their watermarks. */
  addSource(source: string, settings: PartitionSettings): void {
    this.#sources.set(source, settings);
  }

  /**
   * Registers partition `<source>/<partition>` of a source given to `addSource`, with the greatest
   * event time it had at the restored checkpoint, and returns its id. A partition already
   * registered (announced again by a multiplexing reader) is marked active instead.
   */
  addPartition(source: string, partition: string, now: number): string {
    const id = `${source}/${partition}`;
    if (this.#partitions.has(id)) {
      this.observe(id, Number.NEGATIVE_INFINITY, now);
      return id;
    }
    const settings = this.#sources.get(source);
    if (settings === undefined)
      throw new SluiceError('INTERNAL', `watermarks of source '${source}' read before it was added`);
    this.add(id, settings, now, this.#restoredTimes[id]);
    return id;
  }

  /**
   * Registers a partition (`source/partition`) before it reads: a reader's own at open, or one a
   * multiplexing reader was assigned, with its greatest event time from the checkpoint restored.
   */
  add(id: string, settings: PartitionSettings, now: number, restoredMax = START_OF_TIME): void {
    this.#partitions.set(id, {
      maxTime: restoredMax,
      bound: settings.bound,
      idleTimeout: settings.idleTimeout,
      lastActive: now,
      ended: false,
    });
  }

  /** Whether partition `id` is registered. */
  has(id: string): boolean {
    return this.#partitions.has(id);
  }

  /** Notes that registered partition `id` read records whose greatest event time is `maxTime` (or none: -∞). */
  observe(id: string, maxTime: number, now: number): void {
    const p = this.#partition(id);
    p.lastActive = now;
    if (maxTime > p.maxTime) p.maxTime = maxTime;
  }

  #partition(id: string): PartitionClock {
    const p = this.#partitions.get(id);
    if (p === undefined)
      throw new SluiceError('INTERNAL', `watermarks of partition '${id}' read before it was added`);
    return p;
  }

  /**
   * The pipeline watermark before each record of a batch partition `id` read at `now`, whose
   * event times are `times` in order: the watermark `advance(now)` would give after the records
   * before it, had each been observed alone. Undefined when it stays at the current watermark
   * for every record. Call it before `observe` takes the batch in.
   */
  before(id: string, times: readonly number[], now: number): number[] | undefined {
    const base = this.#current;
    const own = this.#partition(id);
    const bound = own.bound;
    // The other partitions' minimum caps what this one can move the watermark to.
    let cap = END_OF_TIME;
    for (const [other, p] of this.#partitions) {
      if (other === id || p.ended || now - p.lastActive >= p.idleTimeout) continue;
      const wm = p.maxTime - p.bound - 1;
      if (wm < cap) cap = wm;
    }
    if (cap <= base) return undefined;
    let max = own.maxTime;
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
