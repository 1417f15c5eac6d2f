/**
 * @sluice/cassandra: the Cassandra sink and lookup table, registered explicitly:
 *
 * ```ts
 * const registry = new Registry([builtins, cassandra]);
 * ```
 *
 * The `sluice` CLI loads this package by itself when a pipeline names `type: cassandra`.
 */

import { type Plugin, sinkOf } from '@sluice/core';
import { cassandraLookup } from './lookup.ts';
import { cassandraSink } from './sink-spec.ts';

export { cassandraLookup, cassandraSink };

/** The Cassandra plugin: sink and lookup table of `type: cassandra`. */
export const cassandra: Plugin = { name: 'cassandra', components: [cassandraSink, cassandraLookup] };

/** TypeScript API helper: `.to('history', toCassandra({ keyspace: 'shop', table: 'user_history' }))`. */
export const toCassandra = sinkOf(cassandraSink);
