/**
 * Statements out of typed lines: text gathers until a `;` outside quotes and comments ends a
 * statement, so one statement may span lines and one line may hold several.
 */

/** Gathers lines and gives back each statement a `;` completes. */
export class StatementBuffer {
  #text = '';

  /** Whether text of an unfinished statement is waiting (not only blanks and comments). */
  get pending(): boolean {
    return stripComments(this.#text).trim() !== '';
  }

  clear(): void {
    this.#text = '';
  }

  /** Adds a line; returns the statements it completes, trimmed, without their `;`. */
  push(line: string): string[] {
    this.#text += this.#text === '' ? line : `\n${line}`;
    const done: string[] = [];
    let start = 0;
    let quote: string | undefined;
    for (let i = 0; i < this.#text.length; i++) {
      const c = this.#text[i];
      if (quote !== undefined) {
        if (c === quote) quote = undefined;
        continue;
      }
      if (c === "'" || c === '"' || c === '`') quote = c;
      else if (c === '-' && this.#text[i + 1] === '-') {
        const end = this.#text.indexOf('\n', i);
        if (end < 0) break;
        i = end;
      } else if (c === '/' && this.#text[i + 1] === '*') {
        const end = this.#text.indexOf('*/', i + 2);
        if (end < 0) break;
        i = end + 1;
      } else if (c === ';') {
        const statement = this.#text.slice(start, i).trim();
        if (stripComments(statement).trim() !== '') done.push(statement);
        start = i + 1;
      }
    }
    this.#text = this.#text.slice(start).replace(/^\s*\n/, '');
    if (!this.pending && !this.#text.includes('/*')) this.#text = '';
    return done;
  }
}

/** The text without `--` and `/* … *\/` comments (quotes respected). */
export function stripComments(text: string): string {
  let out = '';
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
      out += c;
      continue;
    }
    if (c === '-' && text[i + 1] === '-') {
      const end = text.indexOf('\n', i);
      if (end < 0) break;
      i = end - 1;
      continue;
    }
    if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) break;
      i = end + 1;
      out += ' ';
      continue;
    }
    if (c === "'" || c === '"' || c === '`') quote = c;
    out += c;
  }
  return out;
}

/** The words a statement starts with, upper-cased, comments left out (at most `n`). */
export function leadingWords(text: string, n = 3): string[] {
  return stripComments(text)
    .trim()
    .split(/[\s(;]+/)
    .filter((w) => w !== '')
    .slice(0, n)
    .map((w) => w.toUpperCase());
}
