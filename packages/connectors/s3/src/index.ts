/**
 * @sluice/s3: the S3-compatible object storage sink, registered explicitly:
 *
 * ```ts
 * const registry = new Registry([builtins, s3]);
 * ```
 *
 * The `sluice` CLI loads this package by itself when a pipeline names `type: s3`.
 */

import { type Plugin, sinkOf } from '@sluice/core';
import { s3Sink } from './sink.ts';

export { s3Sink };

/** The S3 plugin: the sink of `type: s3`. */
export const s3: Plugin = { name: 's3', components: [s3Sink] };

/** TypeScript API helper: `.to('archive', toS3({ bucket: 'events', prefix: 'orders/' }))`. */
export const toS3 = sinkOf(s3Sink);
