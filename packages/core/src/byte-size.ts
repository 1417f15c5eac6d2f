/**
 * Sizes in bytes as configs write them: `512kb`, `1mb`, `2gb`, `100b` or a bare number of bytes.
 */

import { SluiceError } from './errors.ts';

const byteUnits: { [unit: string]: number } = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** Pattern of a size in a config schema. */
export const byteSizePattern = '^\\s*\\d+(\\.\\d+)?\\s*([bB]|[kKmMgG][bB])?\\s*$';

/**
 * Parses a size such as `512kb`, `1mb`, `2gb` or `100b` (units of 1024; a bare number is bytes).
 * Throws CONFIG_INVALID naming `path` when the text is not a size.
 */
export function parseByteSize(value: string | number, path = 'size'): number {
  const match = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/i.exec(String(value).trim());
  if (!match) {
    throw new SluiceError('CONFIG_INVALID', `'${value}' is not a size; write e.g. 512kb, 1mb or 100b`, {
      path,
    });
  }
  return Math.floor(Number(match[1]) * byteUnits[(match[2] ?? 'b').toLowerCase()]);
}

/** A size in the largest unit that writes it exactly: 1048576 → `1mb`, 1536 → `1536b`. */
export function formatByteSize(bytes: number): string {
  for (const unit of ['gb', 'mb', 'kb'] as const) {
    if (bytes >= byteUnits[unit] && bytes % byteUnits[unit] === 0) return `${bytes / byteUnits[unit]}${unit}`;
  }
  return `${bytes}b`;
}
