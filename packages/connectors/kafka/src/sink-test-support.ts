/**
 * Helpers of the `kafka` sink tests: the real broker (skip when it is not there, fail under CI),
 * topics through the admin API, and Kafka's own console consumer and producer (from the jars
 * `scripts/services.sh` resolves) as the independent client that reads back what the sink wrote.
 */

import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { resolve } from 'node:path';
import type { TestContext } from 'node:test';
import { Admin, ConfigResourceTypes } from '@platformatic/kafka';
import { type Logger, type SinkContext, systemClock, validateConfig } from '@sluice/core';
import { type KafkaSinkConfig, kafkaSinkConfig } from './sink-config.ts';

export const BROKER = '127.0.0.1:9092';
const ROOT = resolve(import.meta.dirname, '../../../..');
const SERVICES = resolve(ROOT, 'scripts/services.sh');

/** Whether something accepts TCP connections at the broker's address. */
function reachable(): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: '127.0.0.1', port: 9092, timeout: 1000 });
    const finish = (ok: boolean) => {
      socket.destroy();
      done(ok);
    };
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
    socket.once('timeout', () => finish(false));
  });
}

let checked: Promise<boolean> | undefined;

/**
 * True when the broker answers. Otherwise the test is skipped with "skipped: kafka not
 * reachable at 127.0.0.1:9092" — or, under `CI=true`, fails.
 */
export async function kafkaOrSkip(t: TestContext): Promise<boolean> {
  checked ??= reachable();
  if (await checked) return true;
  const message = `kafka not reachable at ${BROKER}`;
  if (process.env.CI === 'true')
    throw new Error(`${message} (CI=true: Kafka tests never skip; run scripts/services.sh up kafka)`);
  console.log(`skipped: ${message}`);
  t.skip(`skipped: ${message}`);
  return false;
}

/** A topic name no other test run uses. */
export function uniqueTopic(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;
}

/** Creates topics through the admin API and deletes them with `cleanup`. */
export class Topics {
  readonly #admin = new Admin({
    clientId: 'sluice-sink-test',
    bootstrapBrokers: [BROKER],
    retries: 5,
    retryDelay: 200,
  });
  readonly #created: string[] = [];

  async create(name: string, partitions: number, configs: { [name: string]: string } = {}): Promise<string> {
    await this.#admin.createTopics({
      topics: [name],
      partitions,
      replicas: 1,
      configs: Object.entries(configs).map(([key, value]) => ({ name: key, value })),
    });
    this.#created.push(name);
    // Wait until the metadata knows every partition's leader.
    for (let i = 0; i < 50; i++) {
      const md = await this.#admin.metadata({ topics: [name], forceUpdate: true }).catch(() => undefined);
      const topic = md?.topics.get(name);
      if (topic && topic.partitionsCount === partitions && topic.partitions.every((p) => p.leader >= 0))
        break;
      await new Promise((r) => setTimeout(r, 100));
    }
    return name;
  }

  /** Changes topic configs (the other configs of the topic keep their values). */
  async alter(name: string, configs: { [name: string]: string }): Promise<void> {
    await this.#admin.incrementalAlterConfigs({
      resources: [
        {
          resourceType: ConfigResourceTypes.TOPIC,
          resourceName: name,
          configs: Object.entries(configs).map(([key, value]) => ({ name: key, configOperation: 0, value })),
        },
      ],
    });
  }

  async cleanup(): Promise<void> {
    if (this.#created.length > 0) await this.#admin.deleteTopics({ topics: this.#created }).catch(() => {});
    await this.#admin.close();
  }
}

/** A message as the console consumer printed it. */
export interface ConsumedMessage {
  timestamp: number;
  partition: number;
  headers: { [name: string]: string };
  /** `null` when the message has no key. */
  key: string | null;
  value: string | null;
}

/**
 * Reads a topic (or, with `include`, every topic matching that regular expression) from the
 * beginning with Kafka's console consumer. It stops after `maxMessages` (when given) or once no
 * message came for `idleMs`. With `read_committed` it returns only committed transactional
 * messages.
 */
