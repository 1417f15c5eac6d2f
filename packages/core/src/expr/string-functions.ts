/**
 * String functions. Positions and lengths count characters (code points), 1-based as in SQL.
 */

import { charCount, charLength, charSlice } from './chars.ts';
import { evalError } from './failure.ts';
import type { FunctionSpec } from './function-spec.ts';
import { jsReplacement, type UserRegex } from './regex.ts';

const MAX_PAD = 10_000_000;

function substr(s: string, start: number, length?: number): string | null {
  if (length !== undefined && length < 0) {
    return evalError(`substr(): negative length ${length}; the length must be 0 or more`);
  }
  const from = start - 1;
  const to = length === undefined ? Number.POSITIVE_INFINITY : from + length;
  return charSlice(s, Math.max(from, 0), to);
}

function splitPart(s: string, delimiter: string, n: number): string {
  if (n === 0)
    return evalError('split_part(): the field number must not be 0; 1 is the first field, -1 the last');
  if (delimiter === '') return n === 1 || n === -1 ? s : '';
  if (n > 0) {
    let from = 0;
    for (let i = 1; i < n; i++) {
      const at = s.indexOf(delimiter, from);
      if (at < 0) return '';
      from = at + delimiter.length;
    }
    const end = s.indexOf(delimiter, from);
    return s.slice(from, end < 0 ? s.length : end);
  }
  let to = s.length;
  for (let i = -1; i > n; i--) {
    const at = to - delimiter.length < 0 ? -1 : s.lastIndexOf(delimiter, to - delimiter.length);
    if (at < 0) return '';
    to = at;
  }
  const start = to - delimiter.length < 0 ? -1 : s.lastIndexOf(delimiter, to - delimiter.length);
  return s.slice(start < 0 ? 0 : start + delimiter.length, to);
}

function pad(fn: string, s: string, length: number, fill: string, left: boolean): string {
  if (length > MAX_PAD) return evalError(`${fn}(): length ${length} is too large; the limit is ${MAX_PAD}`);
  if (length <= 0) return '';
  const have = charLength(s);
  if (have >= length) return charSlice(s, 0, length);
  if (fill === '') return s;
  const need = length - have;
  const fillLength = charLength(fill);
  const padding = charSlice(fill.repeat(Math.ceil(need / fillLength)), 0, need);
  return left ? padding + s : s + padding;
}

function position(sub: string, s: string): number {
  const at = s.indexOf(sub);
  return at < 0 ? 0 : charCount(s, at) + 1;
}

function replace(s: string, from: string, to: string): string {
  if (from === '') return s;
  return s.replaceAll(from, to.includes('$') ? to.replaceAll('$', '$$$$') : to);
}

