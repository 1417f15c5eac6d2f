/**
 * @sluice/nats: the NATS JetStream source, sink and KV lookup, registered explicitly:
 *
 * ```ts
 * const registry = new Registry([builtins, nats]);
 * ```
 *
 * The `sluice` CLI loads this package by itself when a pipeline names `type: nats`.
 */

import { type Plugin, sourceOf } from '@sluice/core';
import { natsSource } from './source.ts';

export { natsSource };

/** The NATS plugin: source of `type: nats`. */
export const nats: Plugin = { name: 'nats', components: [natsSource] };

/** TypeScript API helper: `.from('orders', natsStream({ stream: 'ORDERS' }))`. */
export const natsStream = sourceOf(natsSource);
