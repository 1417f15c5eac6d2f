/**
 * @sluice/duckdb: the DuckDB sink, registered explicitly:
 *
 * ```ts
 * const registry = new Registry([builtins, duckdb]);
 * ```
 *
 * The `sluice` CLI loads this package by itself when a pipeline names `type: duckdb`.
 */

import { type Plugin, sinkOf } from '@sluice/core';
import { duckdbLookup } from './lookup.ts';
import { duckdbSink } from './sink-spec.ts';

export { duckdbLookup, duckdbSink };

/** The DuckDB plugin: the sink and the lookup of `type: duckdb`. */
export const duckdb: Plugin = { name: 'duckdb', components: [duckdbSink, duckdbLookup] };

/** TypeScript API helper: `.to('store', toDuckdb({ path: 'data.duckdb', table: 'orders' }))`. */
export const toDuckdb = sinkOf(duckdbSink);

export { type QueryResult, queryDuckdb } from './query.ts';
