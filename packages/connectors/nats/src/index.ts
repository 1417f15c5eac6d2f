/**
 * @sluice/nats: the NATS JetStream source, sink and KV lookup, registered explicitly:
 *
 * ```ts
 * const registry = new Registry([builtins, nats]);
 * ```
 *
 * The `sluice` CLI loads this package by itself when a pipeline names `type: nats`.
 */

import { type Plugin, sinkOf, sourceOf } from '@sluice/core';
import { natsSink } from './sink.ts';
import { natsSource } from './source.ts';

export { natsSink, natsSource };

/** The NATS plugin: source and sink of `type: nats`. */
export const nats: Plugin = { name: 'nats', components: [natsSource, natsSink] };

/** TypeScript API helpers: `.from('orders', natsStream({ stream: 'ORDERS' }))`, `toNats({ subject })`. */
export const natsStream = sourceOf(natsSource);
export const toNats = sinkOf(natsSink);
