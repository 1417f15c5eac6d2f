/**
 * `sluice nexmark`: writes Nexmark events in the reference suite's JSON form
 * (`{"event_type", "person", "auction", "bid"}`, one object a line) to a file, to stdout, or to a
 * Kafka topic — the input of Nexmark queries run from Kafka or from files.
 */

import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import {
  createLogger,
  defaultSettings,
  Job,
  type NexmarkConfig,
  NexmarkGenerator,
  nexmarkConfig,
  nexmarkSettings,
  type Plan,
  SluiceError,
  validateConfig,
} from '@sluice/core';
import { explain } from './explain.ts';
import { registryFor } from './plugins.ts';

/** The options of `sluice nexmark` as commander gives them. */
export interface NexmarkOptionsRaw {
  events?: string;
  eventsPerSecond?: string;
  baseTime?: string;
  seed?: string;
  output?: string;
  kafkaBrokers?: string;
  topic?: string;
}

/** Config field → the command-line option that sets it. */
const optionOf: { readonly [field: string]: string } = {
  events: '--events',
  events_per_second: '--events-per-second',
  base_time: '--base-time',
  seed: '--seed',
};

/** The default of a `nexmark` source option, from its schema (for the help text). */
export function nexmarkDefault(field: 'events_per_second' | 'base_time' | 'seed'): string {
  const schema = nexmarkConfig.properties[field];
  return 'default' in schema ? String(schema.default) : '';
}

/** Characters of JSON lines gathered before one write. */
const CHUNK_CHARS = 1 << 20;

type Parsed = { ok: true; config: NexmarkConfig } | { ok: false; message: string };

/** The source config the options describe, checked against the `nexmark` source's schema. */
function configOf(opts: NexmarkOptionsRaw): Parsed {
  const raw: { [field: string]: unknown } = {};
  const numeric: [keyof NexmarkOptionsRaw, string][] = [
    ['events', 'events'],
    ['eventsPerSecond', 'events_per_second'],
    ['seed', 'seed'],
  ];
  for (const [option, field] of numeric) {
    const text = opts[option];
    if (text === undefined) continue;
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value)) {
      return { ok: false, message: `${optionOf[field]} must be a number, got '${text}'` };
    }
    raw[field] = value;
  }
  if (raw.events === undefined) return { ok: false, message: '--events <count> is required' };
  if (opts.baseTime !== undefined) raw.base_time = opts.baseTime;
  const checked = validateConfig<NexmarkConfig>(nexmarkConfig, raw);
  if (!checked.ok) {
    const issue = checked.issues[0];
    const field = issue.path.replace(/^\//, '').split('/')[0];
    return { ok: false, message: `${optionOf[field] ?? field}: ${issue.message}` };
  }
  try {
    nexmarkSettings(checked.value);
  } catch (err) {
    if (err instanceof SluiceError) return { ok: false, message: `--base-time: ${err.message}` };
    throw err;
  }
  return { ok: true, config: checked.value };
}

/** Writes the events; returns the process exit code. */
export async function nexmarkCommand(opts: NexmarkOptionsRaw): Promise<number> {
  const parsed = configOf(opts);
  if (!parsed.ok) return usage(parsed.message);
  if ((opts.kafkaBrokers === undefined) !== (opts.topic === undefined)) {
    return usage('--kafka-brokers and --topic go together: name the brokers and the topic to write to');
  }
  const config = parsed.config;
  const started = performance.now();
  const seconds = () => ((performance.now() - started) / 1000).toFixed(1);
  const count = config.events ?? 0;
  try {
    if (opts.output !== undefined || opts.kafkaBrokers === undefined) {
      const output = opts.output ?? '-';
      await writeLines(config, output === '-' ? undefined : output);
      if (output !== '-')
        process.stderr.write(`sluice nexmark: ${count} events to ${output} in ${seconds()} s\n`);
    }
    if (opts.kafkaBrokers !== undefined && opts.topic !== undefined) {
      if (!(await writeKafka(config, opts.kafkaBrokers.split(','), opts.topic))) {
        process.stderr.write(
          `sluice nexmark: stopped before all ${count} events were written to ${opts.topic}\n`,
        );
        return 1;
      }
      process.stderr.write(
        `sluice nexmark: ${count} events to Kafka topic ${opts.topic} in ${seconds()} s\n`,
      );
    }
    return 0;
  } catch (err) {
    process.stderr.write(explain(err, 'sluice nexmark'));
    return 1;
  }
}

function usage(message: string): number {
  process.stderr.write(`sluice nexmark: ${message}\n(see sluice nexmark --help)\n`);
  return 2;
}

/** Writes the events as JSON lines to `file`, or to stdout. */
async function writeLines(config: NexmarkConfig, file: string | undefined): Promise<void> {
  const out: Writable = file === undefined ? process.stdout : createWriteStream(file);
  const failed = new Promise<never>((_, reject) => {
    out.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new SluiceError('IO_ERROR', `cannot write ${file ?? 'stdout'}: ${err.message}`, {
          cause: err,
          ...(file === undefined ? {} : { file }),
        }),
      ),
    );
  });
  failed.catch(() => undefined);
  const generator = new NexmarkGenerator(nexmarkSettings(config));
  const end = config.events ?? 0;
  let chunk = '';
  for (let n = 0; n < end; n++) {
    chunk += `${JSON.stringify(generator.event(n))}\n`;
    if (chunk.length >= CHUNK_CHARS) {
      if (!out.write(chunk)) await Promise.race([once(out, 'drain'), failed]);
      chunk = '';
    }
  }
  if (file === undefined) {
    if (chunk.length > 0 && !out.write(chunk)) await Promise.race([once(out, 'drain'), failed]);
    return;
  }
  out.end(chunk);
  await Promise.race([once(out, 'close'), failed]);
}

/**
 * Writes the events to a Kafka topic through a pipeline: the `nexmark` source and the `kafka`
 * sink (JSON values, no key, stamped with the time of writing as the reference suite's producer
 * does: `dateTime` is in the value, and old event times would fall outside retention). Checkpoints go to a
 * temporary folder, removed afterwards: the command always writes from event 0. Returns false
 * when stopped (SIGINT, SIGTERM) before every event was written.
 */
async function writeKafka(config: NexmarkConfig, brokers: string[], topic: string): Promise<boolean> {
  const registry = await registryFor(['kafka']);
  const dir = await mkdtemp(join(tmpdir(), 'sluice-nexmark-'));
  const plan: Plan = {
    name: 'nexmark',
    sources: [{ id: 'nexmark', type: 'nexmark', config }],
    steps: [],
    sinks: [{ id: 'kafka', type: 'kafka', input: 'nexmark', config: { brokers, topic, timestamp: 'now' } }],
    settings: { ...defaultSettings, checkpoint: { interval: 0, dir, keep: 1 } },
    baseDir: process.cwd(),
  };
  const log = createLogger({ level: 'warn', format: 'text' });
  try {
    await Job.validate(plan, { registry });
    const job = await Job.create(plan, { registry, log, fromScratch: true });
    const stop = () => job.stop();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      return (await job.run()).status === 'completed';
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
