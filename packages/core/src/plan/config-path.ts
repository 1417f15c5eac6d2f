/**
 * Config paths: the dotted form errors and `Plan.locations` use, e.g. `sources.orders.path`,
 * `steps[1].fields.region`, `sinks.out.headers["x-api-key"]`.
 *
 * Keys that are plain names are joined with a dot; array indexes and other keys go in brackets
 * (other keys JSON-quoted), so a path splits back into its segments without ambiguity.
 */

const plainKey = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const lastSegment = /(?:\.[A-Za-z_][A-Za-z0-9_-]*|\[\d+\]|\["(?:[^"\\]|\\.)*"\]|^[A-Za-z_][A-Za-z0-9_-]*)$/;

/** Appends an object key (string) or array index (number) to `parent` ('' is the root). */
export function joinPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  if (plainKey.test(key)) return parent === '' ? key : `${parent}.${key}`;
  return `${parent}[${JSON.stringify(key)}]`;
}

const segment = /^(?:\.?([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\])/;

/**
 * The keys (strings) and indexes (numbers) of a path built by `joinPath`, in order: the inverse
 * of joining them. Undefined when the text is not such a path.
 */
export function splitPath(path: string): (string | number)[] | undefined {
  const out: (string | number)[] = [];
  let rest = path;
  while (rest !== '') {
    const match = segment.exec(rest);
    if (!match || (out.length === 0 && rest.startsWith('.'))) return undefined;
    if (match[1] !== undefined) out.push(match[1]);
    else if (match[2] !== undefined) out.push(Number(match[2]));
    else out.push(JSON.parse(match[3]) as string);
    rest = rest.slice(match[0].length);
  }
  return out;
}

/** Appends a relative path (as built by `joinPath` from the root) to `parent`. */
export function concatPath(parent: string, relative: string): string {
  if (relative === '') return parent;
  if (parent === '' || relative.startsWith('[')) return parent + relative;
  return `${parent}.${relative}`;
}

/** The path one level up (`a.b[2]` → `a.b`), '' for a top-level key, undefined for the root. */
export function parentPath(path: string): string | undefined {
  if (path === '') return undefined;
  const match = lastSegment.exec(path);
  if (!match) return undefined;
  return path.slice(0, match.index);
}

/**
 * Converts a JSON Pointer (Ajv's `instancePath`, e.g. `/fields/region`) into a config path,
 * looking at `data` to tell array indexes from object keys that happen to be digits.
 */
export function pointerToPath(pointer: string, data: unknown): string {
  if (pointer === '') return '';
  let path = '';
  let node: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node) && /^\d+$/.test(key)) {
      path = joinPath(path, Number(key));
      node = node[Number(key)];
    } else {
      path = joinPath(path, key);
      node = isRecord(node) ? node[key] : undefined;
    }
  }
  return path;
}

/** Reads the value at a JSON Pointer inside `data` (undefined when absent). */
export function valueAtPointer(pointer: string, data: unknown): unknown {
  if (pointer === '') return data;
  let node: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) node = node[Number(key)];
    else if (isRecord(node)) node = node[key];
    else return undefined;
  }
  return node;
}

/** Whether `value` is a plain object (a YAML map), not an array or null. */
export function isRecord(value: unknown): value is { [key: string]: unknown } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
