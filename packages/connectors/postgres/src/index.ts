/**
 * @sluice/postgres: the PostgreSQL source (change data capture), sink and lookup table, registered explicitly:
 *
 * ```ts
 * const registry = new Registry([builtins, postgres]);
 * ```
 *
 * The `sluice` CLI loads this package by itself when a pipeline names `type: postgres`.
 */

import { type Plugin, sinkOf, sourceOf } from '@sluice/core';
import { postgresSource } from './cdc-source.ts';
import { postgresLookup } from './lookup.ts';
import { postgresSink } from './sink-spec.ts';

export { postgresLookup, postgresSink, postgresSource };

/** The PostgreSQL plugin: the source (change data capture), the sink and the lookup table of `type: postgres`. */
export const postgres: Plugin = {
  name: 'postgres',
  components: [postgresSource, postgresSink, postgresLookup],
};

/** TypeScript API helper: `.to('totals', toPostgres({ url, table: 'totals', mode: 'upsert', key: ['region'] }))`. */
export const toPostgres = sinkOf(postgresSink);

/** TypeScript API helper: `p.source('orders', fromPostgres({ url, table: 'public.orders', key: ['id'] }))`. */
export const fromPostgres = sourceOf(postgresSource);

export { type ReadSlotsOptions, readCheckpointSlots } from './checkpoint-slots.ts';
export { PostgresCheckpointStore, type PostgresCheckpointStoreOptions } from './checkpoint-store.ts';
