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
import { natsLookup } from './lookup.ts';
import { natsSink } from './sink.ts';
import { natsSource } from './source.ts';

export { natsLookup, natsSink, natsSource };

/** The NATS plugin: the source, the sink and the KV lookup table of `type: nats`. */
export const nats: Plugin = { name: 'nats', components: [natsSource, natsSink, natsLookup] };

/** TypeScript API helpers: `.from('orders', natsStream({ stream: 'ORDERS' }))`, `toNats({ subject })`. */
export const natsStream = sourceOf(natsSource);
export const toNats = sinkOf(natsSink);
