/**
 * @sluice/s3: the S3-compatible object storage source and sink, registered explicitly:
 *
 * ```ts
 * const registry = new Registry([builtins, s3]);
 * ```
 *
 * The `sluice` CLI loads this package by itself when a pipeline names `type: s3`.
 */

import { type Plugin, sinkOf, sourceOf } from '@sluice/core';
import { s3Sink } from './sink.ts';
import { s3Source } from './source.ts';

export {
  listSlots,
  readS3CheckpointSlots,
  S3CheckpointStore,
  type S3CheckpointStoreOptions,
  type S3StoreLocation,
  type SlotEntry,
  type SlotHead,
  s3StoreLocation,
} from './checkpoint-store.ts';
export { s3Sink, s3Source };

/** The S3 plugin: the source and sink of `type: s3`. */
export const s3: Plugin = { name: 's3', components: [s3Source, s3Sink] };

/** TypeScript API helper: `.from('incoming', s3Objects({ bucket: 'events', prefix: 'in/' }))`. */
export const s3Objects = sourceOf(s3Source);

/** TypeScript API helper: `.to('archive', toS3({ bucket: 'events', prefix: 'orders/' }))`. */
export const toS3 = sinkOf(s3Sink);
