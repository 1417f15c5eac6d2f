/**
 * What a source reader's `read` waits on when it has nothing to hand out: the system's client
 * pushes messages into the reader's buffer and calls `wake()`; `read` waits `until(signal)` —
 * woken by the next message, by the job's stop (the signal), or after `idleMs`, so that it
 * returns an empty batch in time for the runtime's watermark and checkpoint work.
 */
export class ReadWait {
  readonly #idleMs: number;
  #wake: (() => void) | undefined;

  /** @param idleMs how long a wait lasts without a wake-up, ms */
  constructor(idleMs = 200) {
    this.#idleMs = idleMs;
  }

  /**
   * Resolves on the next `wake()`, when `signal` aborts, or after `idleMs`, whichever comes first;
   * keeps no timer or listener after that. One wait at a time (a reader's reads do not overlap).
   */
  until(signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        if (this.#wake === done) this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, this.#idleMs);
      signal?.addEventListener('abort', done, { once: true });
      this.#wake = done;
    });
  }

  /** Ends the current wait, if there is one. */
  wake(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
