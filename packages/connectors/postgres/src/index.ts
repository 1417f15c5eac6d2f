/**
 * @sluice/postgres: the PostgreSQL sink and lookup table, registered explicitly:
 *
 * ```ts
 * const registry = new Registry([builtins, postgres]);
 * ```
 *
 * The `sluice` CLI loads this package by itself when a pipeline names `type: postgres`.
 */

import { type Plugin, sinkOf } from '@sluice/core';
import { postgresLookup } from './lookup.ts';
import { postgresSink } from './sink-spec.ts';

export { postgresLookup, postgresSink };

/** The PostgreSQL plugin: the sink and the lookup table of `type: postgres`. */
export const postgres: Plugin = { name: 'postgres', components: [postgresSink, postgresLookup] };

/** TypeScript API helper: `.to('totals', toPostgres({ url, table: 'totals', mode: 'upsert', key: ['region'] }))`. */
export const toPostgres = sinkOf(postgresSink);
