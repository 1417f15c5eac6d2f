/**
 * @sluice/bigquery: the Google BigQuery sink, registered explicitly:
 *
 * ```ts
 * const registry = new Registry([builtins, bigquery]);
 * ```
 *
 * The `sluice` CLI loads this package by itself when a pipeline names `type: bigquery`.
 */

import { type Plugin, sinkOf } from '@sluice/core';
import { bigquerySink } from './sink.ts';

export { bigquerySink };

/** The BigQuery plugin: the sink of `type: bigquery`. */
export const bigquery: Plugin = { name: 'bigquery', components: [bigquerySink] };

/** TypeScript API helper: `.to('out', toBigquery({ project, dataset, table }))`. */
export const toBigquery = sinkOf(bigquerySink);
