/**
 * Config fields shared by the connectors that turn bytes into records (`file` and `stdin`
 * sources) and records into bytes (`file` and `stdout` sinks).
 */

import Type from 'typebox';
import { byteSizePattern } from '../byte-size.ts';
import { DEFAULT_MAX_DEPTH, MAX_MAX_DEPTH } from './input-guards.ts';

/** The longest line (or CSV record) a decoder takes when `max_line` is not given. */
export const DEFAULT_MAX_LINE = '1mb';

const delimiter = () =>
  Type.String({
    pattern: '^[\\t\\x20-\\x21\\x23-\\x7e]$',
    default: ',',
    description: 'CSV: the one character between fields (a tab or a printable ASCII character but `"`).',
    examples: [';', '\t'],
  });

/**
 * Schema properties of every source that decodes text: the deepest nesting a JSON record may
 * have, and what becomes of bytes that are not UTF-8.
 */
export const inputLimitFields = {
  max_depth: Type.Integer({
    minimum: 1,
    maximum: MAX_MAX_DEPTH,
    default: DEFAULT_MAX_DEPTH,
    description:
      'JSON: the deepest nesting of arrays and objects a record may have (the record itself is ' +
      `level 1). A deeper record is a dead letter. At most ${MAX_MAX_DEPTH}: deeper values would ` +
      'overflow the stack when written or checkpointed.',
    examples: [64],
  }),
  invalid_utf8: Type.Enum(['dead_letter', 'replace'], {
    default: 'dead_letter',
    description:
      'What becomes of a record whose bytes are not valid UTF-8: `dead_letter` (its bytes in ' +
      'base64, with the offset of the first bad byte) or `replace` (each bad sequence read as ' +
      'U+FFFD).',
    examples: ['replace'],
  }),
};

/** Schema properties of a source that decodes records: the format, its CSV options and input limits. */
export const decodeFields = {
  format: Type.Enum(['json', 'csv', 'text'], {
    default: 'json',
    description:
      'How bytes become records: `json` — one JSON object per line (JSON Lines); `csv` — RFC 4180 ' +
      'rows, a quoted field may span lines; `text` — each line is a record `{ line }`. Empty lines ' +
      'are skipped, `\\r\\n` line ends and a UTF-8 byte-order mark are accepted. A JSON number ' +
      'beyond the range of a double (`1e400`) makes its record a dead letter.',
    examples: ['csv'],
  }),
  header: Type.Boolean({
    default: true,
    description:
      'CSV: the first row names the fields. Off: every row is data and the fields are named ' +
      '`column0`, `column1`, …',
    examples: [false],
  }),
  delimiter: delimiter(),
  infer_types: Type.Boolean({
    default: true,
    description:
      'CSV: unquoted fields that are JSON numbers become numbers and `true`/`false` become ' +
      'booleans (`007`, integers beyond 2^53 and quoted fields stay text). Off: every field is text.',
    examples: [false],
  }),
  ...inputLimitFields,
  max_line: Type.String({
    pattern: byteSizePattern,
    default: DEFAULT_MAX_LINE,
    description:
      'Longest line (`json`, `text`) or CSV record, in bytes (e.g. `256kb`). A longer one becomes a dead ' +
      'letter holding its first kilobyte; it is skipped without being read into memory whole.',
    examples: ['16mb'],
  }),
};

/** Schema properties of a sink that encodes records: the format and its CSV options. */
export const encodeFields = {
  format: Type.Enum(['json', 'csv'], {
    default: 'json',
    description:
      'How records become bytes: `json` — one JSON object per line (JSON Lines; a record read as ' +
      'JSON that no step changed is written as the text it was read from); `csv` — a header ' +
      'row with the fields of the first record, then one row per record (`\\n` line ends, fields ' +
      'quoted when needed).',
    examples: ['csv'],
  }),
  delimiter: delimiter(),
};

/** Decoding options with defaults applied. */
export interface DecodeOptions {
  readonly format: 'json' | 'csv' | 'text';
  readonly header: boolean;
  readonly delimiter: string;
  readonly infer_types: boolean;
  /** JSON: deepest nesting of a record; DEFAULT_MAX_DEPTH when absent. */
  readonly max_depth?: number;
  /** Bytes that are not UTF-8: a dead letter (when absent) or U+FFFD. */
  readonly invalid_utf8?: 'dead_letter' | 'replace';
  /** Default `DEFAULT_MAX_LINE`. */
  readonly max_line?: string;
}

/** Encoding options with defaults applied. */
export interface EncodeOptions {
  readonly format: 'json' | 'csv';
  readonly delimiter: string;
}
