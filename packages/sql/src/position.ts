/**
 * Offsets in a SQL script to file, line and column, and the errors that carry them.
 */

import { type ErrorCode, type ErrorLocation, SluiceError } from '@sluice/core';

/** Maps offsets of one script to 1-based lines and columns. */
export class Positions {
  readonly file: string;
  /** The script, so that an expression's text can be cut from it. */
  readonly text: string;
  readonly #lineStarts: number[] = [0];

  constructor(text: string, file: string) {
    this.file = file;
    this.text = text;
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) this.#lineStarts.push(i + 1);
  }

  /** The file, line and column of `offset`. */
  at(offset: number): Required<ErrorLocation> {
    let lo = 0;
    let hi = this.#lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.#lineStarts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { file: this.file, line: lo + 1, column: offset - this.#lineStarts[lo] + 1 };
  }

  /** An error of `code` at `offset`. */
  error(code: ErrorCode, offset: number, message: string): SluiceError {
    return new SluiceError(code, message, this.at(offset));
  }

  /**
   * The expression parser's EXPR_SYNTAX (`at column N: …`, N counted from the start of the text
   * it tokenized, here the whole script) as CONFIG_PARSE at the script's line and column, with the
   * columns its message names as lines and columns too; any other error unchanged.
   */
  relocate(err: unknown): unknown {
    if (!(err instanceof SluiceError) || err.code !== 'EXPR_SYNTAX' || err.line !== undefined) return err;
    const m = /^at column (\d+): /.exec(err.message);
    if (m === null) return err;
    // Columns the message names (`the '(' at column 3`) are offsets into the script too.
    const message = err.message.slice(m[0].length).replace(/at column (\d+)/g, (_, n: string) => {
      const at = this.at(Number(n) - 1);
      return `at line ${at.line}, column ${at.column}`;
    });
    return new SluiceError('CONFIG_PARSE', message, {
      ...this.at(Number(m[1]) - 1),
      cause: err,
    });
  }
}
