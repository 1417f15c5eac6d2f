/**
 * Finds the value in a checkpoint part that the checkpoint codec cannot store, and where it is, so
 * a failed checkpoint names the step and the path instead of only "cannot encode".
 */

import { unstorableReason } from './value-codec.ts';

/**
 * Container levels a step's state may nest. Decoders keep records within `max_depth` (at most
 * 2000); the codec recurses, a few stack frames per level, far from the stack's end at this depth.
 */
export const DEPTH_LIMIT = 2500;
/** Path segments shown before the rest is summarized. */
const SHOWN_SEGMENTS = 12;

/** A value that cannot be stored, and the path to it from the part's root. */
export interface UnstorableValue {
  /** Segments such as `.groups`, `.get("k2")`, `[3]`. */
  segments: string[];
  /** What is wrong with it: "a function", "nested deeper than 2500 levels". */
  reason: string;
}

interface Visit {
  value: unknown;
  segments: string[];
  /** The enclosing visit, to recognize a reference back to an ancestor. */
  parent: Visit | undefined;
}

function propertyStep(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function isAncestor(value: object, visit: Visit | undefined): boolean {
  for (let v = visit; v !== undefined; v = v.parent) if (v.value === value) return true;
  return false;
}

/**
 * Walks `root` without recursion, depth first in the order the codec writes, and returns the
 * first value the codec refuses (see `unstorableReason`: a function, a symbol, a class instance),
 * the first reference back to an enclosing value (a cycle), or the first container nested deeper
 * than DEPTH_LIMIT levels; undefined when none is found. A value reachable twice is walked twice,
 * as the codec writes it twice.
 */
export function findUnstorable(root: unknown): UnstorableValue | undefined {
  const stack: Visit[] = [{ value: root, segments: [], parent: undefined }];
  while (stack.length > 0) {
    const visit = stack.pop() as Visit;
    const { value, segments } = visit;
    const reason = unstorableReason(value);
    if (reason !== undefined) return { segments, reason };
    if (typeof value !== 'object' || value === null) continue;
    if (isAncestor(value, visit.parent))
      return { segments, reason: 'a reference back to a value that contains it (a cycle)' };
    if (segments.length > DEPTH_LIMIT)
      return { segments, reason: `nested deeper than ${DEPTH_LIMIT} levels` };
    const children: Visit[] = [];
    const child = (v: unknown, step: string): void => {
      children.push({ value: v, segments: [...segments, step], parent: visit });
    };
    if (value instanceof Map) {
      for (const [k, v] of value) {
        const key = typeof k === 'string' || typeof k === 'number' ? JSON.stringify(k) : '…';
        child(k, `.keys()[${key}]`);
        child(v, `.get(${key})`);
      }
    } else if (value instanceof Set) {
      let i = 0;
      for (const v of value) child(v, `.values()[${i++}]`);
    } else if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) child(value[i], `[${i}]`);
    } else if (!ArrayBuffer.isView(value) && !(value instanceof ArrayBuffer) && !(value instanceof Date)) {
      for (const key of Object.keys(value))
        child((value as { [k: string]: unknown })[key], propertyStep(key));
    }
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]);
  }
  return undefined;
}

/** `segments` joined, long paths cut to their first segments and a count of the rest. */
export function formatStatePath(segments: readonly string[]): string {
  if (segments.length <= SHOWN_SEGMENTS) return segments.join('');
  return `${segments.slice(0, SHOWN_SEGMENTS).join('')}…(+${segments.length - SHOWN_SEGMENTS} levels)`;
}
