/**
 * JSON text of any value without recursion, for the places that must write a value whatever it
 * holds (dead letters, error reports): no depth, cycle or bigint makes it throw.
 */

/** What `safeJsonText` wrote. */
export interface SafeJson {
  text: string;
  /** Whether the text was cut at `maxChars` (it is then not valid JSON). */
  truncated: boolean;
}

const CIRCULAR = '"[circular]"';

type Frame =
  | { kind: 'array'; items: readonly unknown[]; next: number }
  | { kind: 'object'; entries: [string, unknown][]; next: number };

/**
 * Writes `value` as JSON text like `JSON.stringify` (`toJSON` is not called; `undefined`,
 * functions and symbols are left out of objects and become `null` in arrays; non-finite numbers
 * become `null`), iteratively, so any nesting depth fits. Bigints are written as strings and a
 * value that contains itself as `"[circular]"`. Stops after `maxChars` characters. Never throws.
 */
export function safeJsonText(value: unknown, maxChars: number): SafeJson {
  const parts: string[] = [];
  let length = 0;
  const stack: Frame[] = [];
  const open = new Set<object>();
  const write = (s: string): boolean => {
    parts.push(s);
    length += s.length;
    return length < maxChars;
  };
  const scalar = (v: unknown): string | undefined => {
    switch (typeof v) {
      case 'string':
        return JSON.stringify(v);
      case 'number':
        return Number.isFinite(v) ? String(v) : 'null';
      case 'boolean':
        return v ? 'true' : 'false';
      case 'bigint':
        return JSON.stringify(String(v));
      case 'object':
        return v === null
          ? 'null'
          : v instanceof Date
            ? JSON.stringify(Number.isNaN(v.getTime()) ? null : v.toISOString())
            : undefined;
      default:
        return undefined;
    }
  };
  /** Writes a value (or opens its frame); false when the text is full. */
  const visit = (v: unknown): boolean => {
    const s = scalar(v);
    if (s !== undefined) return write(s);
    if (typeof v !== 'object' || v === null) return write('null');
    if (open.has(v)) return write(CIRCULAR);
    open.add(v);
    if (Array.isArray(v)) {
      stack.push({ kind: 'array', items: v, next: 0 });
      return write('[');
    }
    const source = v instanceof Map ? Object.fromEntries(v) : v;
    const entries = Object.entries(source).filter(([, x]) => {
      const t = typeof x;
      return t !== 'undefined' && t !== 'function' && t !== 'symbol';
    });
    stack.push({ kind: 'object', entries, next: 0 });
    return write('{');
  };
  let room = visit(value);
  const frameValues: object[] = [];
  if (stack.length > 0) frameValues.push(value as object);
  while (room && stack.length > 0) {
    const frame = stack[stack.length - 1];
    const size = frame.kind === 'array' ? frame.items.length : frame.entries.length;
    if (frame.next >= size) {
      stack.pop();
      open.delete(frameValues.pop() as object);
      room = write(frame.kind === 'array' ? ']' : '}');
      continue;
    }
    const i = frame.next++;
    if (i > 0 && !write(',')) break;
    let child: unknown;
    if (frame.kind === 'array') {
      child = frame.items[i];
    } else {
      const [key, x] = frame.entries[i];
      if (!write(`${JSON.stringify(key)}:`)) break;
      child = x;
    }
    const depth = stack.length;
    room = visit(child);
    if (stack.length > depth) frameValues.push(child as object);
  }
  let text = parts.join('');
  const truncated = text.length > maxChars || stack.length > 0;
  if (text.length > maxChars) text = text.slice(0, maxChars);
  return { text, truncated };
}
