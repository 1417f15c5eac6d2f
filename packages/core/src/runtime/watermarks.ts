/**
 * Per-partition watermarks, each source's watermark, and the pipeline watermark.
 *
 * Each source partition tracks the highest event time it has seen; its watermark trails that by
 * the source's bounded out-of-orderness (Flink convention: `max − bound − 1`, so a record with
 * time ≤ watermark is late). A source's watermark is the minimum over its active partitions; a
 * partition that has read nothing for its idle timeout stops holding the minimum back until it
 * reads again, and an ended partition counts as +∞. A source none of whose partitions is active
 * (and not all ended) is idle: it holds back no step (see `Node.watermark`).
 *
 * The pipeline watermark — the minimum over sources that are not idle — is what metrics and
 * checkpoints report; steps follow the watermark of the sources upstream of them alone.
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
  readonly source: string;
  maxTime: number;
  bound: number;
  idleTimeout: number;
  lastActive: number;
  ended: boolean;
}

/** A source's watermark as of the last `advance`. */
interface SourceClock {
  readonly settings: PartitionSettings;
  current: number;
  /** No partition of the source is active, and not all have ended. */
  idle: boolean;
}

/** What a step needs to know of the sources upstream of it (see `Node`). */
export interface SourceWatermarks {
  /** Source `id`'s watermark as of the last advance. */
  watermarkOf(source: string): number;
  /** Whether source `id` was idle at the last advance: it holds nothing back. */
  isIdle(source: string): boolean;
}

export class WatermarkTracker implements SourceWatermarks {
  readonly #partitions = new Map<string, PartitionClock>();
  /** The pipeline watermark: the minimum over sources that are not idle. */
  #current = START_OF_TIME;
  /** Each source's settings, for the partitions its readers announce, and its watermark. */
  readonly #sources = new Map<string, SourceClock>();
  /** Each source's watermark at the restored checkpoint. */
  #restoredSources: { readonly [id: string]: number } = {};
  /** Greatest event time of each partition at the restored checkpoint. */
  #restoredTimes: { readonly [id: string]: number } = {};

  /**
   * Takes up a restored checkpoint: the pipeline watermark, and each partition's greatest event
   * time, which a partition registered later by `addPartition` starts from, so that it judges its
   * records as it would have without a restart.
   */
  restoreFrom(
    watermark: number,
    maxTimes: { readonly [id: string]: number } | undefined,
    sourceWatermarks?: { readonly [id: string]: number },
  ): void {
    this.#current = watermark;
    this.#restoredTimes = maxTimes ?? {};
    // Checkpoints written before sources had watermarks of their own: every source had the pipeline's.
    this.#restoredSources = sourceWatermarks ?? {};
    for (const [id, clock] of this.#sources) clock.current = this.#restoredSources[id] ?? watermark;
  }

  /** Records how the partitions of source `source` make their watermarks. */
  addSource(source: string, settings: PartitionSettings): void {
    this.#sources.set(source, {
      settings,
      current: this.#restoredSources[source] ?? this.#current,
      idle: false,
    });
  }

  /** Source `source`'s watermark as of the last `advance` (-∞ for a source never added). */
  watermarkOf(source: string): number {
    return this.#sources.get(source)?.current ?? START_OF_TIME;
  }

  isIdle(source: string): boolean {
    return this.#sources.get(source)?.idle ?? false;
  }

  /** Each source's watermark, for checkpoints. */
  sourceWatermarks(): { [id: string]: number } {
    const out: { [id: string]: number } = {};
    for (const [id, clock] of this.#sources) out[id] = clock.current;
    return out;
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
    const clock = this.#sources.get(source);
    if (clock === undefined)
      throw new SluiceError('INTERNAL', `watermarks of source '${source}' read before it was added`);
    const { settings } = clock;
    this.#partitions.set(id, {
      source,
      maxTime: this.#restoredTimes[id] ?? START_OF_TIME,
      bound: settings.bound,
      idleTimeout: settings.idleTimeout,
      lastActive: now,
      ended: false,
    });
    return id;
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

  /**
   * Sets registered partition `id`'s watermark to `watermark` as its reader gave it
   * (`SourceBatch.watermark`), read at `now`; a watermark never moves back.
   */
  set(id: string, watermark: number, now: number): void {
    const p = this.#partition(id);
    p.lastActive = now;
    const maxTime = watermark + p.bound + 1;
    if (maxTime > p.maxTime) p.maxTime = maxTime;
  }

  #partition(id: string): PartitionClock {
    const p = this.#partitions.get(id);
    if (p === undefined)
      throw new SluiceError('INTERNAL', `watermarks of partition '${id}' read before it was added`);
    return p;
  }

  /**
   * The source's watermark before each record of a batch partition `id` read at `now`, whose
   * event times are `times` in order: the watermark `advance(now)` would give its source after
   * the records before it, had each been observed alone. Undefined when it stays at the source's
   * current watermark for every record. Call it before `observe` takes the batch in.
   */
  before(id: string, times: readonly number[], now: number): number[] | undefined {
    const own = this.#partition(id);
    const base = this.#sources.get(own.source)!.current;
    const bound = own.bound;
    // The minimum of the source's other partitions caps what this one can move the watermark to.
    let cap = END_OF_TIME;
    for (const [other, p] of this.#partitions) {
      if (other === id || p.source !== own.source || p.ended || now - p.lastActive >= p.idleTimeout) continue;
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

  /** Sets the pipeline watermark and every source's: to +∞ at the end of input. */
  restore(watermark: number): void {
    this.#current = watermark;
    for (const clock of this.#sources.values()) clock.current = watermark;
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
   * Recomputes each source's watermark, and the pipeline's, at processing time `now`; returns
   * whether any source's advanced or went idle or active. A watermark never moves backwards. A source whose partitions
   * have all ended moves to +∞: what depends on it alone is complete.
   */
  advance(now: number): boolean {
    let advanced = false;
    for (const [id, clock] of this.#sources) {
      let min = END_OF_TIME;
      let active = 0;
      let registered = 0;
      let ended = 0;
      for (const p of this.#partitions.values()) {
        if (p.source !== id) continue;
        registered++;
        if (p.ended) {
          ended++;
          continue;
        }
        if (now - p.lastActive >= p.idleTimeout) continue;
        active++;
        const wm = p.maxTime - p.bound - 1;
        if (wm < min) min = wm;
      }
      // A source with no partition (all revoked from a multiplexing reader) waits, idle.
      const idle = active === 0 && (registered === 0 || ended < registered);
      if (idle !== clock.idle) {
        clock.idle = idle;
        advanced = true;
      }
      if (!idle && min > clock.current) {
        clock.current = min;
        advanced = true;
      }
    }
    let min = END_OF_TIME;
    let live = 0;
    for (const clock of this.#sources.values()) {
      if (clock.idle) continue;
      live++;
      if (clock.current < min) min = clock.current;
    }
    if (live > 0 && min > this.#current) this.#current = min;
    return advanced;
  }
}
