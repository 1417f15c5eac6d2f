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
import type { KeyedMap, StateBackend } from '../state.ts';

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

/**
 * An operator's keyed state in a checkpoint: for each named map, the entries of each non-empty
 * key group.
 */
export interface KeyedStateSnapshot {
  readonly keyGroups: number;
  readonly maps: { readonly [name: string]: { readonly [group: string]: readonly [string, unknown][] } };
}

/** The named keyed maps of one operator. */
export class KeyedStateStore implements StateBackend {
  readonly #maps = new Map<string, Map<string, unknown>>();
  readonly #restored: KeyedStateSnapshot | undefined;
  readonly #step: string;

  /** Starts empty, or with the state a checkpoint holds for step `step`. */
  constructor(step: string, restored?: unknown) {
    this.#step = step;
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

  /** Whether the operator asked for any map (only those go into checkpoints). */
  get used(): boolean {
    return this.#maps.size > 0;
  }

  map<V>(name: string): KeyedMap<V> {
    let m = this.#maps.get(name);
    if (m === undefined) {
      m = new Map();
      const groups = this.#restored?.maps[name];
      if (groups !== undefined)
        for (const entries of Object.values(groups)) for (const [k, v] of entries) m.set(k, v);
      this.#maps.set(name, m);
    }
    return m as Map<string, V>;
  }

  snapshot(): KeyedStateSnapshot {
    const maps: { [name: string]: { [group: string]: [string, unknown][] } } = {};
    for (const [name, m] of this.#maps) {
      const groups: { [group: string]: [string, unknown][] } = {};
      for (const entry of m) {
        const g = keyGroupOf(entry[0]);
        const group = groups[g];
        if (group === undefined) groups[g] = [entry];
        else group.push(entry);
      }
      maps[name] = groups;
    }
    // A map restored but not asked for again keeps its entries.
    for (const [name, groups] of Object.entries(this.#restored?.maps ?? {}))
      if (!this.#maps.has(name)) maps[name] = groups as { [group: string]: [string, unknown][] };
    return { keyGroups: KEY_GROUPS, maps };
  }

  /** For messages. */
  get step(): string {
    return this.#step;
  }
}
