/**
 * The `redis` source: a stream read with a consumer group, acknowledging entries only after the
 * checkpoint that covers them is durable; or pub/sub channels, at most once.
 */

import { defineSource, retry, SluiceError, type SourceContext, type SourceReader } from '@sluice/core';
import { connect, describeError, destroy, endpointOf, failureKind, type RedisClient } from './connection.ts';
import { PubSubReader } from './pubsub-reader.ts';
import { checkSourceConfig, type RedisSourceConfig, redisSourceConfig } from './source-config.ts';
import { StreamReader } from './stream-reader.ts';

/** The consumer name a source without `consumer` uses: stable across restarts of its pipeline. */
export function defaultConsumer(ctx: Pick<SourceContext, 'id' | 'pipeline'>): string {
  return `sluice-${ctx.pipeline ?? 'embedded'}-${ctx.id}`;
}

const OPEN_RETRY = { maxAttempts: 5, initialBackoff: 200, maxBackoff: 2000 };

async function client(config: RedisSourceConfig, ctx: SourceContext, role: string): Promise<RedisClient> {
  return retry(
    () =>
      connect(
        config,
        { code: 'SOURCE_UNAVAILABLE', step: ctx.id, name: `sluice-${ctx.id}-${role}` },
        ctx.log,
      ),
    OPEN_RETRY,
    ctx.signal,
  );
}

/** Creates the group (and the stream) when asked; checks that it exists otherwise. */
async function ensureGroup(c: RedisClient, config: RedisSourceConfig, ctx: SourceContext): Promise<void> {
  const stream = config.stream as string;
  const group = config.group as string;
  try {
    if (config.create_group) {
      await c.sendCommand(['XGROUP', 'CREATE', stream, group, config.start, 'MKSTREAM']);
      ctx.log.info('redis: created the consumer group', { stream, group, start: config.start });
      return;
    }
    const groups = (await c.sendCommand(['XINFO', 'GROUPS', stream])) as unknown[][];
    if (!groups.some((g) => g[1] === group))
      throw new SluiceError(
        'CONFIG_INVALID',
        `redis: stream '${stream}' has no consumer group '${group}' (and \`create_group\` is false)`,
        {
          step: ctx.id,
          path: 'group',
        },
      );
  } catch (err) {
    if (err instanceof SluiceError) throw err;
    if (/^BUSYGROUP\b/.test(describeError(err))) return;
    const kind = failureKind(err);
    throw new SluiceError(
      kind === 'transient' ? 'SOURCE_UNAVAILABLE' : 'CONFIG_INVALID',
      `redis: cannot set up group '${group}' of stream '${stream}': ${describeError(err, config.url)}`,
      { step: ctx.id, path: 'stream', cause: err },
    );
  }
}

async function openStream(
  config: RedisSourceConfig,
  claimIdle: number,
  format: 'fields' | 'json',
  ctx: SourceContext,
): Promise<SourceReader[]> {
  const reads = await client(config, ctx, 'reads');
  let acks: RedisClient | undefined;
  try {
    await ensureGroup(reads, config, ctx);
    acks = await client(config, ctx, 'acks');
  } catch (err) {
    destroy(reads);
    throw err;
  }
  const consumer = config.consumer ?? defaultConsumer(ctx);
  const stream = config.stream as string;
  ctx.log.info('redis: reading stream', {
    at: endpointOf(config.url),
    stream,
    group: config.group,
    consumer,
  });
  return [
    new StreamReader(
      {
        stream,
        group: config.group as string,
        consumer,
        format,
        jsonField: config.json_field,
        maxDepth: config.max_depth,
        maxPending: config.max_pending,
        maxDeliveries: config.max_deliveries,
        claimIdle,
        url: config.url,
      },
      ctx,
      { reads, acks },
      ctx.restored[stream],
    ),
  ];
}

