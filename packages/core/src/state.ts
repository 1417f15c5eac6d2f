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

/** Keyed state held in JS Maps. */
export class MemoryStateBackend implements StateBackend {
  readonly #maps = new Map<string, Map<string, unknown>>();

  /** Starts empty, or from what `snapshot()` returned. */
  constructor(restored?: unknown) {
    if (restored instanceof Map) {
      for (const [name, entries] of restored as Map<string, Map<string, unknown>>)
        this.#maps.set(name, entries);
    }
  }

  map<V>(name: string): KeyedMap<V> {
    let m = this.#maps.get(name);
    if (!m) {
      m = new Map();
      this.#maps.set(name, m);
    }
    return m as Map<string, V>;
  }

  /** Keeps nothing: this backend takes no part in checkpoints, so a view has nothing to restore. */
  keyed<K, E>(_name: string, _view: KeyedView<K, E>): void {}

  snapshot(): unknown {
    return this.#maps;
  }
}
