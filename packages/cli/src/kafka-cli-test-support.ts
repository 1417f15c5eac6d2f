/**
 * Helpers for the end-to-end tests of `sluice run` over Kafka: end offsets through Kafka's own
 * tool, and the final metrics a run logs.
 */

import { KAFKA_BROKER, kafkaTool } from '@sluice/kafka/testing';

/**
 * The end offset (next offset to be written) of each topic, summed over its partitions, read
 * with Kafka's `get-offsets` tool. For a topic written without transactions it is the number of
 * records in it.
 */
export async function endOffsets(topics: readonly string[]): Promise<Map<string, number>> {
  const result = await kafkaTool('get-offsets', [
    '--bootstrap-server',
    KAFKA_BROKER,
    '--topic-partitions',
    topics.join(','),
    '--time',
    'latest',
  ]);
  if (result.code !== 0) throw new Error(`get-offsets failed (${result.code}): ${result.stderr}`);
  const ends = new Map<string, number>(topics.map((topic) => [topic, 0]));
  for (const line of result.stdout.split('\n')) {
    const m = /^(.+):(\d+):(\d+)$/.exec(line.trim());
    if (m && ends.has(m[1])) ends.set(m[1], ends.get(m[1])! + Number(m[3]));
  }
  return ends;
}

/** The counters of the last `pipeline stopped` / `pipeline completed` log line (JSON log format). */
export interface FinalMetrics {
  records_in: number;
  records_out: number;
  filtered: number;
  dead_letters: number;
  late: number;
  last_checkpoint: number | null;
}

/** Parses the final metrics from what `sluice run` printed on stderr. */
export function finalMetrics(stderr: string): FinalMetrics {
  const lines = stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg?: string } & FinalMetrics)
    .filter((l) => l.msg === 'pipeline stopped' || l.msg === 'pipeline completed');
  const last = lines.at(-1);
  if (last === undefined) throw new Error(`no final metrics in the output:\n${stderr}`);
  return last;
}
