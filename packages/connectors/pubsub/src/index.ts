/**
 * @sluice/pubsub: the Google Cloud Pub/Sub source and sink, registered explicitly:
 *
 * ```ts
 * const registry = new Registry([builtins, pubsub]);
 * ```
 *
 * The `sluice` CLI loads this package by itself when a pipeline names `type: pubsub`.
 */

import { type Plugin, sinkOf, sourceOf } from '@sluice/core';
import { pubsubSink } from './sink.ts';
import { pubsubSource } from './source.ts';

export { pubsubSink, pubsubSource };

/** The Pub/Sub plugin: the source and the sink of `type: pubsub`. */
export const pubsub: Plugin = { name: 'pubsub', components: [pubsubSource, pubsubSink] };

/** TypeScript API helpers: `.from('orders', pubsubSubscription({ ... }))`, `toPubsub({ topic })`. */
export const pubsubSubscription = sourceOf(pubsubSource);
export const toPubsub = sinkOf(pubsubSink);
