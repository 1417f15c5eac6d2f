/**
 * @sluice/hdfs: the HDFS sink over WebHDFS, registered explicitly:
 *
 * ```ts
 * const registry = new Registry([builtins, hdfs]);
 * ```
 *
 * The `sluice` CLI loads this package by itself when a pipeline names `type: hdfs`.
 */

import { type Plugin, sinkOf } from '@sluice/core';
import { hdfsSink } from './sink.ts';

export { hdfsSink };

/** The HDFS plugin: the sink of `type: hdfs`. */
export const hdfs: Plugin = { name: 'hdfs', components: [hdfsSink] };

/** TypeScript API helper: `.to('archive', toHdfs({ path: '/data/orders', user: 'etl' }))`. */
export const toHdfs = sinkOf(hdfsSink);
