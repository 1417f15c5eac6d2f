/**
 * A small structured logger: JSON lines (for machines) or short text lines (for people).
 */

import type { Logger } from './connector.ts';
import { redactUrlCredentials } from './url-credentials.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const rank: { [L in LogLevel]: number } = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface LoggerOptions {
  level?: LogLevel;
  format?: 'json' | 'text';
  /** Where lines go; default stderr. */
  write?: (line: string) => void;
  /** Fields added to every line (e.g. the pipeline name). */
  base?: { [k: string]: unknown };
}

/**
 * Creates a logger writing one line per message. Credentials in URLs anywhere in a line (message,
 * fields, errors) are replaced by `***` before it is written.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const min = rank[options.level ?? 'info'];
  const output = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const write = (line: string) => output(redactUrlCredentials(line));
  const base = options.base ?? {};
  const json = options.format !== 'text';
  const line = (level: LogLevel, message: string, fields?: { [k: string]: unknown }) => {
    if (rank[level] < min) return;
    if (json) {
      write(
        JSON.stringify({ time: new Date().toISOString(), level, msg: message, ...base, ...fields }, replacer),
      );
    } else {
      const extra = fields
        ? Object.entries(fields)
            .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v, replacer)}`)
            .join(' ')
        : '';
      write(`${level.padEnd(5)} ${message}${extra ? ` ${extra}` : ''}`);
    }
  };
  return {
    debug: (m, f) => line('debug', m, f),
    info: (m, f) => line('info', m, f),
    warn: (m, f) => line('warn', m, f),
    error: (m, f) => line('error', m, f),
  };
}

function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (typeof value === 'bigint') return value.toString();
  if (value === Number.POSITIVE_INFINITY) return 'Infinity';
  if (value === Number.NEGATIVE_INFINITY) return '-Infinity';
  return value;
}
