/**
 * Kafka → Kafka under kill -9: `sluice run` reads a topic that is written throughout, is killed
 * with SIGKILL several times and restarted at once, and is finally stopped with SIGTERM once a
 * checkpoint covers the whole input. Every record the broker acknowledged to the load generator
 * must be in the output topic (at-least-once sink: duplicates allowed). Recovery is measured from
 * the output itself: the sink stamps each message with the time it was written (`timestamp:
 * now`), so the seconds from a restart until records flow again are the gap between the restart
 * and the first message stamped after it. The phases of each restart (process start, checkpoint
 * restored, sinks open, partitions assigned) come from the run's own log timestamps.
 */

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Producer } from '@platformatic/kafka';
import { DirectoryCheckpointStore } from '@sluice/core';
import { consoleConsume, KAFKA_BROKER, Topics, uniqueName } from '@sluice/kafka/testing';
import { Cli, checkpointIds, waitUntil } from '../../packages/cli/src/cli-test-support.ts';
import {
  deliveryFigures,
  type FaultFigures,
  type FaultScale,
  type FaultScenario,
  median,
} from './scenario.ts';

const PARTITIONS = 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One case: how the source joins its group, how hard it is loaded, how often it is killed. */
interface RestartCase {
  label: string;
  /** Extra `kafka` source options (e.g. `static_membership: false`). */
  source: string;
  /** Records per second offered while the pipeline runs. */
  rate: number;
  kills: number;
  note: string;
}

function cases(scale: FaultScale): RestartCase[] {
  const staticCase: RestartCase = {
    label: 'static membership (default)',
    source: '',
    rate: scale === 'small' ? 1_000 : 5_000,
    kills: scale === 'small' ? 3 : 6,
    note: 'at-least-once sink: duplicates are records re-read after the last checkpoint',
  };
  if (scale === 'small') return [staticCase];
  return [
    staticCase,
    {
      label: 'dynamic membership (static_membership: false)',
      source: 'static_membership: false',
      rate: 5_000,
      kills: 3,
      note: 'for comparison: the restarted member waits for the group to expire the killed one (session_timeout 10s)',
    },
  ];
}

function pipelineYaml(input: string, output: string, group: string, source: string): string {
  return `
name: kafka-restart
settings:
  checkpoint: { interval: 1s, dir: ./.sluice }
sources:
  in:
    type: kafka
    brokers: ['${KAFKA_BROKER}']
    topics: ['${input}']
    group_id: '${group}'
    include_metadata: false
${source ? `    ${source}\n` : ''}sinks:
  out:
    type: kafka
    brokers: ['${KAFKA_BROKER}']
    topic: '${output}'
    key: id
    timestamp: now
`;
}

/** Writes records `{ id }` at a steady rate until stopped; keeps the ids the broker acknowledged. */
class Load {
  readonly acknowledged: string[] = [];
  produced = 0;
  #running = true;
  readonly #done: Promise<void>;

  constructor(topic: string, rate: number) {
    const producer = new Producer({
      clientId: 'sluice-fault-load',
      bootstrapBrokers: [KAFKA_BROKER],
      idempotent: true,
      acks: -1,
    });
    const tickMs = 50;
    const perTick = Math.max(1, Math.round((rate * tickMs) / 1000));
    this.#done = (async () => {
      try {
        let next = Date.now();
        while (this.#running) {
          const ids: string[] = [];
          const messages = [];
          for (let i = 0; i < perTick; i++) {
            const id = String(this.produced++);
            ids.push(id);
            messages.push({
              topic,
              partition: Number(id) % PARTITIONS,
              value: Buffer.from(JSON.stringify({ id, pad: 'x'.repeat(40) })),
            });
          }
          await producer.send({ messages });
          this.acknowledged.push(...ids);
          next += tickMs;
          await sleep(Math.max(0, next - Date.now()));
        }
      } finally {
        await producer.close();
      }
    })();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#done;
  }
}

/** Milliseconds of each log line with this `msg` (JSON log format), in order. */
function logTimes(stderr: string, msg: string): number[] {
  const needle = `"msg":${JSON.stringify(msg)}`;
  const out: number[] = [];
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{') || !line.includes(needle)) continue;
    out.push(Date.parse((JSON.parse(line) as { time: string }).time));
  }
  return out;
}

/** Where the time of one restart went, ms from the process start. */
interface Phases {
  started: number;
  restored: number;
  sinkReady: number;
  assigned: number;
}

function phasesOf(stderr: string, spawnedAt: number): Phases | undefined {
  const first = (msg: string) => logTimes(stderr, msg)[0];
  const started = first('pipeline started');
  const restored = first('restored checkpoint');
  const sinkReady = first('kafka sink ready');
  const assigned = first('kafka source: partitions start at');
  if ([started, restored, sinkReady, assigned].some((t) => t === undefined)) return undefined;
  return {
    started: started - spawnedAt,
    restored: restored - spawnedAt,
    sinkReady: sinkReady - spawnedAt,
    assigned: assigned - spawnedAt,
  };
}

