/**
 * The `s3` sink's options, and what it records in a checkpoint.
 */

import { layoutFields } from '@sluice/files';
import { type Static, Type } from 'typebox';
import { clientFields } from './client-config.ts';

/** S3's least part size: every part of a multipart upload but the last is at least this big. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;

export const s3SinkConfig = Type.Object(
  {
    ...clientFields,
    ...layoutFields,
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
