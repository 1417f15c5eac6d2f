/**
 * What the `kafka` sink reads about its topic when it opens: partition count and the limits the
 * broker enforces on what is written to it.
 */

import { Admin, ConfigResourceTypes } from '@platformatic/kafka';
import { retry } from '@sluice/core';
import { failureKind } from './producer-errors.ts';
import { libraryOptions, type ProducerSettings } from './producer-settings.ts';

/** What the sink needs to know about its topic. */
export interface TopicInfo {
  partitions: number;
  /** Largest record batch the topic accepts (`max.message.bytes`). */
  maxMessageBytes: number;
  /** `cleanup.policy` includes `compact`: every message needs a key. */
  compacted: boolean;
  /** `message.timestamp.type=CreateTime`: the broker checks the producer's timestamps. */
  createTime: boolean;
  /** How far a timestamp may be ahead of / behind the broker's clock (ms). */
  maxAheadMs: number;
  maxBehindMs: number;
  /**
   * How long the broker keeps a record, counted from its timestamp (`retention.ms`); undefined
   * when time does not delete records (`-1`, or a `cleanup.policy` without `delete`).
   */
  retentionMs: number | undefined;
}

/** Topic configs the sink reads, with Kafka's defaults for when they cannot be read. */
const TOPIC_DEFAULTS = {
  'max.message.bytes': '1048588',
  'cleanup.policy': 'delete',
  'message.timestamp.type': 'CreateTime',
  'message.timestamp.after.max.ms': '3600000',
  'message.timestamp.before.max.ms': '9223372036854775807',
  'retention.ms': '604800000',
};

/** Whether `err` is the library's report of a topic that does not exist. */
export function isUnknownTopic(err: unknown): boolean {
  return err instanceof Error && /^Unknown topic /.test(err.message);
}

/**
 * The partition count and limits of `topic`. Rejects with the library's "Unknown topic" error
 * when it does not exist; falls back to Kafka's defaults when its configs may not be described.
 */
export async function describeTopic(settings: ProducerSettings, topic: string): Promise<TopicInfo> {
  const admin = new Admin({ ...libraryOptions(settings), autocreateTopics: false });
  try {
    // Retried here rather than in the library, so that an unknown topic fails at once.
    const metadata = await retry(
      () => admin.metadata({ topics: [topic], autocreateTopics: false, retries: 0 }),
      { ...settings.retry, isRetryable: (err) => !isUnknownTopic(err) && failureKind(err) === 'unavailable' },
    );
    const partitions = metadata.topics.get(topic)?.partitionsCount ?? 1;
    const values: { [name: string]: string } = { ...TOPIC_DEFAULTS };
    try {
      const [description] = await admin.describeConfigs({
        resources: [
          {
            resourceType: ConfigResourceTypes.TOPIC,
            resourceName: topic,
            configurationKeys: Object.keys(TOPIC_DEFAULTS),
          },
        ],
      });
      for (const c of description?.configs ?? []) if (typeof c.value === 'string') values[c.name] = c.value;
    } catch {
      // No DESCRIBE_CONFIGS permission: the defaults stand; the broker still has the last word.
    }
    const number = (name: keyof typeof TOPIC_DEFAULTS) => {
      const n = Number(values[name]);
      return Number.isFinite(n) ? n : Number(TOPIC_DEFAULTS[name]);
    };
    const policies = values['cleanup.policy'].split(',').map((p) => p.trim());
    const retention = number('retention.ms');
    return {
      partitions,
      maxMessageBytes: number('max.message.bytes'),
      compacted: policies.includes('compact'),
      createTime: values['message.timestamp.type'] === 'CreateTime',
      maxAheadMs: number('message.timestamp.after.max.ms'),
      maxBehindMs: number('message.timestamp.before.max.ms'),
      retentionMs: policies.includes('delete') && retention >= 0 ? retention : undefined,
    };
  } finally {
    await admin.close();
  }
}
