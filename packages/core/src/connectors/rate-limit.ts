/**
 * A processing-time rate limit for generator sources: how many records a read may return now.
 */

import type { Clock } from '../time.ts';
import { sleep } from './backoff.ts';

/** How long a read waits for records to become due before returning fewer (maybe none). */
const IDLE_MS = 200;
/** A limited reader returns at most this many batches per second (it waits to fill them). */
const BATCHES_PER_SECOND = 100;

/**
 * Paces one reader at `rate` records per second of `clock` time. After a stall it catches up at
 * most one second of records.
 */
export class RateLimit {
  readonly #rate: number;
  readonly #clock: Clock;
  #start = Number.NaN;
  #sent = 0;

  constructor(rate: number, clock: Clock) {
    this.#rate = rate;
    this.#clock = clock;
  }

  /** Waits until enough of `wanted` records are due; fewer (maybe 0) after ~IDLE_MS or on abort. */
  async allowance(wanted: number, signal: AbortSignal): Promise<number> {
    const perMs = this.#rate / 1000;
    const burst = Math.max(1, Math.ceil(this.#rate));
    const enough = Math.min(wanted, Math.max(1, Math.floor(this.#rate / BATCHES_PER_SECOND)));
    let waited = 0;
    for (;;) {
      const now = this.#clock.now();
      if (Number.isNaN(this.#start)) this.#start = now;
      const due = Math.floor((now - this.#start) * perMs) + 1;
      if (due - this.#sent > burst) this.#sent = due - burst;
      const allowed = Math.max(0, Math.min(wanted, due - this.#sent));
      if (allowed >= enough || waited >= IDLE_MS || signal.aborted) {
        this.#sent += allowed;
        return allowed;
      }
      const dueAt = this.#start + (this.#sent + enough - 1) / perMs;
      const wait = Math.max(1, Math.min(Math.ceil(dueAt - now), IDLE_MS - waited));
      waited += wait;
      await sleep(wait, signal);
    }
  }
}
