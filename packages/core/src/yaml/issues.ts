/**
 * Collecting every problem of a pipeline file before failing, so one run reports them all.
 */

import { type ErrorCode, SluiceError } from '../errors.ts';

/** A 1-based line and column in the pipeline file. */
export interface Position {
  line: number;
  column: number;
}

/**
 * Several problems found in one pipeline file. `errors` holds each one as a `SluiceError` with its
 * own code and location; the aggregate takes the code, location, path and step of the first (in
 * file order) and its message lists every problem as `file:line:col: path: message`, one a line.
 * A file with a single problem throws that `SluiceError` itself, not a `ConfigErrors`.
 */
export class ConfigErrors extends SluiceError {
  readonly errors: readonly SluiceError[];

  constructor(errors: readonly SluiceError[]) {
    const [first] = errors;
    super(first.code, errors.map(lineOf).join('\n'), {
      file: first.file,
      line: first.line,
      column: first.column,
      path: first.path,
      step: first.step,
    });
    this.errors = errors;
  }

  /** One line per problem, each with its code. */
  override describe(): string {
    return this.errors.map((e) => e.describe()).join('\n');
  }
}

function lineOf(error: SluiceError): string {
  const path = error.path ? `${error.path}: ` : '';
  return `${error.file}:${error.line}:${error.column}: ${path}${error.message}`;
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