/** The string functions. */
export const stringFunctions: readonly FunctionSpec[] = [
  {
    name: 'upper',
    category: 'string',
    signature: 'upper(s)',
    summary: 'Converts `s` to upper case.',
    params: ['string'],
    required: 1,
    returns: 'string',
    impl: (s: string) => s.toUpperCase(),
  },
  {
    name: 'lower',
    category: 'string',
    signature: 'lower(s)',
    summary: 'Converts `s` to lower case.',
    params: ['string'],
    required: 1,
    returns: 'string',
    impl: (s: string) => s.toLowerCase(),
  },
  {
    name: 'trim',
    category: 'string',
    signature: 'trim(s)',
    summary: 'Removes whitespace from both ends of `s`.',
    params: ['string'],
    required: 1,
    returns: 'string',
    impl: (s: string) => s.trim(),
  },
  {
    name: 'ltrim',
    category: 'string',
    signature: 'ltrim(s)',
    summary: 'Removes whitespace from the start of `s`.',
    params: ['string'],
    required: 1,
    returns: 'string',
    impl: (s: string) => s.trimStart(),
  },
  {
    name: 'rtrim',
    category: 'string',
    signature: 'rtrim(s)',
    summary: 'Removes whitespace from the end of `s`.',
    params: ['string'],
    required: 1,
    returns: 'string',
    impl: (s: string) => s.trimEnd(),
  },
  {
    name: 'length',
    aliases: ['char_length', 'character_length'],
    category: 'string',
    signature: 'length(s)',
    summary: 'Number of characters in `s`. Aliases: char_length, character_length.',
    params: ['string'],
    required: 1,
    returns: 'number',
    impl: charLength,
  },
  {
    name: 'substr',
    aliases: ['substring'],
    category: 'string',
    signature: 'substr(s, start[, length])',
    summary:
      'The characters of `s` from position `start` (1 is the first), `length` of them or to the end. Also `substring(s FROM start FOR length)`.',
    params: ['string', 'integer', 'integer'],
    required: 2,
    returns: 'string',
    impl: substr,
  },
  {
    name: 'replace',
    category: 'string',
    signature: 'replace(s, from, to)',
    summary: 'Replaces every occurrence of `from` in `s` with `to`.',
    params: ['string', 'string', 'string'],
    required: 3,
    returns: 'string',
    impl: replace,
  },
  {
    name: 'split_part',
    category: 'string',
    signature: 'split_part(s, delimiter, n)',
    summary:
      'Field `n` of `s` split on `delimiter`: 1 is the first, -1 the last; the empty string when there is no such field.',
    params: ['string', 'string', 'integer'],
    required: 3,
    returns: 'string',
    impl: splitPart,
  },
  {
    name: 'starts_with',
    category: 'string',
    signature: 'starts_with(s, prefix)',
    summary: 'Whether `s` begins with `prefix`.',
    params: ['string', 'string'],
    required: 2,
    returns: 'boolean',
    impl: (s: string, prefix: string) => s.startsWith(prefix),
  },
  {
    name: 'ends_with',
    category: 'string',
    signature: 'ends_with(s, suffix)',
    summary: 'Whether `s` ends with `suffix`.',
    params: ['string', 'string'],
    required: 2,
    returns: 'boolean',
    impl: (s: string, suffix: string) => s.endsWith(suffix),
  },
  {
    name: 'position',
    category: 'string',
    signature: 'position(sub IN s)',
    summary: 'Position of the first `sub` in `s` (1 is the first character), or 0 when absent.',
    params: ['string', 'string'],
    required: 2,
    returns: 'number',
    impl: position,
  },
  {
    name: 'strpos',
    category: 'string',
    signature: 'strpos(s, sub)',
    summary: 'Position of the first `sub` in `s` (1 is the first character), or 0 when absent.',
    params: ['string', 'string'],
    required: 2,
    returns: 'number',
    impl: (s: string, sub: string) => position(sub, s),
  },
  {
    name: 'lpad',
    category: 'string',
    signature: 'lpad(s, length[, fill])',
    summary:
      'Pads `s` on the left with `fill` (default a space) to `length` characters, or cuts it to that length.',
    params: ['string', 'integer', 'string'],
    required: 2,
    returns: 'string',
    impl: (s: string, length: number, fill?: string) => pad('lpad', s, length, fill ?? ' ', true),
  },
  {
    name: 'rpad',
    category: 'string',
    signature: 'rpad(s, length[, fill])',
    summary:
      'Pads `s` on the right with `fill` (default a space) to `length` characters, or cuts it to that length.',
    params: ['string', 'integer', 'string'],
    required: 2,
    returns: 'string',
    impl: (s: string, length: number, fill?: string) => pad('rpad', s, length, fill ?? ' ', false),
  },
  {
    name: 'concat',
    category: 'string',
    signature: 'concat(a, b, …)',
    summary: 'Joins the text of its arguments; NULL arguments are skipped (unlike ||, which gives NULL).',
    params: ['any'],
    required: 1,
    variadic: true,
    returns: 'string',
  },
  {
    name: 'regexp_like',
    category: 'string',
    signature: 'regexp_like(s, pattern[, flags])',
    summary:
      'Whether `s` contains a match of the regular expression `pattern`. Patterns of every regexp_* function use RE2 syntax and match in time linear in `s`, whatever the pattern: no backreferences or lookaround; `\\x{e9}` for a code point; `\\s` is ASCII whitespace; `.` matches one code point. Flags: i (ignore case), m (multi-line), s (dot matches newline).',
    params: ['string', 'regex', 'flags'],
    required: 2,
    returns: 'boolean',
    impl: (s: string, re: UserRegex) =>
      (re.required === undefined || s.includes(re.required)) && re.re.test(s),
  },
  {
    name: 'regexp_replace',
    category: 'string',
    signature: 'regexp_replace(s, pattern, replacement[, flags])',
    summary:
      'Replaces the first match of `pattern` (RE2) in `s` (every match with flag g). In `replacement`, \\1…\\9 insert groups and \\0 the whole match.',
    params: ['string', 'regex', 'string', 'flags'],
    required: 3,
    returns: 'string',
    globalFlag: true,
    impl: (s: string, re: UserRegex, replacement: string) => {
      if (re.required !== undefined && !s.includes(re.required)) return s;
      const m = re.re.matcher(s);
      return re.global
        ? m.replaceAll(jsReplacement(replacement))
        : m.replaceFirst(jsReplacement(replacement));
    },
  },
  {
    name: 'regexp_extract',
    category: 'string',
    signature: 'regexp_extract(s, pattern[, group])',
    summary:
      'The first match of `pattern` (RE2) in `s`, or its group number `group`; NULL when nothing matches.',
    params: ['string', 'regex', 'integer'],
    required: 2,
    returns: 'string',
    impl: (s: string, re: UserRegex, group?: number) => {
      if (re.required !== undefined && !s.includes(re.required)) return null;
      const m: (string | undefined)[] | null = re.re.exec(s);
      if (m === null) return null;
      const g = group ?? 0;
      if (g < 0 || g >= m.length) {
        return evalError(`regexp_extract(): the pattern has no group ${g}; it has ${m.length - 1}`);
      }
      return m[g] ?? null;
    },
  },
];
