/**
 * The shell's history file: one entry a line, oldest first, under `$SLUICE_HOME` or `~/.sluice`
 * (as Flink's client keeps `~/.flink-sql-history`). A statement over several lines is one entry,
 * its lines joined by spaces.
 */

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** Entries kept; older ones are dropped when the file is written. */
export const HISTORY_SIZE = 1000;

/** Where the history lives: `$SLUICE_HOME/sql-history`, else `~/.sluice/sql-history`. */
export function historyFile(env: NodeJS.ProcessEnv = process.env): string {
  const home =
    env.SLUICE_HOME !== undefined && env.SLUICE_HOME !== '' ? env.SLUICE_HOME : join(homedir(), '.sluice');
  return join(home, 'sql-history');
}

/** The entries of the file, newest first (as node:readline's `history` option takes them); none when it is missing. */
export function loadHistory(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(-HISTORY_SIZE)
    .reverse();
}

/**
 * Writes `entries` (newest first) to the file, oldest first. A history that cannot be written
 * is reported once by the caller and does not stop the shell.
 */
export function saveHistory(file: string, entries: readonly string[]): void {
  mkdirSync(dirname(file), { recursive: true });
  const lines = entries.slice(0, HISTORY_SIZE).reverse();
  writeFileSync(file, lines.length > 0 ? `${lines.join('\n')}\n` : '', { mode: 0o600 });
}
