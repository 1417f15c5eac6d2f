/**
 * The `s3` sink's options, and what it records in a checkpoint.
 */

import { type Static, Type } from 'typebox';
import { clientFields } from './client-config.ts';

/** S3's least part size: every part of a multipart upload but the last is at least this big. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;

export const s3SinkConfig = Type.Object(
  {
    ...clientFields,
    format: Type.Union([Type.Literal('jsonl'), Type.Literal('parquet')], {
      default: 'jsonl',
      description:
        'Object format. `jsonl`: one record as JSON per line (`*.jsonl`), uploaded in parts as it grows. ' +
        '`parquet`: a Parquet file per object (`*.parquet`; schema inferred from the object’s records: ' +
        'nested objects as structs, arrays as lists, integers as INT64, other numbers as DOUBLE, a field ' +
        'of mixed kinds as text; column statistics on), encoded when the object is finished, so the ' +
        'records of an open object are held in memory up to `roll.max_bytes` of JSON.',
      examples: ['parquet'],
    }),
    compression: Type.Union(
      [Type.Literal('zstd'), Type.Literal('snappy'), Type.Literal('gzip'), Type.Literal('none')],
      {
        default: 'zstd',
        description: 'Compression codec of `parquet` objects (ignored for `jsonl`).',
        examples: ['snappy'],
      },
    ),
    partition_by: Type.Optional(
      Type.Object(
        {
          time: Type.Optional(
            Type.String({
              minLength: 1,
              description:
                'Folders from each record’s event time (UTC): text outside braces is kept; inside, ' +
                '`yyyy`, `MM`, `dd`, `HH`, `mm` are its year, month, day, hour and minute.',
              examples: ['dt={yyyy-MM-dd}/hour={HH}'],
            }),
          ),
          fields: Type.Optional(
            Type.Array(Type.String({ minLength: 1 }), {
              minItems: 1,
              description:
                'Fields whose values name further folders, Hive-style (`region=EU`), after the time ' +
                'folders. A NULL or missing value is written `__HIVE_DEFAULT_PARTITION__`; `/`, `=`, ' +
                '`%` and other characters a path cannot hold are escaped as `%XX`.',
              examples: [['region']],
            }),
          ),
        },
        {
          additionalProperties: false,
          minProperties: 1,
          description:
            'Split the objects into Hive-style folders under `prefix` (`dt=2026-12-06/hour=13/region=EU/`). ' +
            'Absent: every object directly under `prefix`.',
        },
      ),
    ),
    roll: Type.Object(
      {
        max_bytes: Type.Integer({
          minimum: 1,
          default: 134_217_728,
          description:
            'Finish an object once it holds this many bytes or more; the next record starts a new one.',
          examples: [67_108_864],
        }),
        max_age: Type.String({
          default: '15m',
          description:
            'Finish an object once it has been open this long (a duration; checked when records ' +
            'arrive). Every checkpoint also finishes the open objects.',
          examples: ['5m'],
        }),
      },
      {
        additionalProperties: false,
        default: {},
        description: 'When an object is finished and the next one started.',
      },
    ),
    part_bytes: Type.Integer({
      minimum: MIN_PART_BYTES,
      default: MIN_PART_BYTES,
      description:
        'Size of the parts an object is uploaded in while it grows (S3’s least is 5 MiB; the last ' +
        'part of an object may be smaller). Memory held per open object is about this much.',
      examples: [16_777_216],
    }),
  },
  { additionalProperties: false },
);

export type S3SinkConfig = Static<typeof s3SinkConfig>;

/** One object uploaded in parts and not yet completed (published). */
export interface PreparedUpload {
  key: string;
  uploadId: string;
  parts: { n: number; etag: string }[];
}

/**
 * What the `s3` sink checkpoints: the finished objects whose multipart uploads complete once the
 * checkpoint is durable (a restart completes them; every other upload of this sink is aborted).
 */
export interface S3SinkState {
  uploads: PreparedUpload[];
}
