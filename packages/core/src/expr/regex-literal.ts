/**
 * A literal every match of a regular expression contains, found from the pattern's text: a
 * regexp_* function can then answer "no match" for a string without it by `includes`, without
 * running RE2 (Nexmark q21's `(&|^)channel_id=([^&]*)` over URLs most of which hold no
 * `channel_id=`). RE2's own prefilter works the same way on its parsed program.
 */

/** Characters that stand for themselves outside a character class in RE2 syntax. */
const PLAIN = /^[A-Za-z0-9_=&:/,;%@#!~<>'" -]$/;

/**
 * The longest run of plain characters that every match of `pattern` (RE2 syntax, no ignore-case
 * flag) must contain, or undefined when the pattern's text does not show one for sure. Only the
 * top level is read: groups, character classes, escapes and anchors break a run, a character
 * with a quantifier after it is left out, and an alternation at the top level, an inline flag or
 * group option (`(?`), a `\Q…\E` quote or a POSIX class (`[:alpha:]`) gives none.
 */
export function requiredLiteral(pattern: string): string | undefined {
  if (pattern.includes('(?') || pattern.includes('\\Q') || pattern.includes('[:')) return undefined;
  const runs: string[] = [];
  let run = '';
  const flush = () => {
    if (run !== '') runs.push(run);
    run = '';
  };
  let depth = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      // An escape (a literal, a class like \d, a code point \x{e9} or \x41, \pL, octal \101):
      // a break; what it escapes and, after a letter or digit, a braced argument and the letters
      // and digits that follow are skipped, since they may belong to it.
      flush();
      i++;
      if (!/[A-Za-z0-9]/.test(pattern[i] ?? '')) continue;
      if (pattern[i + 1] === '{') while (i < pattern.length && pattern[i] !== '}') i++;
      while (i + 1 < pattern.length && /[A-Za-z0-9]/.test(pattern[i + 1])) i++;
      continue;
    }
    if (c === '[') {
      flush();
      // A class: `]` right after `[` or `[^` is a member, `\` escapes the next character.
      i++;
      if (pattern[i] === '^') i++;
      if (pattern[i] === ']') i++;
      while (i < pattern.length && pattern[i] !== ']') i += pattern[i] === '\\' ? 2 : 1;
      continue;
    }
    if (c === '(') {
      flush();
      depth++;
      continue;
    }
    if (c === ')') {
      flush();
      depth--;
      continue;
    }
    if (depth > 0) continue;
    if (c === '|') return undefined;
    const next = pattern[i + 1];
    if (PLAIN.test(c) && next !== '*' && next !== '+' && next !== '?' && next !== '{') run += c;
    else flush();
  }
  flush();
  let longest: string | undefined;
  for (const r of runs) if (longest === undefined || r.length > longest.length) longest = r;
  return longest;
}