export function consoleConsume(
  topic: string,
  options: {
    isolation: 'read_committed' | 'read_uncommitted';
    maxMessages?: number;
    idleMs?: number;
    include?: boolean;
  },
): Promise<ConsumedMessage[]> {
  const args = [
    SERVICES,
    'tool',
    'console-consumer',
    '--bootstrap-server',
    BROKER,
    options.include ? '--include' : '--topic',
    topic,
    '--from-beginning',
    '--isolation-level',
    options.isolation,
    '--timeout-ms',
    String(options.idleMs ?? 3000),
    '--formatter-property',
    'print.timestamp=true',
    '--formatter-property',
    'print.partition=true',
    '--formatter-property',
    'print.headers=true',
    '--formatter-property',
    'print.key=true',
  ];
  if (options.maxMessages !== undefined) args.push('--max-messages', String(options.maxMessages));
  return new Promise((done, fail) => {
    execFile('bash', args, { maxBuffer: 256 << 20, timeout: 60_000 }, (err, stdout, stderr) => {
      // The consumer exits non-zero after its idle timeout; that is how it ends here.
      if (err && !/Processed a total of/.test(stderr)) {
        fail(new Error(`console consumer failed: ${err.message}\n${stderr}`));
        return;
      }
      done(
        stdout
          .split('\n')
          .filter((l) => l.startsWith('CreateTime:') || l.startsWith('LogAppendTime:'))
          .map(parseLine),
      );
    });
  });
}

function parseLine(line: string): ConsumedMessage {
  const fields = line.split('\t');
  const timestamp = Number(fields[0].slice(fields[0].indexOf(':') + 1));
  const partition = Number(fields[1].slice('Partition:'.length));
  const headers: { [name: string]: string } = {};
  if (fields[2] !== 'NO_HEADERS') {
    for (const pair of fields[2].split(',')) {
      const at = pair.indexOf(':');
      headers[pair.slice(0, at)] = pair.slice(at + 1);
    }
  }
  const key = fields[3] === 'null' ? null : fields[3];
  const value = fields.slice(4).join('\t');
  return { timestamp, partition, headers, key, value: value === 'null' ? null : value };
}

/** Produces `key<TAB>value` lines with Kafka's console producer (the Java client's partitioner). */
export function consoleProduce(
  topic: string,
  messages: readonly [key: string, value: string][],
): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn(
      'bash',
      [
        SERVICES,
        'tool',
        'console-producer',
        '--bootstrap-server',
        BROKER,
        '--topic',
        topic,
        '--reader-property',
        'parse.key=true',
      ],
      { stdio: ['pipe', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.once('error', fail);
    child.once('exit', (code) =>
      code === 0 ? done() : fail(new Error(`console producer exited ${code}: ${stderr}`)),
    );
    child.stdin.end(messages.map(([k, v]) => `${k}\t${v}\n`).join(''));
  });
}

/** A logger that keeps what it is given, for assertions. */
export function memoryLogger(): Logger & { lines: { level: string; message: string; fields?: object }[] } {
  const lines: { level: string; message: string; fields?: object }[] = [];
  const at = (level: string) => (message: string, fields?: object) => {
    lines.push({ level, message, fields });
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A sink context outside a job. */
export function sinkContext(
  options: { id?: string; pipeline?: string; restored?: unknown; log?: Logger } = {},
): SinkContext {
  return {
    id: options.id ?? 'out',
    pipeline: options.pipeline,
    restored: options.restored,
    clock: systemClock,
    baseDir: ROOT,
    signal: new AbortController().signal,
    log: options.log ?? memoryLogger(),
  };
}

/** A sink config with defaults applied, as a pipeline would give it. */
export function sinkConfig(options: { [k: string]: unknown }): KafkaSinkConfig {
  const result = validateConfig<KafkaSinkConfig>(kafkaSinkConfig, { brokers: [BROKER], ...options });
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.value;
}
