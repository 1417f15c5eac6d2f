/**
 * @sluice/redis: the Redis sink, lookup table and Streams source, registered explicitly:
 *
 * ```ts
 * const registry = new Registry([builtins, redis]);
 * ```
 *
 * The `sluice` CLI loads this package by itself when a pipeline names `type: redis`.
 */

import { type Plugin, sinkOf } from '@sluice/core';
import { redisLookup } from './lookup.ts';
import { redisSink } from './sink-spec.ts';

export { redisLookup, redisSink };

/** The Redis plugin: sink and lookup table of `type: redis`. */
export const redis: Plugin = { name: 'redis', components: [redisSink, redisLookup] };

/** TypeScript API helper: `.to('scores', toRedis({ mode: 'sorted_set', key: 'board', score_field: 'points' }))`. */
export const toRedis = sinkOf(redisSink);
