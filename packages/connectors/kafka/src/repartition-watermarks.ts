/**
 * The event-time progress of one partition of a repartition topic, read downstream.
 *
 * Every upstream task (producer) writes its records into every partition its keys hash to, and its
 * watermark into every partition as a marker record (see docs/ARCHITECTURE.md, Repartition
 * topics). A partition therefore interleaves the records and the markers of all producers, each
 * producer's in its own order; the reader's watermark is the minimum over the producers' latest
 * markers — Flink's rule for a task behind a network shuffle, which forwards the minimum over its
 * input channels — so a window downstream fires only when every producer has passed its end.
 *
 * The number of producers is known (the source's partition count: one upstream task per
 * partition), and until each of them has published a marker the watermark stays at −∞: a producer
 * not heard from yet may still write records of any time. A producer that says it is idle (its
 * source partition read nothing for its idle timeout) stops holding the minimum back until a
 * marker of it says it is active again; when every producer is idle, the watermark moves to the
 * greatest of their watermarks (Flink's valve does the same when its last active channel goes idle). A producer's watermark never moves backwards (a marker older than the
 * last one, such as one written again after the producer restarted from a checkpoint, is ignored).
 */

import { SluiceError } from '@sluice/core';

/** What a repartition reader checkpoints of its producers: each one's latest marker. */
export interface ProducerWatermarks {
  /** Each producer's latest watermark, by producer (upstream task) number; absent: none yet. */
  readonly watermarks: { readonly [producer: string]: number };
  /** The producers whose latest marker said idle. */
  readonly idle: readonly number[];
}

/** The minimum over the watermarks of a known number of producers. */
export class RepartitionWatermarks {
  readonly #producers: number;
  /** Each producer's latest watermark; NaN until its first marker. */
  readonly #latest: Float64Array;
  readonly #idle: Uint8Array;
  #current = Number.NEGATIVE_INFINITY;

  /** `producers`: how many upstream tasks write into the topic (its source's partition count). */
  constructor(producers: number) {
    if (!Number.isSafeInteger(producers) || producers < 1) {
      throw new SluiceError('INTERNAL', `a repartition topic needs at least one producer, not ${producers}`);
    }
    this.#producers = producers;
    this.#latest = new Float64Array(producers).fill(Number.NaN);
    this.#idle = new Uint8Array(producers);
  }

  /** The watermark: the minimum over every producer that is not idle; −∞ until every producer was heard. */
  get current(): number {
    return this.#current;
  }

  /**
   * Takes producer `producer`'s marker: its watermark, and whether it is idle. Returns whether
   * the minimum advanced. Throws INTERNAL for a producer number outside the known count (a topic
   * written by more tasks than the source has partitions).
   */
  update(producer: number, watermark: number, idle = false): boolean {
    this.#check(producer);
    const before = this.#latest[producer];
    if (!(watermark <= before)) this.#latest[producer] = watermark;
    this.#idle[producer] = idle ? 1 : 0;
    return this.#recompute();
  }

  /** Each producer's latest marker, for the reader's checkpoint (markers before it are not read again). */
  snapshot(): ProducerWatermarks {
    const watermarks: { [producer: string]: number } = {};
    const idle: number[] = [];
    for (let p = 0; p < this.#producers; p++) {
      if (!Number.isNaN(this.#latest[p])) watermarks[p] = this.#latest[p];
      if (this.#idle[p] === 1) idle.push(p);
    }
    return { watermarks, idle };
  }

  /** Takes up a checkpoint's `snapshot()`; producers it does not name stay unheard. */
  restore(saved: ProducerWatermarks): void {
    for (const [key, wm] of Object.entries(saved.watermarks)) {
      const p = Number(key);
      this.#check(p);
      this.#latest[p] = wm;
    }
    for (const p of saved.idle) {
      this.#check(p);
      this.#idle[p] = 1;
    }
    this.#recompute();
  }

  #check(producer: number): void {
    if (!Number.isInteger(producer) || producer < 0 || producer >= this.#producers) {
      throw new SluiceError(
        'INTERNAL',
        `a repartition marker names producer ${producer}, but the topic has ${this.#producers} producers (0 … ${this.#producers - 1})`,
      );
    }
  }

  #recompute(): boolean {
    let min = Number.POSITIVE_INFINITY;
    let active = 0;
    for (let p = 0; p < this.#producers; p++) {
      const wm = this.#latest[p];
      // A producer never heard from holds everything back, idle or not: it may write any time.
      if (Number.isNaN(wm)) return false;
      if (this.#idle[p] === 1) continue;
      active++;
      if (wm < min) min = wm;
    }
    if (active === 0) {
      // Every producer idle: none will move its watermark until it writes again, so the watermark
      // goes to the greatest of theirs — as Flink's watermark valve flushes when its last active
      // input channel goes idle. Waiting instead would hold every window for good when the last
      // producers went idle together (seen: a moved task's quiet partition went idle after the others).
      let max = Number.NEGATIVE_INFINITY;
      for (let p = 0; p < this.#producers; p++) if (this.#latest[p] > max) max = this.#latest[p];
      min = max;
    }
    if (!(min > this.#current)) return false;
    this.#current = min;
    return true;
  }
}
