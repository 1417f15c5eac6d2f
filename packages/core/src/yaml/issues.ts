/**
 * Collecting every problem of a pipeline file before failing, so one run reports them all.
 */

import { ConfigErrors, type ErrorCode, SluiceError } from '../errors.ts';

/** A 1-based line and column in the pipeline file. */
export interface Position {
  line: number;
  column: number;
}

/** Problems found so far in one file. */
export class IssueList {
  readonly file: string;
  readonly #errors: SluiceError[] = [];

  constructor(file: string) {
    this.file = file;
  }

  get size(): number {
    return this.#errors.length;
  }

  add(code: ErrorCode, path: string, message: string, at: Position, step?: string): void {
    this.#errors.push(
      new SluiceError(code, message, { file: this.file, line: at.line, column: at.column, path, step }),
    );
  }

  /** Throws the single problem, or a `ConfigErrors` listing all of them in file order. */
  throwIfAny(): void {
    if (this.#errors.length === 0) return;
    const sorted = [...this.#errors].sort(
      (a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0),
    );
    throw sorted.length === 1 ? sorted[0] : new ConfigErrors(sorted);
  }
}
