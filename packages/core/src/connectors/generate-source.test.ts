import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Value } from 'typebox/value';
import { parse } from 'yaml';
import { type SourceContext, type SourceReader, silentLogger } from '../connector.ts';
import { SluiceError } from '../errors.ts';
import type { Row } from '../record.ts';
import { type Clock, ManualClock, systemClock } from '../time.ts';
import type { GenerateConfig } from './generate-config.ts';
import { generateRecord } from './generate-record.ts';
import { generateSource } from './generate-source.ts';

function configOf(options: Partial<GenerateConfig>): GenerateConfig {
  const config = Value.Default(generateSource.config, { template: 'orders', ...options });
  assert.ok(Value.Check(generateSource.config, config), 'config matches the schema');
  return config as GenerateConfig;
}

function contextOf(restored: SourceContext['restored'] = {}, clock: Clock = systemClock): SourceContext {
  return {
    id: 'gen',
    restored,
    clock,
    baseDir: '.',
    signal: new AbortController().signal,
    log: silentLogger,
  };
}

async function open(options: Partial<GenerateConfig>, restored = {}, clock?: Clock): Promise<SourceReader[]> {
  return generateSource.create(configOf(options)).open(contextOf(restored, clock));
}

async function drain(reader: SourceReader, max: number, limit = 1_000_000): Promise<Row[]> {
  const out: Row[] = [];
  const signal = new AbortController().signal;
  for (let batch = await reader.read(max, signal); batch; batch = await reader.read(max, signal)) {
    out.push(...batch.records);
    if (out.length > limit) throw new Error('reader did not end');
  }
  return out;
}

describe('generate source', () => {
  it('splits count records over partitions by index and then ends', async () => {
    const readers = await open({ count: 1000, partitions: 3 });
    assert.deepEqual(
      readers.map((r) => r.partition),
      ['p0', 'p1', 'p2'],
    );
    const seqs: number[] = [];
    for (const [p, reader] of readers.entries()) {
      const batch = await reader.read(10, new AbortController().signal);
      assert.ok(batch);
      assert.equal(batch.records.length, 10);
      assert.deepEqual(
        batch.offsets,
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => p + 3 * i),
      );
      assert.deepEqual(
        batch.times,
        batch.records.map((r) => r.ts),
      );
      const rest = await drain(reader, 64);
      for (const record of [...batch.records, ...rest]) {
        assert.equal((record.seq as number) % 3, p);
        seqs.push(record.seq as number);
      }
      assert.equal(await reader.read(64, new AbortController().signal), null);
    }
    assert.deepEqual(
      seqs.sort((a, b) => a - b),
      Array.from({ length: 1000 }, (_, i) => i),
    );
  });

  it('produces exactly the records of generateRecord', async () => {
    const options = { template: 'clicks', seed: 7, out_of_order: 0.2, malformed: 0.05 } as const;
    const [reader] = await open({ ...options, count: 500 });
    const records = await drain(reader, 100);
    assert.equal(records.length, 500);
    for (const [i, record] of records.entries()) {
      assert.deepEqual(record, generateRecord('clicks', 7, i, { out_of_order: 0.2, malformed: 0.05 }));
    }
  });

  it('resumes from a position with the same records as an uninterrupted run', async () => {
    const options = { count: 2000, partitions: 2, late: 0.1, out_of_order: 0.1 };
    const whole = await Promise.all((await open(options)).map((r) => drain(r, 128)));
    const first = await open(options);
    const before: Row[][] = [[], []];
    for (const [p, reader] of first.entries()) {
      for (let i = 0; i <= p; i++)
        before[p].push(...(await reader.read(300, new AbortController().signal))!.records);
    }
    const restored = { p0: first[0].position(), p1: first[1].position() };
    assert.deepEqual(restored, { p0: { next: 600 }, p1: { next: 1201 } });
    const second = await open(options, JSON.parse(JSON.stringify(restored)));
    for (const [p, reader] of second.entries()) {
      assert.deepEqual([...before[p], ...(await drain(reader, 128))], whole[p]);
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

  it('never ends without count and returns full batches', async () => {
    const [reader] = await open({ template: 'sensors' });
    for (let i = 0; i < 3; i++) {
      const batch = await reader.read(1000, new AbortController().signal);
      assert.equal(batch?.records.length, 1000);
    }
    assert.deepEqual(reader.position(), { next: 3000 });
    assert.equal(generateSource.bounded?.(configOf({})), false);
    assert.equal(generateSource.bounded?.(configOf({ count: 0 })), true);
    const [empty] = await open({ count: 0 });
    assert.equal(await empty.read(10, new AbortController().signal), null);
  });

  it('respects rate against the clock, catching up at most one second', async () => {
    const clock = new ManualClock(1_000_000);
    const [reader] = await open({ rate: 200, partitions: 2 }, {}, clock);
    const signal = new AbortController().signal;
    assert.equal((await reader.read(1000, signal))?.records.length, 1);
    clock.advance(1000);
    assert.equal((await reader.read(1000, signal))?.records.length, 100);
    clock.advance(60_000);
    assert.equal((await reader.read(1000, signal))?.records.length, 100);
    assert.equal((await reader.read(30, signal))?.records.length, 0);
    const started = performance.now();
    const aborted = new AbortController();
    setTimeout(() => aborted.abort(), 20);
    assert.equal((await reader.read(1000, aborted.signal))?.records.length, 0);
    assert.ok(performance.now() - started < 190, 'an abort ends the wait');
  });

  it('paces reads in real time', async () => {
    const [reader] = await open({ rate: 500 });
    const signal = new AbortController().signal;
    const started = performance.now();
    let n = 0;
    while (performance.now() - started < 300) n += (await reader.read(1000, signal))!.records.length;
    const elapsed = performance.now() - started;
    assert.ok(n >= 1 && Math.abs(n - (elapsed * 500) / 1000) <= 25, `${n} records in ${elapsed} ms`);
  });

  it('has a spec example that matches its schema', () => {
    const { type, ...options } = parse(generateSource.example ?? '') as { type: string };
    assert.equal(type, generateSource.type);
    assert.ok(Value.Check(generateSource.config, Value.Default(generateSource.config, options)));
  });

  it('rejects invalid options with CONFIG_INVALID', () => {
    const invalid = (options: Partial<GenerateConfig>, path: string) =>
      assert.throws(
        () => generateSource.create(configOf(options)),
        (err: unknown) => err instanceof SluiceError && err.code === 'CONFIG_INVALID' && err.path === path,
      );
    invalid({ malformed: 0.5, late: 0.5, out_of_order: 0.1 }, 'malformed');
    invalid({ start_time: 'yesterday' }, 'start_time');
    invalid({ time_step: 'often' }, 'time_step');
    invalid({ jitter: '2 s' }, 'jitter');
  });
});
