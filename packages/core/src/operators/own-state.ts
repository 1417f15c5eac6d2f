/**
 * Keyed state an operator holds itself when no runtime does: a unit test that opens it without
 * `OperatorContext.state` still gets all of its state back from the operator's own snapshot.
 */

import type { KeyedMap, KeyedView, StateBackend } from '../state.ts';

/** What {@link OwnState.snapshot} returns: each map's or view's entries, by name. */
export type OwnStateSnapshot = Map<string, (readonly [unknown, unknown])[]>;

/**
 * The maps and views of one operator, kept in JS Maps and snapshotted whole (not by key group),
 * for the operator to put in its own snapshot. Operators in a job use the runtime's keyed state.
 */
export class OwnState implements StateBackend {
  readonly #maps = new Map<string, Map<string, unknown>>();
  readonly #views = new Map<string, KeyedView<unknown, unknown>>();
  readonly #restored: OwnStateSnapshot | undefined;

  /** Starts empty, or from what `snapshot()` returned (anything else counts as empty). */
  constructor(restored?: unknown) {
    if (restored instanceof Map) this.#restored = restored as OwnStateSnapshot;
  }

  map<V>(name: string): KeyedMap<V> {
    let m = this.#maps.get(name);
    if (m === undefined) {
      m = new Map(this.#restored?.get(name) as [string, unknown][] | undefined);
      this.#maps.set(name, m);
    }
    return m as Map<string, V>;
  }

  keyed<K, E>(name: string, view: KeyedView<K, E>): void {
    this.#views.set(name, view as KeyedView<unknown, unknown>);
    for (const [k, e] of this.#restored?.get(name) ?? []) view.restore(k as K, e as E);
  }

  /** Every map's and view's entries (live values: serialize before the next call). */
  snapshot(): OwnStateSnapshot {
    const snapshot: OwnStateSnapshot = new Map();
    for (const [name, m] of this.#maps) snapshot.set(name, [...m]);
    for (const [name, view] of this.#views) snapshot.set(name, [...view.entries()]);
    return snapshot;
  }
}
