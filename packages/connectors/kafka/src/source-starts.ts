/**
 * Where a newly assigned partition of the `kafka` source starts reading, first match wins:
 * its offset in the restored checkpoint; the greater of the group's committed offset and the
 * last durable checkpoint's offset this reader knows; the `start` policy.
 */

import type { GroupConsumer, TopicPartition } from './client.ts';
import type { StartPolicy } from './source-config.ts';

/** A resolved start and where it came from (`checkpoint`, `group`, or the policy), for the log. */
export interface Start {
  offset: number;
  from: string;
  /** Whether it is the restored checkpoint's offset (consumed once used). */
  restored: boolean;
}

export interface StartSources {
  /** Offsets of the checkpoint the job restored, by `topic/partition`. */
  readonly restored: ReadonlyMap<string, number>;
  /** Offsets of the last durable checkpoint this reader committed, by `topic/partition`. */
  readonly durable: ReadonlyMap<string, number>;
  readonly client: Pick<GroupConsumer, 'committed' | 'offsetsAt'>;
  readonly start: StartPolicy;
}

/** The start of each partition, by `topic/partition`. Rejects on broker errors (retry later). */
export async function resolveStarts(
  partitions: readonly (TopicPartition & { key: string })[],
  sources: StartSources,
): Promise<Map<string, Start>> {
  const starts = new Map<string, Start>();
  const ask: (TopicPartition & { key: string })[] = [];
  for (const p of partitions) {
    const restored = sources.restored.get(p.key);
    if (restored !== undefined) starts.set(p.key, { offset: restored, from: 'checkpoint', restored: true });
    else ask.push(p);
  }
  if (ask.length === 0) return starts;
  const committed = await sources.client.committed(ask);
  const rest: (TopicPartition & { key: string })[] = [];
  for (const p of ask) {
    const group = committed.get(p.key) ?? -1;
    const durable = sources.durable.get(p.key) ?? -1;
    if (group >= 0 || durable >= 0) {
      const from = group >= durable ? 'group' : 'checkpoint';
      starts.set(p.key, { offset: Math.max(group, durable), from, restored: false });
    } else {
      rest.push(p);
    }
  }
  if (rest.length > 0) {
    const start = sources.start;
    const offsets = await sources.client.offsetsAt(rest, start);
    const from = typeof start === 'number' ? `start ${new Date(start).toISOString()}` : start;
    for (const p of rest) starts.set(p.key, { offset: offsets.get(p.key) ?? 0, from, restored: false });
  }
  return starts;
}
