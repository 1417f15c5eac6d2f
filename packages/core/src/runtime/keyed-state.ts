/**
 * Keyed state the runtime holds for an operator (`OperatorContext.state`), snapshotted by key
 * group.
 *
 * Every key belongs to one of {@link KEY_GROUPS} key groups (a hash of the key), fixed for the
 * life of a pipeline, as Flink's maximum parallelism fixes its key groups. A checkpoint stores
 * each named map's entries grouped that way, so a worker that takes over some of a pipeline's
 * partitions later (scale-out) can restore exactly the groups that belong to them. Reading and
 * writing cost nothing extra: entries live in one Map per name, and are grouped only when a
 * checkpoint is taken.
 */

import { SluiceError } from '../errors.ts';
import type { KeyedMap, KeyedView, StateBackend } from '../state.ts';

/** How many key groups keys are spread over. Part of the checkpoint format: never change it. */
export const KEY_GROUPS = 128;

/** The key group of `key`: FNV-1a over its UTF-16 code units, modulo {@link KEY_GROUPS}. */
export function keyGroupOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % KEY_GROUPS;
}

/** The key group of a key of a keyed view: that of its text, so `1` and `'1'` share a group. */
export function keyGroupOfKey(key: unknown): number {
  return keyGroupOf(typeof key === 'string' ? key : String(key));
}

/**
 * An operator's keyed state in a checkpoint: for each named map or view, the entries of each
 * non-empty key group. Map keys are strings; a view's keys may be other primitives.
 */
export interface KeyedStateSnapshot {
  readonly keyGroups: number;
  readonly maps: {
    readonly [name: string]: { readonly [group: string]: readonly (readonly [unknown, unknown])[] };
  };
}

/** Which key groups a store restores: all of them unless told (a worker taking some partitions). */
export type KeyGroupFilter = (group: number) => boolean;

/** The named keyed maps of one operator. */
export class KeyedStateStore implements StateBackend {
  readonly #maps = new Map<string, Map<string, unknown>>();
  readonly #views = new Map<string, KeyedView<unknown, unknown>>();
  readonly #restored: KeyedStateSnapshot | undefined;
  readonly #step: string;
  readonly #owns: KeyGroupFilter;

  /**
   * Starts empty, or with the state a checkpoint holds for step `step` — of the key groups
   * `owns` accepts (all by default). A snapshot keeps the groups it did not restore as they were.
   */
  constructor(step: string, restored?: unknown, owns: KeyGroupFilter = () => true) {
    this.#step = step;
    this.#owns = owns;
    if (restored === undefined) return;
    const r = restored as Partial<KeyedStateSnapshot> | null;
    if (typeof r !== 'object' || r === null || r.keyGroups !== KEY_GROUPS || typeof r.maps !== 'object') {
      throw new SluiceError(
        'CHECKPOINT_INCOMPATIBLE',
        `the checkpoint's keyed state for step '${step}' is not in ${KEY_GROUPS} key groups; it was written by another version: restart with --from-scratch`,
        { step },
      );
    }
    this.#restored = r as KeyedStateSnapshot;
  }

  /** Whether the operator asked for any map or view (only those go into checkpoints). */
  get used(): boolean {
    return this.#maps.size > 0 || this.#views.size > 0;
  }

  map<V>(name: string): KeyedMap<V> {
    let m = this.#maps.get(name);
    if (m === undefined) {
      this.#refuseTaken(name);
      m = new Map();
      for (const [k, v] of this.#restoredEntries(name)) m.set(k as string, v);
      this.#maps.set(name, m);
    }
    return m as Map<string, V>;
  }

  keyed<K, E>(name: string, view: KeyedView<K, E>): void {
    this.#refuseTaken(name);
    this.#views.set(name, view as KeyedView<unknown, unknown>);
    for (const [k, v] of this.#restoredEntries(name)) view.restore(k as K, v as E);
  }

  #refuseTaken(name: string): void {
    if (this.#maps.has(name) || this.#views.has(name))
      throw new SluiceError('INTERNAL', `step '${this.#step}' asked twice for keyed state '${name}'`, {
        step: this.#step,
      });
  }

  *#restoredEntries(name: string): Iterable<readonly [unknown, unknown]> {
    const groups = this.#restored?.maps[name];
    if (groups === undefined) return;
    for (const [group, entries] of Object.entries(groups)) if (this.#owns(Number(group))) yield* entries;
  }

  snapshot(): KeyedStateSnapshot {
    const maps: { [name: string]: { [group: string]: (readonly [unknown, unknown])[] } } = {};
    for (const [name, m] of this.#maps) maps[name] = this.#grouped(name, m);
    for (const [name, view] of this.#views) maps[name] = this.#grouped(name, view.entries());
    // A map restored but not asked for again keeps its entries.
    for (const [name, groups] of Object.entries(this.#restored?.maps ?? {}))
      if (!(name in maps)) maps[name] = groups as { [group: string]: [unknown, unknown][] };
    return { keyGroups: KEY_GROUPS, maps };
  }

  /** `entries` by key group, with the restored groups this store does not own kept as they were. */
  #grouped(
    name: string,
    entries: Iterable<readonly [unknown, unknown]>,
  ): { [group: string]: (readonly [unknown, unknown])[] } {
    const groups: { [group: string]: (readonly [unknown, unknown])[] } = {};
    for (const entry of entries) {
      const g = keyGroupOfKey(entry[0]);
      const group = groups[g];
      if (group === undefined) groups[g] = [entry];
      else group.push(entry);
    }
    const restored = this.#restored?.maps[name];
    if (restored !== undefined)
      for (const [group, kept] of Object.entries(restored))
        if (!this.#owns(Number(group))) groups[group] = [...kept];
    return groups;
  }

  /** For messages. */
  get step(): string {
    return this.#step;
  }
}
