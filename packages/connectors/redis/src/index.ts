/**
 * @sluice/redis: the Redis sink, lookup table and Streams source, registered explicitly:
 *
 * ```ts
 * const registry = new Registry([builtins, redis]);
 * ```
 *
 * The `sluice` CLI loads this package by itself when a pipeline names `type: redis`.
 */

import { type Plugin, sinkOf, sourceOf } from '@sluice/core';
import { redisLookup } from './lookup.ts';
import { redisSink } from './sink-spec.ts';
import { redisSource } from './source.ts';

export { redisLookup, redisSink, redisSource };

/** The Redis plugin: source, sink and lookup table of `type: redis`. */
export const redis: Plugin = { name: 'redis', components: [redisSource, redisSink, redisLookup] };

/** TypeScript API helpers: `.from('orders', redisStream({ stream: 'orders', group: 'g' }))`, and `.to('scores', toRedis({ mode: 'sorted_set', key: 'board', score_field: 'points' }))`. */
export const redisStream = sourceOf(redisSource);
export const toRedis = sinkOf(redisSink);
