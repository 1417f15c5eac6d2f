/**
 * Finds the value in a checkpoint part that `v8.serialize` cannot store, and where it is, so a
 * failed checkpoint names the step and the path instead of only "could not clone".
 */

/**
 * Nesting deeper than this is reported as the cause. Decoders keep records within `max_depth`
 * (at most 2000), and the structured-clone serializer recurses, running out of stack a little
 * beyond 3000 levels.
 */
const DEPTH_LIMIT = 2500;
/** Path segments shown before the rest is summarized. */
const SHOWN_SEGMENTS = 12;

/** A value that cannot be stored, and the path to it from the part's root. */
export interface UnstorableValue {
  /** Segments such as `.groups`, `.get("k2")`, `[3]`. */
  segments: string[];
  /** What is wrong with it: "a function", "nested deeper than 2500 levels". */
  reason: string;
}

const NOT_CLONEABLE: readonly [new (...args: never[]) => object, string][] = [
  [WeakMap, 'a WeakMap'],
  [WeakSet, 'a WeakSet'],
  [Promise, 'a Promise'],
  [WeakRef, 'a WeakRef'],
];

function propertyStep(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/**
 * Walks `root` without recursion, depth first, and returns the first value the structured-clone
 * format cannot carry (a function, a symbol, a WeakMap, a WeakSet, a Promise or a WeakRef) or
 * the first that nests deeper than the serializer's stack allows; undefined when none is found.
 */
export function findUnstorable(root: unknown): UnstorableValue | undefined {
  const stack: { value: unknown; segments: string[] }[] = [{ value: root, segments: [] }];
  const seen = new Set<object>();
  while (stack.length > 0) {
    const { value, segments } = stack.pop() as { value: unknown; segments: string[] };
    if (typeof value === 'function') return { segments, reason: 'a function' };
    if (typeof value === 'symbol') return { segments, reason: 'a symbol' };
    if (typeof value !== 'object' || value === null || seen.has(value)) continue;
    seen.add(value);
    for (const [type, name] of NOT_CLONEABLE) if (value instanceof type) return { segments, reason: name };
    if (segments.length > DEPTH_LIMIT)
      return { segments, reason: `nested deeper than ${DEPTH_LIMIT} levels` };
    const children: { value: unknown; segments: string[] }[] = [];
    if (value instanceof Map) {
      for (const [k, v] of value) {
        const key = typeof k === 'string' || typeof k === 'number' ? JSON.stringify(k) : '…';
        children.push({ value: k, segments: [...segments, `.keys()[${key}]`] });
        children.push({ value: v, segments: [...segments, `.get(${key})`] });
      }
    } else if (value instanceof Set) {
      let i = 0;
      for (const v of value) children.push({ value: v, segments: [...segments, `.values()[${i++}]`] });
    } else if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++)
        children.push({ value: value[i], segments: [...segments, `[${i}]`] });
    } else if (!ArrayBuffer.isView(value) && !(value instanceof ArrayBuffer) && !(value instanceof Date)) {
      for (const key of Object.keys(value)) {
        children.push({
          value: (value as { [k: string]: unknown })[key],
          segments: [...segments, propertyStep(key)],
        });
      }
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
