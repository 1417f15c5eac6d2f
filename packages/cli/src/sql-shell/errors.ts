/**
 * A shell error in words: the message, and for an error with a line and column, the line of the
 * statement it is in with a caret under the spot.
 */

import { redactUrlCredentials, SluiceError } from '@sluice/core';
import type { SessionScript } from './session.ts';
import { ShellError } from './session.ts';

/**
 * The lines that report `err`, raised by compiling or running `script` (whose last part is the
 * statement typed): `error: message (CODE)`, then where it is — the statement's line and a caret
 * — when the error has a position. An error in an earlier statement of the session names it.
 */
export function describeError(err: unknown, script?: SessionScript): string {
  if (err instanceof ShellError) return `error: ${err.message}\n`;
  if (!(err instanceof SluiceError)) {
    const message = err instanceof Error ? err.message : String(err);
    return `error: ${redactUrlCredentials(message)}\n`;
  }
  const where = [err.step, err.path].filter((p) => p !== undefined && p !== '').join(' ');
  let out = `error: ${where ? `${where}: ` : ''}${err.message} (${err.code})\n`;
  if (script === undefined || err.line === undefined) return out;
  const part = [...script.parts].reverse().find((p) => p.line <= (err.line ?? 0));
  if (part === undefined) return out;
  const lines = part.text.split('\n');
  const local = err.line - part.line;
  if (local >= lines.length) return out;
  const column = err.column ?? 1;
  const name = part.entry ? `in ${part.entry.kind} ${part.entry.name}, ` : '';
  out += `  ${name}line ${local + 1}, column ${column}:\n`;
  out += `  ${lines[local]}\n`;
  out += `  ${' '.repeat(Math.max(0, column - 1))}^\n`;
  return out;
}
