/**
 * A join's per-key state as a keyed view of the runtime (`StateBackend.keyed`), or, outside a
 * job (a unit test of the operator, no `OperatorContext.state`), in the operator's own snapshot.
 */

import type { KeyedView, StateBackend } from '../state.ts';

/** What an operator's own snapshot holds of a view when no runtime keeps it: its entries. */
export type SavedEntries<K, E> = [K, E][];

/**
 * One view of a join's keyed state. `open` registers it with the runtime's keyed state, which
 * restores the entries of the key groups this worker owns and takes them at each checkpoint;
 * without one, `saved` gives the entries for the operator's snapshot and `restoreSaved` takes
 * them back.
 */
export class JoinKeyedState<K, E> {
  readonly #name: string;
  readonly #view: KeyedView<K, E>;
  #own = true;

  /** `name` is part of the checkpoint format: never rename one. */
  constructor(name: string, view: KeyedView<K, E>) {
    this.#name = name;
    this.#view = view;
  }

  /** Registers the view with `state` (restoring it from the checkpoint), or keeps it here when there is none. */
  open(state: StateBackend | undefined): void {
    this.#own = state === undefined;
    state?.keyed(this.#name, this.#view);
  }

  /** The entries for the operator's own snapshot, or undefined when the runtime keeps them. */
  saved(): SavedEntries<K, E> | undefined {
    return this.#own ? [...this.#view.entries()].map(([k, e]) => [k, e]) : undefined;
  }

  /**
   * Takes back what `saved` gave (undefined: nothing, the runtime kept it). Returns false when
   * `saved` is not a list of entries.
   */
  restoreSaved(saved: unknown): boolean {
    if (saved === undefined) return true;
    if (!Array.isArray(saved)) return false;
    for (const entry of saved as unknown[]) {
      if (!Array.isArray(entry) || entry.length !== 2) return false;
      this.#view.restore(entry[0] as K, entry[1] as E);
    }
    return true;
  }
}
