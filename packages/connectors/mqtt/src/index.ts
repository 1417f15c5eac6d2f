/**
 * @sluice/mqtt: the MQTT source and sink, registered explicitly:
 *
 * ```ts
 * const registry = new Registry([builtins, mqtt]);
 * ```
 *
 * The `sluice` CLI loads this package by itself when a pipeline names `type: mqtt`.
 */

import { type Plugin, sinkOf, sourceOf } from '@sluice/core';
import { mqttSink } from './sink.ts';
import { mqttSource } from './source.ts';

export { mqttSink, mqttSource };

/** The MQTT plugin: source and sink of `type: mqtt`. */
export const mqtt: Plugin = { name: 'mqtt', components: [mqttSource, mqttSink] };

/** TypeScript API helpers: `.from('readings', mqttTopics({ topics: ['sensors/#'] }))`. */
export const mqttTopics = sourceOf(mqttSource);
export const toMqtt = sinkOf(mqttSink);