async function runCase(c: RestartCase, topics: Topics): Promise<FaultFigures> {
  const [input, output] = await Promise.all([
    topics.create('fault-restart-in', PARTITIONS),
    topics.create('fault-restart-out', PARTITIONS),
  ]);
  const dir = await mkdtemp(join(tmpdir(), 'sluice-fault-kafka-restart-'));
  try {
    await writeFile(
      join(dir, 'pipeline.yaml'),
      pipelineYaml(input, output, uniqueName('restart-g'), c.source),
    );
    const store = new DirectoryCheckpointStore(join(dir, '.sluice/kafka-restart'));
    const newest = async () => (await checkpointIds(store.dir)).at(-1) ?? 0;
    const checkpointed = async () => {
      const position = (await store.latest())?.data.sources.in?.consumer as
        | { [partition: string]: number }
        | undefined;
      return Object.values(position ?? {}).reduce((n, offset) => n + offset, 0);
    };
    /** Waits for a checkpoint of this run with more input behind it than `than` (at least `atLeast`). */
    const progress = async (cli: Cli, than: number, atLeast = 0) => {
      let seen = await newest();
      await waitUntil(
        async () => {
          const id = await newest();
          if (id === seen) return false;
          seen = id;
          const behind = await checkpointed();
          return behind > than && behind >= atLeast;
        },
        120_000,
        'a checkpoint with more input behind it',
        cli,
      );
    };

    const load = new Load(input, c.rate);
    const restarts: number[] = [];
    const phases: Phases[] = [];
    try {
      // Kill points spread between two checkpoints (interval 1 s).
      const offsets = [150, 650, 400, 900, 250, 550, 800, 100];
      for (let k = 0; k < c.kills; k++) {
        const before = await checkpointed();
        const spawnedAt = Date.now();
        if (k > 0) restarts.push(spawnedAt);
        const cli = new Cli(['run', 'pipeline.yaml'], { cwd: dir, limitMs: 180_000 });
        try {
          await progress(cli, before);
          await sleep(offsets[k % offsets.length]);
        } finally {
          cli.kill('SIGKILL');
        }
        const ended = await cli.exited;
        if (ended.signal !== 'SIGKILL')
          throw new Error(`run ${k + 1} ended before the kill:\n${ended.stderr}`);
        const p = k > 0 ? phasesOf(ended.stderr, spawnedAt) : undefined;
        if (p) phases.push(p);
      }
      // The last run: restarted like the others, then left to catch up once the load stops.
      const spawnedAt = Date.now();
      restarts.push(spawnedAt);
      const cli = new Cli(['run', 'pipeline.yaml'], { cwd: dir, limitMs: 180_000 });
      try {
        await progress(cli, await checkpointed());
        await load.stop();
        await progress(cli, -1, load.acknowledged.length);
      } finally {
        cli.kill('SIGTERM');
      }
      const ended = await cli.exited;
      if (ended.code !== 0)
        throw new Error(`the last run did not stop cleanly (${ended.code}):\n${ended.stderr}`);
      const p = phasesOf(ended.stderr, spawnedAt);
      if (p) phases.push(p);
    } finally {
      await load.stop();
    }

    const read = await consoleConsume(output, { idleMs: 5_000 });
    const delivered = read.map((m) => (JSON.parse(m.value!) as { id: string }).id);
    const stamps = read.map((m) => m.timestamp).sort((a, b) => a - b);
    const recoverySeconds = restarts.map((at) => {
      const first = stamps.find((t) => t >= at);
      return first === undefined ? Number.NaN : (first - at) / 1000;
    });
    const phase = (pick: (p: Phases) => number) => (median(phases.map(pick)) / 1000).toFixed(2);
    return {
      case: `kafka → kafka, kill -9 ×${c.kills} under ${c.rate} records/s, ${c.label}`,
      produced: load.produced,
      ...deliveryFigures(load.acknowledged, delivered),
      recoverySeconds,
      note:
        `${c.note}; median s from restart to: pipeline started ${phase((p) => p.started)}, ` +
        `checkpoint restored ${phase((p) => p.restored)}, sink ready ${phase((p) => p.sinkReady)}, ` +
        `partitions assigned ${phase((p) => p.assigned)}`,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const scenario: FaultScenario = {
  name: 'kafka-restart',
  description:
    '`sluice run` of kafka → kafka (at-least-once sink) killed with SIGKILL and restarted at once, ' +
    'several times, while the input topic is written; recovery is the time from a restart to the ' +
    'first record the sink writes.',
  services: ['kafka'],
  async run(scale) {
    const topics = new Topics();
    try {
      const figures: FaultFigures[] = [];
      for (const c of cases(scale)) figures.push(await runCase(c, topics));
      return figures;
    } finally {
      await topics.cleanup();
    }
  },
};

export default scenario;
