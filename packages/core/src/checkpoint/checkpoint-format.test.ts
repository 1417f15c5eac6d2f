import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { serialize } from 'node:v8';
import { SluiceError } from '../errors.ts';
import {
  CHECKPOINT_FORMAT_VERSION,
  CHECKPOINT_HEADER_BYTES,
  type CheckpointData,
  decodeCheckpoint,
  encodeCheckpoint,
} from './checkpoint-format.ts';
import { goldenCheckpoint } from './test-support.ts';

const testdata = new URL('./testdata/', import.meta.url);

/** Frames `payload` as a checkpoint of `version` with a valid checksum, as an encoder would. */
function frame(version: number, payload: Uint8Array): Uint8Array {
  const out = Buffer.alloc(CHECKPOINT_HEADER_BYTES + payload.length);
  out.write('SLUICECK', 0, 'latin1');
  out.writeUInt32LE(version, 8);
  out.writeBigUInt64LE(BigInt(payload.length), 16);
  out.set(payload, CHECKPOINT_HEADER_BYTES);
  createHash('sha256').update(out.subarray(0, 24)).update(payload).digest().copy(out, 24);
  return out;
}

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
    version[8] = 3;
    assertCorrupt(() => decodeCheckpoint(version), /format version 3; this Sluice reads versions 1 and 2/);
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

  it('writes version 2, byte for byte as the golden file', () => {
    assert.equal(CHECKPOINT_FORMAT_VERSION, 2);
    const golden = readFileSync(new URL('checkpoint-v2.ckpt', testdata));
    const bytes = encodeCheckpoint(goldenCheckpoint());
    assert.ok(
      Buffer.from(bytes).equals(golden),
      'the encoding changed: if on purpose, raise the format version, keep reading this one, and add a golden file',
    );
    assert.deepStrictEqual(decodeCheckpoint(golden), goldenCheckpoint());
  });

  it('reads version-1 files (v8.serialize payloads) written before version 2', () => {
    const v1 = readFileSync(new URL('checkpoint-v1.ckpt', testdata));
    assert.equal(v1.readUInt32LE(8), 1);
    assert.deepStrictEqual(decodeCheckpoint(v1, 'chk-42.ckpt'), goldenCheckpoint());
    assert.deepStrictEqual(decodeCheckpoint(frame(1, serialize(sample()))), sample());
  });

  it('names the file when a version-2 payload is malformed under a valid checksum', () => {
    const payload = encodeCheckpoint(sample()).subarray(CHECKPOINT_HEADER_BYTES);
    const cases: [Uint8Array, RegExp][] = [
      [payload.subarray(0, payload.length - 4), /needs \d+ bytes but only \d+ remain/],
      [Uint8Array.of(0x11, 1, 0x08, 1, 0x61, 0xee), /unknown tag 0xee at payload byte 5/],
      [Uint8Array.of(0x11, 0xff, 0xff, 0x03), /an object of 65535 items is longer than the remaining bytes/],
      [Uint8Array.of(0x10, 0), /does not hold a checkpoint: the payload is not an object/],
    ];
    for (const [bad, message] of cases) {
      assertCorrupt(() => decodeCheckpoint(frame(2, bad), 'chk-9.ckpt'), /chk-9\.ckpt/);
      assertCorrupt(() => decodeCheckpoint(frame(2, bad), 'chk-9.ckpt'), message);
    }
  });

  it('refuses a class instance in state with the step and the path', () => {
    class Session {
      start = 1;
    }
    const data = sample();
    data.operators.sessions = new Map([['k', { open: [new Session()] }]]);
    assert.throws(
      () => encodeCheckpoint(data),
      (err: unknown) =>
        err instanceof SluiceError &&
        err.code === 'CHECKPOINT_STATE_INVALID' &&
        err.step === 'sessions' &&
        /operators\.sessions\.get\("k"\)\.open\[0\].*an instance of Session/s.test(err.message),
    );
  });
});
