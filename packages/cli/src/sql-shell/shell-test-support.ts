/**
 * Driving the shell in tests: its streams as a terminal, keystrokes in, what it printed out, and
 * the last frame of a live result.
 */

import { PassThrough } from 'node:stream';
import { runShell, type ShellOptions } from './shell.ts';

/** A shell on a pretend terminal of `rows` × `columns`. */
export class ShellDriver {
  readonly input = new PassThrough();
  readonly output: PassThrough & { columns: number; rows: number };
  text = '';
  readonly done: Promise<number>;

  constructor(
    options: Omit<ShellOptions, 'input' | 'output' | 'terminal'> & { rows?: number; columns?: number },
  ) {
    const { rows, columns, ...rest } = options;
    this.output = Object.assign(new PassThrough(), { columns: columns ?? 120, rows: rows ?? 40 });
    this.output.setEncoding('utf8').on('data', (s: string) => {
      this.text += s;
    });
    this.done = runShell({
      ...rest,
      input: this.input,
      output: this.output,
      terminal: true,
      redrawInterval: 10,
    });
  }

  /** Types `keys` (use `\r` for Enter, `\t` Tab, `\x03` Ctrl-C, `\x04` Ctrl-D). */
  type(keys: string): void {
    this.input.write(keys);
  }

  /** The output from `from` on, without the terminal's escape sequences. */
  plain(from = 0): string {
    return stripAnsi(this.text.slice(from));
  }

  /**
   * Types `keys` one at a time, as a person does: readline takes a chunk of several characters
   * for a paste, in which a Tab is text rather than completion.
   */
  async typeEach(keys: string): Promise<void> {
    for (const key of keys) {
      this.input.write(key);
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  /** Waits until the output from `from` on matches `pattern`; returns where the output ended then. */
  async waitFor(pattern: RegExp, from = 0, timeoutMs = 30_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.plain(from))) {
      if (Date.now() > deadline)
        throw new Error(
          `timed out waiting for ${pattern}; the shell printed:\n${this.plain(from).replace(/\r/g, '')}`,
        );
      await new Promise((r) => setTimeout(r, 5));
    }
    return this.text.length;
  }

  /** The lines of the last frame drawn in place (after the last clear-to-end), up to its status line. */
  lastFrame(from = 0): string[] {
    const text = this.text.slice(from);
    const at = text.lastIndexOf('\x1b[J');
    const lines = stripAnsi(text.slice(at + 3)).split('\n');
    const status = lines.findIndex((l) => / mode: /.test(l));
    return lines.slice(0, status + 1);
  }
}

/** The text without ANSI escape sequences (cursor moves, clears, colours). */
export function stripAnsi(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the escape character starts them
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
}

/** The rows of a frame or text table (`a | b`), below its header and rule, as cells. */
export function frameRows(frame: readonly string[]): string[][] {
  return frame.slice(2, -1).map((l) => l.split(' | ').map((c) => c.trim()));
}
