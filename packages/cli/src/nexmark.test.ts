/**
 * `sluice nexmark` to a file and to stdout: the lines are the `nexmark` source's events in the
 * reference JSON form, and the `file` source (format json) reads them back as the same records.
 * Bad options are usage errors (exit 2) naming the option.
 */

import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  builtins,
  NexmarkGenerator,
  type Row,
  type SourceSpec,
  silentLogger,
  validateConfig,
} from '@sluice/core';
import { Cli, tempDir } from './cli-test-support.ts';

const EVENTS = 3000;

function expected(
  count: number,
  seed = 42,
  eventsPerSecond = 100_000,
  baseTime = Date.UTC(2026, 0, 1),
): Row[] {
  const generator = new NexmarkGenerator({ seed, baseTime, eventsPerSecond });
  return Array.from({ length: count }, (_, n) => generator.event(n));
}

/** Reads a file with the `file` source, format json, as a pipeline would. */
async function readWithFileSource(path: string): Promise<Row[]> {
  const spec = builtins.components.find((c): c is SourceSpec => c.kind === 'source' && c.type === 'file');
  assert.ok(spec);
  const checked = validateConfig(spec.config, { path, format: 'json' });
  assert.ok(checked.ok, JSON.stringify(checked));
  const signal = new AbortController().signal;
  const readers = await spec.create(checked.value).open({
    id: 'in',
    restored: {},
    clock: { now: () => Date.now() },
    baseDir: '.',
    signal,
    log: silentLogger,
  });
  const records: Row[] = [];
  for (const reader of readers) {
    for (let batch = await reader.read(1000, signal); batch; batch = await reader.read(1000, signal)) {
      assert.equal(batch.failures?.length ?? 0, 0, 'every line decodes');
      records.push(...batch.records);
    }
    await reader.close();
  }
  return records;
}

test('writes JSON lines that the file source reads back as the same records', async (t) => {
  const dir = await tempDir(t, 'sluice-nexmark-');
  const file = join(dir, 'events.jsonl');
  const cli = new Cli(
    ['nexmark', '--events', String(EVENTS), '--seed', '7', '--events-per-second', '1000', '-o', file],
    { cwd: dir },
  );
  const ended = await cli.exited;
  assert.equal(ended.code, 0, ended.stderr);
  assert.match(ended.stderr, new RegExp(`${EVENTS} events to .*events.jsonl`));
  const want = expected(EVENTS, 7, 1000);
  const text = await readFile(file, 'utf8');
  const lines = text.split('\n');
  assert.equal(lines.pop(), '', 'the file ends with a newline');
  assert.equal(lines.length, EVENTS);
  assert.equal(lines[2], JSON.stringify(want[2]), 'reference form: event_type, person, auction, bid');
  assert.match(lines[0], /^\{"event_type":0,"person":\{"id":1000,.*\},"auction":null,"bid":null\}$/);
  assert.deepEqual(await readWithFileSource(file), want);

  // In a pipeline, with the event time the source's reference page gives for read-back events.
  await writeFile(
    join(dir, 'pipeline.yaml'),
    `
name: nexmark-readback
settings: { checkpoint: { interval: 0s, dir: ./checkpoints } }
sources:
  in:
    type: file
    path: ./events.jsonl
    format: json
    event_time: { expression: "coalesce(bid.dateTime, auction.dateTime, person.dateTime)", max_out_of_orderness: 4s }
steps:
  - id: per-second
    type: aggregate
    window: { type: tumbling, size: 1s }
    fields: { events: count(*), bids: count(bid) }
sinks:
  out: { type: file, path: ./windows.jsonl, format: json }
`,
  );
  const run = await new Cli(['run', 'pipeline.yaml', '--log-format', 'json'], { cwd: dir }).exited;
  assert.equal(run.code, 0, run.stderr);
  const windows = (await readFile(join(dir, 'windows.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { window_start: number; events: number; bids: number });
  // 1000 events per second of event time: 3 windows of 1000 events, 920 of them bids.
  assert.deepEqual(
    windows.map((w) => [w.window_start - Date.UTC(2026, 0, 1), w.events, w.bids]),
    [
      [0, 1000, 920],
      [1000, 1000, 920],
      [2000, 1000, 920],
    ],
  );
});

test('writes to stdout by default, the same events as the source with the same options', async (t) => {
  const dir = await tempDir(t, 'sluice-nexmark-');
  const cli = new Cli(['nexmark', '--events', '200', '--base-time', '2026-03-01T00:00:00Z'], { cwd: dir });
  const ended = await cli.exited;
  assert.equal(ended.code, 0, ended.stderr);
  const want = expected(200, 42, 100_000, Date.UTC(2026, 2, 1));
  assert.equal(ended.stdout, want.map((e) => `${JSON.stringify(e)}\n`).join(''));
});

test('refuses bad options with a usage error naming the option', async (t) => {
  const dir = await tempDir(t, 'sluice-nexmark-');
  const cases: [string[], RegExp][] = [
    [[], /--events/],
    [['--events', 'many'], /--events must be a number/],
    [['--events', '1.5'], /--events: must be an integer/],
    [['--events', '10', '--events-per-second', '0'], /--events-per-second: must be > 0/],
    [['--events', '10', '--base-time', 'yesterday'], /--base-time: .*not a timestamp/],
    [['--events', '10', '--topic', 'nexmark'], /--kafka-brokers and --topic go together/],
  ];
  for (const [args, message] of cases) {
    const ended = await new Cli(['nexmark', ...args], { cwd: dir }).exited;
    assert.equal(ended.code, 2, `exit code of ${args.join(' ')}`);
    assert.match(ended.stderr, message, args.join(' '));
  }
});
