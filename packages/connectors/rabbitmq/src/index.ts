/**
 * @sluice/rabbitmq: the RabbitMQ source and sink, registered explicitly:
 *
 * ```ts
 * const registry = new Registry([builtins, rabbitmq]);
 * ```
 *
 * The `sluice` CLI loads this package by itself when a pipeline names `type: rabbitmq`.
 */

import { type Plugin, sinkOf, sourceOf } from '@sluice/core';
import { rabbitmqSink } from './sink.ts';
import { rabbitmqSource } from './source.ts';

export { rabbitmqSink, rabbitmqSource };

/** The RabbitMQ plugin: source and sink of `type: rabbitmq`. */
export const rabbitmq: Plugin = { name: 'rabbitmq', components: [rabbitmqSource, rabbitmqSink] };

/** TypeScript API helpers: `.from('orders', rabbitmqQueue({ queue: 'orders' }))`. */
export const rabbitmqQueue = sourceOf(rabbitmqSource);
export const toRabbitmq = sinkOf(rabbitmqSink);
