import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Value } from 'typebox/value';
import { type SourceContext, type SourceReader, silentLogger } from '../connector.ts';
import { SluiceError } from '../errors.ts';
import type { Offset, Row } from '../record.ts';
import { type Clock, ManualClock, systemClock } from '../time.ts';
import type { NexmarkConfig } from './nexmark-config.ts';
import { NexmarkGenerator } from './nexmark-generator.ts';
import { nexmarkSource } from './nexmark-source.ts';

function configOf(options: Partial<NexmarkConfig>): NexmarkConfig {
  const config = Value.Default(nexmarkSource.config, { ...options });
  assert.ok(Value.Check(nexmarkSource.config, config), 'config matches the schema');
  return config as NexmarkConfig;
}

function contextOf(restored: SourceContext['restored'] = {}, clock: Clock = systemClock): SourceContext {
  return { id: 'nx', restored, clock, baseDir: '.', signal: new AbortController().signal, log: silentLogger };
}

async function open(options: Partial<NexmarkConfig>, restored = {}, clock?: Clock): Promise<SourceReader[]> {
  return nexmarkSource.create(configOf(options)).open(contextOf(restored, clock));
}

interface Read {
  records: Row[];
  times: number[];
  offsets: Offset[];
}

async function drain(reader: SourceReader, max: number): Promise<Read> {
  const out: Read = { records: [], times: [], offsets: [] };
  const signal = new AbortController().signal;
  for (let batch = await reader.read(max, signal); batch; batch = await reader.read(max, signal)) {
    out.records.push(...batch.records);
    out.times.push(...batch.times!);
    out.offsets.push(...batch.offsets!);
    if (out.records.length > 10_000_000) throw new Error('reader did not end');
  }
  return out;
}

const signal = new AbortController().signal;

describe('nexmark source', () => {
  it('produces the generator events with their dateTime as time and their number as offset', async () => {
    const [reader] = await open({ events: 1000, seed: 9, events_per_second: 1000, base_time: 0 });
    const read = await drain(reader, 128);
    const generator = new NexmarkGenerator({ seed: 9, baseTime: 0, eventsPerSecond: 1000 });
    assert.equal(read.records.length, 1000);
    assert.deepEqual(
      read.offsets,
      read.offsets.map((_, i) => i),
    );
    for (const [i, record] of read.records.entries()) {
      assert.deepEqual(record, generator.event(i));
      assert.equal(read.times[i], i, 'one event per ms');
    }
    assert.deepEqual(reader.position(), { next: 1000 });
  });

  it('splits the events of one partition exactly over several', async () => {
    const [whole] = await open({ events: 5000 });
    const one = await drain(whole, 500);
    const parts = await Promise.all((await open({ events: 5000, partitions: 3 })).map((r) => drain(r, 97)));
    const merged = new Array<Row>(5000);
    for (const [p, part] of parts.entries()) {
      for (const [i, offset] of part.offsets.entries()) {
        assert.equal((offset as number) % 3, p, 'partition p has the events n ≡ p (mod 3)');
        assert.equal(merged[offset as number], undefined, 'no event twice');
        merged[offset as number] = part.records[i];
      }
      const times = part.times;
      assert.ok(
        times.every((t, i) => i === 0 || t >= times[i - 1]),
        'event time is monotone in each partition',
      );
    }
    assert.deepEqual(merged, one.records);
  });

  it('resumes from checkpoint positions with the rest of the same sequence', async () => {
    const options = { events: 4000, partitions: 2, seed: 5 };
    const whole = await Promise.all((await open(options)).map((r) => drain(r, 128)));
    const first = await open(options);
    const before: Row[][] = [[], []];
    for (const [p, reader] of first.entries()) {
      for (let i = 0; i <= p; i++) before[p].push(...(await reader.read(300, signal))!.records);
    }
    const restored = { p0: first[0].position(), p1: first[1].position() };
    assert.deepEqual(restored, { p0: { next: 600 }, p1: { next: 1201 } });
    const second = await open(options, JSON.parse(JSON.stringify(restored)));
    for (const [p, reader] of second.entries()) {
      const rest = await drain(reader, 111);
      assert.deepEqual([...before[p], ...rest.records], whole[p].records, `partition p${p}`);
    }
  });

  it('refuses a position that does not fit the partitions', async () => {
    await assert.rejects(open({ partitions: 2 }, { p0: { next: 3 } }), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'CHECKPOINT_INCOMPATIBLE');
      return true;
    });
    await assert.rejects(open({}, { p0: 'garbage' }), SluiceError);
  });

  it('never ends without events, and says whether it is bounded', async () => {
    const [reader] = await open({});
    for (let i = 0; i < 3; i++) assert.equal((await reader.read(1000, signal))?.records.length, 1000);
    assert.deepEqual(reader.position(), { next: 3000 });
    assert.equal(nexmarkSource.bounded?.(configOf({})), false);
    assert.equal(nexmarkSource.bounded?.(configOf({ events: 0 })), true);
    const [empty] = await open({ events: 0 });
    assert.equal(await empty.read(10, signal), null);
  });

  it('paces reads at rate against the clock', async () => {
    const clock = new ManualClock(1_000_000);
    const [reader] = await open({ rate: 200, partitions: 2 }, {}, clock);
    assert.equal((await reader.read(1000, signal))?.records.length, 1);
    clock.advance(1000);
    assert.equal((await reader.read(1000, signal))?.records.length, 100);
    clock.advance(60_000);
    assert.equal((await reader.read(1000, signal))?.records.length, 100, 'catches up one second at most');
  });

  it('rejects a base_time that is not a time', () => {
    assert.throws(
      () => nexmarkSource.create(configOf({ base_time: 'yesterday' })),
      (err: unknown) =>
        err instanceof SluiceError && err.code === 'CONFIG_INVALID' && err.path === 'base_time',
    );
  });
});
