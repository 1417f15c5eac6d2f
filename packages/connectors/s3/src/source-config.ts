/**
 * The `s3` source's options, and its checkpointed position.
 */

import { decodeFields } from '@sluice/core';
import { type Static, Type } from 'typebox';
import { clientFields } from './client-config.ts';

export const s3SourceConfig = Type.Object(
  {
    ...clientFields,
    ...decodeFields,
    format: Type.Enum(['json', 'csv', 'text', 'parquet'], {
      default: 'json',
      description:
        'How an object becomes records: `json` — JSON Lines; `csv` — RFC 4180 rows; `text` — each line ' +
        'a record `{ line }` (as the `file` source reads them); `parquet` — each row of a Parquet file ' +
        '(structs as objects, lists as arrays, 64-bit integers as numbers, or as text beyond 2^53; ' +
        'timestamps as epoch milliseconds). A Parquet object is decoded whole; one that is not Parquet ' +
        'is a dead letter.',
      examples: ['parquet'],
    }),
    follow: Type.Boolean({
      default: true,
      description:
        'Keep listing the prefix for new objects (every `poll_interval`) after reading those there. ' +
        'Off: read the objects there at the start, then end.',
      examples: [false],
    }),
    poll_interval: Type.String({
      default: '5s',
      description: 'With `follow`: how long to wait before listing again when no new object was found.',
      examples: ['30s'],
    }),
  },
  { additionalProperties: false },
);

export type S3SourceConfig = Static<typeof s3SourceConfig>;

/**
 * Where the `s3` source is: every object up to `done` (in key order) was read; of `key`, the bytes
 * before `offset` (CSV: with the column names read from its header; Parquet: the rows before
 * `offset`).
 */
export interface S3SourcePosition {
  done: string | null;
  key?: string;
  offset?: number;
  columns?: string[];
}
