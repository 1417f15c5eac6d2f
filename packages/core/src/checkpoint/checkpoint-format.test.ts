import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SluiceError } from '../errors.ts';
import {
  CHECKPOINT_HEADER_BYTES,
  type CheckpointData,
  decodeCheckpoint,
  encodeCheckpoint,
} from './checkpoint-format.ts';

function sample(id = 7): CheckpointData {
  return {
    id,
    pipeline: 'orders',
    createdAt: 1_700_000_000_000,
    watermark: Number.NEGATIVE_INFINITY,
    sources: { kafka: { '0': 42, '1': 'seq-9' } },
    operators: {
      counts: new Map<string, unknown>([
        ['a', { n: 1, last: Number.POSITIVE_INFINITY }],
        ['b', new Set([1, 2])],
      ]),
      hist: new Float64Array([1.5, Number.NaN]),
    },
    sinks: { pg: { txn: 'abc' } },
    counters: { recordsIn: 10, recordsOut: 9 },
  };
}

function assertCorrupt(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof SluiceError);
    assert.equal(err.code, 'CHECKPOINT_CORRUPT');
    assert.match(err.message, pattern);
    return true;
  });
}

describe('checkpoint format', () => {
  it('round-trips Maps, Sets, typed arrays and infinities', () => {
    const back = decodeCheckpoint(encodeCheckpoint(sample()));
    assert.deepEqual(back, sample());
    assert.equal(back.watermark, Number.NEGATIVE_INFINITY);
    assert.ok(back.operators.counts instanceof Map);
  });

  it('captures live state at encode time', () => {
    const data = sample();
    const live = data.operators.counts as Map<string, unknown>;
    const bytes = encodeCheckpoint(data);
    live.set('c', 3);
    assert.equal((decodeCheckpoint(bytes).operators.counts as Map<string, unknown>).has('c'), false);
  });

  it('rejects a flipped payload byte by checksum', () => {
    const bytes = encodeCheckpoint(sample());
    bytes[bytes.length - 3] ^= 0x01;
    assertCorrupt(() => decodeCheckpoint(bytes, 'x.ckpt'), /x\.ckpt failed its SHA-256 checksum/);
  });

  it('rejects a flipped flags byte by checksum', () => {
    const bytes = encodeCheckpoint(sample());
    bytes[13] ^= 0x80;
    assertCorrupt(() => decodeCheckpoint(bytes), /checksum/);
  });

  it('rejects truncation, trailing bytes, wrong magic and unknown versions', () => {
    const bytes = encodeCheckpoint(sample());
    assertCorrupt(() => decodeCheckpoint(bytes.subarray(0, bytes.length - 1)), /is truncated: header says/);
    assertCorrupt(() => decodeCheckpoint(bytes.subarray(0, 10)), /shorter than the 56-byte header/);
    const longer = new Uint8Array(bytes.length + 2);
    longer.set(bytes);
    assertCorrupt(() => decodeCheckpoint(longer), /trailing bytes/);
    const magic = bytes.slice();
    magic[0] = 0x78;
    assertCorrupt(() => decodeCheckpoint(magic), /not a Sluice checkpoint/);
    const version = bytes.slice();
    version[8] = 2;
    assertCorrupt(() => decodeCheckpoint(version), /format version 2; this Sluice reads version 1/);
  });

  it('decodes from a view into a larger buffer', () => {
    const bytes = encodeCheckpoint(sample(3));
    const big = new Uint8Array(bytes.length + 100);
    big.set(bytes, 50);
    assert.equal(decodeCheckpoint(big.subarray(50, 50 + bytes.length)).id, 3);
  });

  it('names the step whose state cannot be serialized', () => {
    const data = sample();
    data.operators.bad = { fn: () => 1 };
    assert.throws(
      () => encodeCheckpoint(data),
      (err: unknown) =>
        err instanceof SluiceError && err.step === 'bad' && /operators\.bad/.test(err.message),
    );
  });

  it('has a 56-byte header', () => {
    const bytes = encodeCheckpoint(sample());
    assert.equal(Buffer.from(bytes.subarray(0, 8)).toString('latin1'), 'SLUICECK');
    assert.ok(bytes.length > CHECKPOINT_HEADER_BYTES);
  });
});
