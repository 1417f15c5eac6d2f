/**
 * Keyed state behind a backend interface.
 *
 * Operators ask the backend for named maps once, at open, and then read and write them per
 * record. The in-memory backend is a set of JS Maps; a larger-than-memory backend (LMDB) can
 * implement the same interface. State names are part of the checkpoint format: never rename one.
 */

/** One named map of keyed state. Values must be plain data the checkpoint format carries (see `Operator.snapshot`). */
export interface KeyedMap<V> {
  get(key: string): V | undefined;
  set(key: string, value: V): void;
  delete(key: string): boolean;
  has(key: string): boolean;
  readonly size: number;
  entries(): IterableIterator<[string, V]>;
  clear(): void;
}

/**
 * Keyed state an operator keeps in structures of its own — time-ordered lists, heaps of windows —
 * that the runtime still snapshots by key group (`StateBackend.keyed`). Every piece of it belongs
 * to one key; the runtime asks for the pieces at a checkpoint and hands back, at a restore, those
 * of the key groups this worker owns.
 */
export interface KeyedView<K, E> {
  /**
   * Each key's state as plain data the checkpoint format carries (see `Operator.snapshot`),
   * at most one entry per key. Called at a batch boundary; the runtime encodes the entries before
   * the next call, so they may be live references.
   */
  entries(): Iterable<readonly [K, E]>;
  /**
   * Takes back one key's state, before any batch, in no particular order: an operator whose
   * state is ordered (by time, by write) re-sorts what it restored (at the end of `open`, after
   * registering its views).
   */
  restore(key: K, entry: E): void;
}

export interface StateBackend {
  /** The map called `name`, restored from the last checkpoint when there is one. */
  map<V>(name: string): KeyedMap<V>;
  /**
   * Registers the view called `name` and, when the checkpoint being restored holds it, calls
   * `view.restore` for each of its entries before returning. Keys are strings, or primitives
   * (numbers, booleans, bigints, null) that keep their type through the checkpoint; a key's
   * group is that of its text (`String(key)`). Names share one namespace with `map`.
   */
  keyed<K, E>(name: string, view: KeyedView<K, E>): void;
  /** All maps, as plain data for a checkpoint. */
  snapshot(): unknown;
}

/**
 * Copies the maps a `MemoryStateBackend` snapshot holds (an operator's own snapshot, before the
 * runtime held keyed state) into `backend`. Returns false when `restored` is not such a snapshot.
 */
export function restoreMaps(restored: unknown, backend: StateBackend): boolean {
  if (!(restored instanceof Map)) return false;
  for (const [name, entries] of restored as Map<string, Map<string, unknown>>) {
    if (!(entries instanceof Map)) return false;
    const m = backend.map<unknown>(name);
    for (const [k, v] of entries) m.set(k, v);
  }
  return true;
}

/**
 * Keyed state an operator holds itself when no runtime does — opened without
 * `OperatorContext.state`, as in an operator's unit test: maps and views in JS Maps, snapshotted
 * whole (not by key group) for the operator to put in its own snapshot and to give back to the
 * constructor. In a job the runtime's `KeyedStateStore` stands in its place.
 */
export class MemoryStateBackend implements StateBackend {
  readonly #maps = new Map<string, Map<string, unknown>>();
  readonly #views = new Map<string, KeyedView<unknown, unknown>>();
  readonly #restored: ReadonlyMap<string, Map<unknown, unknown>> | undefined;

  /** Starts empty, or from what `snapshot()` returned (anything else counts as empty). */
  constructor(restored?: unknown) {
    if (restored instanceof Map) this.#restored = restored as ReadonlyMap<string, Map<unknown, unknown>>;
  }

  map<V>(name: string): KeyedMap<V> {
    let m = this.#maps.get(name);
    if (!m) {
      const restored = this.#restored?.get(name);
      m = restored instanceof Map ? (restored as Map<string, unknown>) : new Map();
      this.#maps.set(name, m);
    }
    return m as Map<string, V>;
  }

  keyed<K, E>(name: string, view: KeyedView<K, E>): void {
    this.#views.set(name, view as KeyedView<unknown, unknown>);
    const restored = this.#restored?.get(name);
    if (restored instanceof Map) for (const [k, e] of restored) view.restore(k as K, e as E);
  }

  /** Each map and view by name, a view's entries as a Map (live values: encode before the next call). */
  snapshot(): Map<string, Map<unknown, unknown>> {
    const snapshot = new Map<string, Map<unknown, unknown>>();
    // What was restored but not asked for again is kept.
    for (const [name, entries] of this.#restored ?? []) snapshot.set(name, entries);
    for (const [name, m] of this.#maps) snapshot.set(name, m);
    for (const [name, view] of this.#views) snapshot.set(name, new Map(view.entries()));
    return snapshot;
  }
}

/**
 * Where an operator keeps its keyed state: in `state`, the runtime's (`OperatorContext.state`),
 * or — opened outside a job, with none — in a `MemoryStateBackend` of its own, restored from
 * `saved` (what its snapshot kept under `keyed`) and returned as `own` for its next snapshot.
 */
export function keyedBackend(
  state: StateBackend | undefined,
  saved?: unknown,
): { readonly backend: StateBackend; readonly own: MemoryStateBackend | undefined } {
  if (state !== undefined) return { backend: state, own: undefined };
  const own = new MemoryStateBackend(saved);
  return { backend: own, own };
}
