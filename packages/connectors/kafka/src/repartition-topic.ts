/**
 * The managed repartition topic of a regrouping pipeline: created by the first worker that starts
 * (every worker tries; the losers find it made), with as many partitions as the source topics —
 * one per task, so the tasks' parallelism is the same on both sides of it — and Kafka Streams'
 * settings for such a topic: `cleanup.policy=delete` with `retention.ms=-1` (records are never
 * removed by age, which would lose what a stopped task has not read; each downstream task
 * deletes what its durable checkpoints have read instead, see `repartition-source.ts`).
 */

import type { Admin } from '@platformatic/kafka';
import { SluiceError } from '@sluice/core';
import { isUnknownTopic } from './producer-topic.ts';

/** The topic configs a repartition topic is created with. */
export const REPARTITION_TOPIC_CONFIGS: { readonly [name: string]: string } = {
  'cleanup.policy': 'delete',
  'retention.ms': '-1',
};

/**
 * Makes sure `topic` exists with `partitions` partitions, creating it when missing. Throws
 * CONFIG_INVALID when it exists with another partition count (the source topics were changed:
 * the records in it are placed for the old count; delete the topic and the pipeline's
 * checkpoints to start again).
 */
export async function ensureRepartitionTopic(admin: Admin, topic: string, partitions: number): Promise<void> {
  const existing = await partitionsOf(admin, topic);
  if (existing === undefined) {
    try {
      await admin.createTopics({
        topics: [topic],
        partitions,
        replicas: -1,
        configs: Object.entries(REPARTITION_TOPIC_CONFIGS).map(([name, value]) => ({ name, value })),
      });
    } catch (err) {
      // Another worker created it meanwhile: checked below.
      if (!/already exists/i.test(describe(err))) throw err;
    }
  } else if (existing !== partitions) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `the repartition topic '${topic}' has ${existing} partitions, but the source topics have ${partitions}: ` +
        'its records are placed for the old count; delete the topic and the pipeline’s checkpoints to start again',
      { path: 'topics' },
    );
  }
  // Wait until every partition has a leader: a task may start reading at once.
  for (let i = 0; i < 100; i++) {
    const md = await admin.metadata({ topics: [topic], forceUpdate: true }).catch(() => undefined);
    const t = md?.topics.get(topic);
    if (t && t.partitionsCount === partitions && t.partitions.every((p) => p.leader >= 0)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new SluiceError('SOURCE_UNAVAILABLE', `the repartition topic '${topic}' has no leaders after 10 s`);
}

async function partitionsOf(admin: Admin, topic: string): Promise<number | undefined> {
  try {
    const md = await admin.metadata({
      topics: [topic],
      autocreateTopics: false,
      forceUpdate: true,
      retries: 0,
    });
    return md.topics.get(topic)?.partitionsCount;
  } catch (err) {
    if (isUnknownTopic(err)) return undefined;
    throw err;
  }
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const inner = (err as Error & { errors?: unknown[] }).errors;
  return [err.message, ...(inner ?? []).map(describe)].join('; ');
}
