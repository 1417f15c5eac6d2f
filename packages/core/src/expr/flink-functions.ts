/**
 * Flink SQL's string, time and JSON functions that the engine had no equivalent of: `initcap`,
 * `repeat`, `reverse`, `split_index`, `hour`, `minute`, `second`, `from_unixtime` and
 * `json_value`.
 */

import { checkPattern, dateFormat } from './calendar-functions.ts';
import { evalError, failAt } from './failure.ts';
import { type FunctionSpec, literalString } from './function-spec.ts';
import type { Expr } from './types.ts';

/** Each word's first letter upper case, the rest lower case; words are runs of letters and digits. */
function initcap(s: string): string {
  return s
    .toLowerCase()
    .replace(
      /(^|[^\p{L}\p{N}])(\p{L})/gu,
      (_m, before: string, letter: string) => before + letter.toUpperCase(),
    );
}

/** At most this many characters from `repeat`, so that one record cannot exhaust memory. */
const MAX_REPEAT = 1 << 20;

function repeat(s: string, n: number): string {
  if (n <= 0) return '';
  if (s.length * n > MAX_REPEAT)
    return evalError(`repeat(): the result would exceed ${MAX_REPEAT} characters`);
  return s.repeat(n);
}

/**
 * Flink's SPLIT_INDEX: field `index` (0 is the first) of `s` split on the whole text `separator`,
 * every field kept, empty ones too; NULL when there is no such field, when `index` is negative,
 * or when `s` is empty (no field at all, as Flink splits it). An empty separator splits at each
 * whitespace character, as Flink's does.
 */
function splitIndex(s: string, separator: string, index: number): string | null {
  if (index < 0 || s === '') return null;
  if (separator === '') return s.split(/\s/)[index] ?? null;
  let from = 0;
  for (let i = 0; i < index; i++) {
    const at = s.indexOf(separator, from);
    if (at < 0) return null;
    from = at + separator.length;
  }
  const end = s.indexOf(separator, from);
  return s.slice(from, end < 0 ? s.length : end);
}

const DAY_MS = 86_400_000;

/** Milliseconds since midnight UTC of epoch-ms `ms`. */
function timeOfDay(ms: number): number {
  return ((ms % DAY_MS) + DAY_MS) % DAY_MS;
}

/** One step of a JSON path: a member name or an array index. */
type PathStep = string | number;

const STEP = /^(?:\.([A-Za-z_$][\w$]*)|\['((?:[^'\\]|\\.)*)'\]|\[(\d+)\])/;

/** The steps of `$.a.b[0]['c d']`, or a message saying why it is no path. */
function parsePath(path: string): PathStep[] | string {
  if (!path.startsWith('$')) return `a JSON path starts with $, e.g. '$.a.b'`;
  const steps: PathStep[] = [];
  let rest = path.slice(1);
  while (rest !== '') {
    const m = STEP.exec(rest);
    if (m === null) return `cannot read the JSON path at '${rest}': write .name, ['name'] or [index]`;
    steps.push(m[1] ?? (m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : Number(m[3])));
    rest = rest.slice(m[0].length);
  }
  return steps;
}

const paths = new Map<string, PathStep[]>();

function jsonValue(json: string, path: string): string | null {
  let steps = paths.get(path);
  if (steps === undefined) {
    const parsed = parsePath(path);
    if (typeof parsed === 'string') return evalError(`json_value(): ${parsed}`);
    steps = parsed;
    if (paths.size < 1024) paths.set(path, steps);
  }
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return null;
  }
  for (const step of steps) {
    if (typeof step === 'number') value = Array.isArray(value) ? value[step] : undefined;
    else
      value =
        typeof value === 'object' && value !== null && !Array.isArray(value) && Object.hasOwn(value, step)
          ? (value as { [k: string]: unknown })[step]
          : undefined;
    if (value === undefined) return null;
  }
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return null;
}

function checkPath(args: readonly Expr[]): void {
  const path = literalString(args[1]);
  if (path === undefined) return;
  const parsed = parsePath(path);
  if (typeof parsed === 'string') failAt('PLAN_TYPE_ERROR', args[1].start, `json_value(): ${parsed}`);
}

/** The Flink string and JSON functions. */
export const flinkFunctions: readonly FunctionSpec[] = [
  {
    name: 'initcap',
    category: 'string',
    signature: 'initcap(s)',
    summary: '`s` with the first letter of each word in upper case and the others in lower case.',
    params: ['string'],
    required: 1,
    returns: 'string',
    impl: initcap,
  },
  {
    name: 'repeat',
    category: 'string',
    signature: 'repeat(s, n)',
    summary: '`s` repeated `n` times (empty when `n` ≤ 0; an error past a million characters).',
    params: ['string', 'integer'],
    required: 2,
    returns: 'string',
    impl: repeat,
  },
  {
    name: 'reverse',
    category: 'string',
    signature: 'reverse(s)',
    summary: 'The characters of `s` in reverse order.',
    params: ['string'],
    required: 1,
    returns: 'string',
    impl: (s: string) => Array.from(s).reverse().join(''),
  },
  {
    name: 'split_index',
    category: 'string',
    signature: 'split_index(s, separator, index)',
    summary:
      "Field `index` of `s` split on `separator` (0 is the first; empty fields count), as Flink's SPLIT_INDEX; NULL when there is no such field or `index` is negative.",
    params: ['string', 'string', 'integer'],
    required: 3,
    returns: 'string',
    impl: splitIndex,
  },
  {
    name: 'hour',
    category: 'time',
    signature: 'hour(ts)',
    summary: "The hour of the day (0–23) of timestamp `ts`, in UTC, as Flink's HOUR.",
    params: ['timestamp'],
    required: 1,
    returns: 'number',
    impl: (ms: number) => Math.floor(timeOfDay(ms) / 3_600_000),
  },
  {
    name: 'minute',
    category: 'time',
    signature: 'minute(ts)',
    summary: "The minute of the hour (0–59) of timestamp `ts`, in UTC, as Flink's MINUTE.",
    params: ['timestamp'],
    required: 1,
    returns: 'number',
    impl: (ms: number) => Math.floor(timeOfDay(ms) / 60_000) % 60,
  },
  {
    name: 'second',
    category: 'time',
    signature: 'second(ts)',
    summary: "The second of the minute (0–59) of timestamp `ts`, in UTC, as Flink's SECOND.",
    params: ['timestamp'],
    required: 1,
    returns: 'number',
    impl: (ms: number) => Math.floor(timeOfDay(ms) / 1000) % 60,
  },
  {
    name: 'from_unixtime',
    category: 'time',
    signature: 'from_unixtime(seconds[, pattern])',
    summary: "Epoch `seconds` as text in UTC, by a `date_format` pattern (default 'yyyy-MM-dd HH:mm:ss').",
    params: ['number', 'string'],
    required: 1,
    returns: 'string',
    impl: (seconds: number, pattern?: string) => dateFormat(Math.floor(seconds * 1000), pattern),
    check: (args) => checkPattern(args),
  },
  {
    name: 'json_value',
    category: 'conversion',
    signature: 'json_value(json, path)',
    summary:
      "The scalar at `path` (`$.a.b[0]`, `$['a b']`) of the JSON text `json`, as text; NULL when the text is not JSON, the path is absent, or it holds null, an object or an array.",
    params: ['string', 'string'],
    required: 2,
    returns: 'string',
    impl: jsonValue,
    check: checkPath,
  },
];