async function openPubSub(
  config: RedisSourceConfig,
  format: 'json' | 'text',
  ctx: SourceContext,
): Promise<SourceReader[]> {
  const subscriber = await client(config, ctx, 'subscriber');
  const reader = new PubSubReader({ format, maxDepth: config.max_depth, capacity: 10_000 }, ctx);
  try {
    await reader.subscribe(subscriber, config.channels ?? []);
  } catch (err) {
    destroy(subscriber);
    throw new SluiceError(
      'SOURCE_UNAVAILABLE',
      `redis: cannot subscribe: ${describeError(err, config.url)}`,
      {
        step: ctx.id,
        cause: err,
      },
    );
  }
  ctx.log.info('redis: subscribed', { at: endpointOf(config.url), channels: config.channels });
  return [reader];
}

/** The `redis` source spec. */
export const redisSource = defineSource({
  type: 'redis',
  summary:
    'Reads a Redis stream with a consumer group (acknowledging after the checkpoint), or pub/sub channels.',
  // The stream and group decide what is delivered; the consumer name which pending entries are this worker's.
  identity: ['mode', 'stream', 'group', 'consumer', 'channels'],
  delivery: { option: 'mode', values: { stream: 'at-least-once', pubsub: 'at-most-once' } },
  description: [
    '`mode: stream` reads the stream `stream` as consumer `consumer` of the consumer group `group`',
    '(`XREADGROUP`), which `create_group` creates (`XGROUP CREATE … MKSTREAM`) at `start` when it does',
    'not exist. Workers that run the pipeline with one group and different consumer names share the',
    'stream’s entries, each entry going to one of them.',
    '',
    'Delivery: at-least-once. An entry is acknowledged (`XACK`) only once the checkpoint covering its',
    'record is durable; until then it stays pending under this consumer. A restart first reads the',
    'consumer’s own pending entries again (`XREADGROUP … 0`): those the restored checkpoint covers are',
    'acknowledged and skipped, the rest are read again; records read after the last checkpoint may',
    'thus be read twice, none before it. When half of `max_pending` entries are read and',
    'unacknowledged the source asks for an early checkpoint, and at `max_pending` it waits for one.',
    'Entries another consumer left pending longer than `claim_idle` (a worker that died) are taken',
    'over (`XAUTOCLAIM`) and read here. An entry delivered more than `max_deliveries` times (the',
    'group’s count, from `XPENDING`: each restart or takeover counts) goes to the dead-letter output',
    'with the count and is acknowledged with the checkpoint: a poison entry that makes the pipeline',
    'fail stops doing so.',
    '',
    'Each entry is one record (`format`: its fields as text, or a JSON document in `json_field`);',
    'an entry that does not decode goes to the dead-letter output with the reason. The batch time of',
    'a record is its entry id’s milliseconds (the time Redis added it); set the pipeline’s',
    '`event_time` to take it from a field. A lost connection (or no reply within `reply_timeout`)',
    'fails the read; the runtime retries it',
    'with backoff while the client reconnects (at most 2 s apart), and the consumer’s pending entries',
    'are read again first, so an entry whose delivery was lost with the connection is not lost.',
    '',
    '`mode: pubsub` subscribes to `channels` (`PSUBSCRIBE` for names with `*`, `?` or `[`): at-most-once,',
    'because Redis keeps no message for a subscriber: what is published while the source is',
    'disconnected or not yet started, and what it buffered when it crashed, is lost. The client',
    'subscribes again after a reconnect. Past 10 000 buffered messages new ones are dropped (and',
    'logged). Each message is a JSON object (`format: json`) or `{ channel, message }` (`text`).',
    '',
    'The URL is a secret: it never appears in logs or errors.',
  ].join('\n'),
  example: [
    'type: redis',
    'url: redis://127.0.0.1:6379',
    'stream: orders',
    'group: sluice-orders',
    'consumer: worker-1',
    'format: json',
  ].join('\n'),
  config: redisSourceConfig,
  create(config) {
    // Checked here, so that a bad option fails before anything connects.
    const { claimIdle, format } = checkSourceConfig(config);
    return {
      open(ctx: SourceContext): Promise<SourceReader[]> {
        if (config.mode === 'pubsub') return openPubSub(config, format as 'json' | 'text', ctx);
        return openStream(config, claimIdle, format as 'fields' | 'json', ctx);
      },
    };
  },
});
