/**
 * Helpers for the `rabbitmq` package's tests against the machine's RabbitMQ: a reachability check
 * that skips (or, under CI, fails), unique names, an independent connection to declare, publish,
 * inspect and delete queues, and opening the source's reader outside a job. Not a public API.
 */

import { fileURLToPath } from 'node:url';
import { type Logger, silentLogger, systemClock, validateConfig } from '@sluice/core';
import { serviceAvailable } from '@sluice/core/testing';
import amqp, { type Channel, type ChannelModel, type Options } from 'amqplib';
import { rabbitmqSource } from './source.ts';
import type { RabbitmqSourceConfig } from './source-config.ts';
import type { RabbitmqReader } from './source-reader.ts';

export const RABBITMQ_HOST = '127.0.0.1:5672';
export const RABBITMQ_URL = `amqp://${RABBITMQ_HOST}`;
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/**
 * Whether RabbitMQ accepts connections. When it does not: prints "skipped: …" and returns false,
 * or under CI (`CI=true`) throws, so the test file fails instead of skipping.
 */
export function rabbitmqAvailable(): Promise<boolean> {
  return serviceAvailable('rabbitmq', RABBITMQ_HOST, 'rabbitmq-server -detached');
}

let counter = 0;

/** A name no other test (of this or another process) uses: for queues and exchanges. */
export function uniqueName(prefix: string): string {
  return `sluice-test-${prefix}-${process.pid}-${Date.now().toString(36)}-${counter++}`;
}

/**
 * An independent client of the test broker, as producers and operators would use it: declares
 * and deletes queues and exchanges, publishes with confirms, counts and takes messages.
 */
export class Broker {
  readonly #connection: ChannelModel;
  readonly channel: Channel;

  private constructor(connection: ChannelModel, channel: Channel) {
    this.#connection = connection;
    this.channel = channel;
  }

  static async open(): Promise<Broker> {
    const connection = await amqp.connect(RABBITMQ_URL);
    const channel = await connection.createConfirmChannel();
    return new Broker(connection, channel);
  }

  /** Publishes each body to the queue (through the default exchange), waiting for the confirms. */
  async send(
    queue: string,
    bodies: readonly (string | Buffer)[],
    options: Options.Publish = {},
  ): Promise<void> {
    return this.publish('', queue, bodies, options);
  }

  /** Publishes each body to `exchange` with `routingKey`, waiting for the broker's confirms. */
  async publish(
    exchange: string,
    routingKey: string,
    bodies: readonly (string | Buffer)[],
    options: Options.Publish = {},
  ): Promise<void> {
    for (const b of bodies)
      this.channel.publish(exchange, routingKey, Buffer.isBuffer(b) ? b : Buffer.from(b), {
        persistent: true,
        ...options,
      });
    await (this.channel as amqp.ConfirmChannel).waitForConfirms();
  }

  /** Messages ready in the queue (not delivered to a consumer). */
  async ready(queue: string): Promise<number> {
    return (await this.channel.checkQueue(queue)).messageCount;
  }

  /** Takes every message ready in the queue (acknowledging them); returns their bodies as text. */
  async drain(queue: string): Promise<string[]> {
    const out: string[] = [];
    for (;;) {
      const msg = await this.channel.get(queue, { noAck: true });
      if (msg === false) return out;
      out.push(msg.content.toString());
    }
  }

  async deleteQueue(...queues: string[]): Promise<void> {
    for (const q of queues) await this.channel.deleteQueue(q);
  }

  async deleteExchange(...exchanges: string[]): Promise<void> {
    for (const e of exchanges) await this.channel.deleteExchange(e);
  }

  close(): Promise<void> {
    return this.#connection.close();
  }
}

/**
 * Opens the `rabbitmq` source's reader outside a job with `options` (defaults applied; `url` is
 * the test broker), resuming from `restored` when given.
 */
export async function openRabbitmqReader(
  options: { [k: string]: unknown },
  extra: { restored?: unknown; log?: Logger; requestCheckpoint?: () => void } = {},
): Promise<RabbitmqReader> {
  const checked = validateConfig<RabbitmqSourceConfig>(rabbitmqSource.config, {
    url: RABBITMQ_URL,
    ...options,
  });
  if (!checked.ok) throw new Error(`invalid rabbitmq config: ${JSON.stringify(checked.issues)}`);
  const restored: { [partition: string]: unknown } = {};
  if (extra.restored !== undefined) restored[checked.value.queue] = extra.restored;
  const readers = await rabbitmqSource.create(checked.value).open({
    id: 'in',
    restored,
    clock: systemClock,
    baseDir: process.cwd(),
    signal: new AbortController().signal,
    log: extra.log ?? silentLogger,
    requestCheckpoint: extra.requestCheckpoint,
  });
  return readers[0] as RabbitmqReader;
}
