/**
 * The test broker and Kafka's own tools, the tests' independent client: the broker's address,
 * `scripts/services.sh` (to stop and restart the shared broker), and producing records with the
 * console producer and reading topics back with the console consumer (from the broker's jars).
 * Re-exported by `test-support.ts`.
 */

import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const KAFKA_HOST = '127.0.0.1';
export const KAFKA_BROKER = `${KAFKA_HOST}:9092`;

/** The repository root (where `scripts/services.sh` is). */
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/**
 * Runs `scripts/services.sh` with `args` (`down kafka`, `up kafka`: the tests that stop and
 * restart the shared broker) and rejects with its output when it fails. Asynchronous, so the
 * clients under test keep retrying meanwhile.
 */
export function services(...args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      'bash',
      ['scripts/services.sh', ...args],
      { cwd: REPO_ROOT, timeout: 120_000 },
      (err, stdout, stderr) =>
        err ? reject(new Error(`services.sh ${args.join(' ')} failed: ${stdout}${stderr}`)) : resolve(),
    );
  });
}

export interface ToolResult {
  /** `null` when the tool was killed (it outlived `timeoutMs`). */
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs one of Kafka's own tools (`scripts/services.sh tool ...`), feeding `input` to stdin;
 * kills it after `timeoutMs`.
 */
export function kafkaTool(
  tool: string,
  args: readonly string[],
  input?: string,
  timeoutMs = 30_000,
): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['scripts/services.sh', 'tool', tool, ...args], {
      cwd: REPO_ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

/** A record for the console producer: no tabs or newlines in any part. */
export interface ConsoleRecord {
  key: string;
  value: string;
  /** Header names and values (no `,` or `:`); give every record headers, or none. */
  headers?: { [name: string]: string };
}

/**
 * Produces records with Kafka's console producer (the independent client), keyed so the Java
 * client's default partitioner spreads them over the partitions. Records keep their order per key.
 */
export async function consoleProduce(topic: string, records: readonly ConsoleRecord[]): Promise<void> {
  const withHeaders = records.filter((r) => r.headers && Object.keys(r.headers).length > 0).length;
  if (withHeaders !== 0 && withHeaders !== records.length) {
    throw new Error('console producer: give every record headers, or none');
  }
  const lines = records.map((r) => {
    for (const part of [r.key, r.value])
      if (/[\t\n]/.test(part)) throw new Error(`tab or newline in ${part}`);
    const headers = r.headers
      ? Object.entries(r.headers)
          .map(([k, v]) => `${k}:${v}`)
          .join(',')
      : '';
    return withHeaders ? `${headers}\t${r.key}\t${r.value}` : `${r.key}\t${r.value}`;
  });
  const args = ['--bootstrap-server', KAFKA_BROKER, '--topic', topic, '--reader-property', 'parse.key=true'];
  if (withHeaders) args.push('--reader-property', 'parse.headers=true');
  const result = await kafkaTool('console-producer', args, `${lines.join('\n')}\n`);
  if (result.code !== 0 || /Exception/.test(result.stderr)) {
    throw new Error(`console producer failed (${result.code}): ${result.stderr.slice(0, 2000)}`);
  }
}

/** A record as the console consumer printed it. */
export interface ConsumedRecord {
  /** Its timestamp (create time, or log-append time when the topic sets it). */
  timestamp: number;
  partition: number;
  offset: number;
  headers: { [name: string]: string };
  /** `null` when the record has no key. */
  key: string | null;
  /** `null` when the record has no value (a tombstone). */
  value: string | null;
}

const PRINTED = ['timestamp', 'partition', 'offset', 'headers', 'key'];
const CONSUMED_LINE =
  /^(?:CreateTime|LogAppendTime):(-?\d+)\tPartition:(\d+)\tOffset:(\d+)\t([^\t]*)\t([^\t]*)\t(.*)$/;

/**
 * Reads a topic (or, with `include`, every topic matching that regular expression) from the
 * beginning with Kafka's console consumer. It stops after `maxMessages` records (when given) or
 * once none came for `idleMs` (default 10 s); it is killed a minute after that. With
 * `read_committed` it returns only records of committed transactions. Rejects when the consumer
 * fails or is killed.
 *
 * The consumer's idle clock also runs while the JVM starts and joins its group, which on a loaded
 * machine can outlast `idleMs`: it then stops having read nothing. With `atLeast`, a read that
 * returns fewer records is repeated (from the beginning, twice at most, each time with three
 * times the idle time), so a slow start is not mistaken for missing records.
 */
export async function consoleConsume(
  topic: string,
  options: {
    isolation?: 'read_committed' | 'read_uncommitted';
    maxMessages?: number;
    idleMs?: number;
    include?: boolean;
    atLeast?: number;
  } = {},
): Promise<ConsumedRecord[]> {
  let idleMs = options.idleMs ?? 10_000;
  for (let attempt = 1; ; attempt++) {
    const read = await consoleConsumeOnce(topic, { ...options, idleMs });
    if (options.atLeast === undefined || read.length >= options.atLeast || attempt === 3) return read;
    idleMs *= 3;
  }
}

async function consoleConsumeOnce(
  topic: string,
  options: {
    isolation?: 'read_committed' | 'read_uncommitted';
    maxMessages?: number;
    idleMs: number;
    include?: boolean;
  },
): Promise<ConsumedRecord[]> {
  const { idleMs } = options;
  const args = [
    '--bootstrap-server',
    KAFKA_BROKER,
    options.include ? '--include' : '--topic',
    topic,
    '--from-beginning',
    '--isolation-level',
    options.isolation ?? 'read_uncommitted',
    '--timeout-ms',
    String(idleMs),
    ...PRINTED.flatMap((field) => ['--formatter-property', `print.${field}=true`]),
  ];
  if (options.maxMessages !== undefined) args.push('--max-messages', String(options.maxMessages));
  const result = await kafkaTool('console-consumer', args, undefined, idleMs + 60_000);
  // Stopping idle may exit non-zero; it still says how many records it processed.
  if (result.code !== 0 && !/Processed a total of/.test(result.stderr)) {
    throw new Error(`console consumer failed (${result.code}): ${result.stderr.slice(-2000)}`);
  }
  const out: ConsumedRecord[] = [];
  for (const line of result.stdout.split('\n')) {
    const m = CONSUMED_LINE.exec(line);
    if (!m) continue;
    const headers: { [name: string]: string } = {};
    if (m[4] !== 'NO_HEADERS') {
      for (const pair of m[4].split(',')) {
        const at = pair.indexOf(':');
        headers[pair.slice(0, at)] = pair.slice(at + 1);
      }
    }
    out.push({
      timestamp: Number(m[1]),
      partition: Number(m[2]),
      offset: Number(m[3]),
      headers,
      key: m[5] === 'null' ? null : m[5],
      value: m[6] === 'null' ? null : m[6],
    });
  }
  return out;
}
