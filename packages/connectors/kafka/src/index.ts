/**
 * @sluice/kafka: the Kafka source and sink, registered explicitly:
 *
 * ```ts
 * const registry = new Registry([builtins, kafka]);
 * ```
 *
 * The `sluice` CLI loads this package by itself when a pipeline names `type: kafka`.
 */

import { type Plugin, sinkOf, sourceOf } from '@sluice/core';
import { kafkaSink } from './sink.ts';
import { kafkaSource } from './source.ts';

export { kafkaSink, kafkaSource };

/** The Kafka plugin: source and sink of `type: kafka`. */
export const kafka: Plugin = { name: 'kafka', components: [kafkaSource, kafkaSink] };

/** TypeScript API helpers: `.from('orders', kafkaTopic({ topics: ['orders'], group_id: 'g' }))`. */
export const kafkaTopic = sourceOf(kafkaSource);
export const toKafka = sinkOf(kafkaSink);

export { KafkaWorker, type KafkaWorkerOptions, type TaskStoreContext } from './worker.ts';
export {
  describeWorkerGroup,
  type WorkerGroupDescription,
  type WorkerGroupMember,
  type WorkerGroupPlan,
  workerGroupPlan,
} from './worker-group.ts';
