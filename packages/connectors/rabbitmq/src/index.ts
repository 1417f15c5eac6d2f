/**
 * @sluice/rabbitmq: the RabbitMQ source and sink, registered explicitly:
 *
 * ```ts
 * const registry = new Registry([builtins, rabbitmq]);
 * ```
 *
 * The `sluice` CLI loads this package by itself when a pipeline names `type: rabbitmq`.
 */

import { type Plugin, sourceOf } from '@sluice/core';
import { rabbitmqSource } from './source.ts';

export { rabbitmqSource };

/** The RabbitMQ plugin: source and sink of `type: rabbitmq`. */
export const rabbitmq: Plugin = { name: 'rabbitmq', components: [rabbitmqSource] };

/** TypeScript API helper: `.from('orders', rabbitmqQueue({ queue: 'orders' }))`. */
export const rabbitmqQueue = sourceOf(rabbitmqSource);
