/**
 * The checkpoint file format: what a checkpoint holds and how it is framed on disk.
 *
 * A file is a 56-byte header followed by the payload:
 *
 * | offset | size | field |
 * |---|---|---|
 * | 0  | 8  | magic `SLUICECK` (ASCII) |
 * | 8  | 4  | format version, uint32 little-endian (2; 1 is still read) |
 * | 12 | 4  | flags, uint32 little-endian (0; reserved) |
 * | 16 | 8  | payload length in bytes, uint64 little-endian |
 * | 24 | 32 | SHA-256 of header bytes 0–23 followed by the payload |
 *
 * Version 2 (written since December 2026): the payload is the {@link CheckpointData} object in
 * Sluice's own value encoding, specified in `value-codec.ts` and `docs/ARCHITECTURE.md` — tagged,
 * little-endian, UTF-8 strings — so any Node version reads what any other wrote.
 *
 * Version 1 (read only): the payload is `v8.serialize(data)`, V8's structured-clone wire format,
 * which a V8 reads only when it is as new as the writer's; kept so that checkpoints taken before
 * the upgrade restore after it.
 */

import { createHash } from 'node:crypto';
import { deserialize } from 'node:v8';
import { SluiceError } from '../errors.ts';
import type { PipelineFingerprint } from './fingerprint.ts';
import { DEPTH_LIMIT, findUnstorable, formatStatePath } from './state-path.ts';
import { decodeValue, encodeValue } from './value-codec.ts';

/** A consistent snapshot of a job, taken at a batch boundary. */
export interface CheckpointData {
  /** Increasing within one history of a job; names the file. */
  id: number;
  /** Name of the pipeline the job runs. */
  pipeline: string;
  /** When the snapshot was taken, epoch ms. */
  createdAt: number;
  /** Pipeline watermark at the snapshot (may be `-Infinity`). */
  watermark: number;
  /** Offset (or other resumable position) of each source partition, by source id. */
  sources: { [sourceId: string]: { [partition: string]: unknown } };
  /** What each operator's `snapshot()` returned, by step id. */
  operators: { [stepId: string]: unknown };
  /**
   * The keyed state the runtime holds for each step (`OperatorContext.state`), by step id, its
   * entries grouped by key group (`runtime/keyed-state.ts`). Absent in older checkpoints, whose
   * operators kept their keyed state in their own snapshots.
   */
  keyedState?: { [stepId: string]: unknown };
  /** Pending state of each sink (e.g. a pre-committed transaction), by sink id. */
  sinks: { [sinkId: string]: unknown };
  /** Job counters (records in, out, dead, late, …) so totals survive restarts. */
  counters?: { [name: string]: number };
  /**
   * Greatest event time read from each source partition (`source/partition`), so a restarted
   * job's watermark does not wait for every partition to read again.
   */
  partitionTimes?: { [partition: string]: number };
  /**
   * Each source's watermark and each step's (the minimum over the sources upstream of it that
   * were not idle). Absent in checkpoints written before steps had watermarks of their own:
   * every source and step then restarts from `watermark`.
   */
  sourceWatermarks?: { [sourceId: string]: number };
  stepWatermarks?: { [stepId: string]: number };
  /**
   * What the checkpoint belongs to: sources and stateful steps with digests of their options
   * (see `fingerprint.ts`). Absent in checkpoints written before fingerprints.
   */
  fingerprint?: PipelineFingerprint;
}

/** First bytes of every checkpoint file. */
const MAGIC = Buffer.from('SLUICECK', 'latin1');
/** The format version this code writes; it also reads {@link V8_FORMAT_VERSION}. */
export const CHECKPOINT_FORMAT_VERSION = 2;
/** The version whose payload is `v8.serialize` output, read so older checkpoints still restore. */
const V8_FORMAT_VERSION = 1;
/** Size of the fixed header before the payload. */
export const CHECKPOINT_HEADER_BYTES = 56;
const HASHED_HEADER_BYTES = 24;
const CHECKSUM_OFFSET = 24;
/**
 * Container levels the codec goes through: the checkpoint object and its part (`operators`) above
 * the DEPTH_LIMIT levels a step's state may use, and one more so that the path finder, not the
 * codec, reports the level too deep.
 */
const CODEC_DEPTH = DEPTH_LIMIT + 3;

/**
 * Bytes by part and entry (`value-codec.ts`'s `PartSizes`, written out here so that this public
 * declaration does not reach the codec's, which name Node's `Buffer`: the published types need
 * no `@types/node`).
 */
export type CheckpointPartSizes = { [part: string]: { [key: string]: number } };

/**
 * Encodes and frames a checkpoint (format version 2). Synchronous, so live operator state (Maps
 * the operators keep mutating) is captured exactly as it is at the call; the returned bytes own no
 * shared memory. Throws CHECKPOINT_STATE_INVALID naming the step and the path of a value the
 * format cannot carry (a function, a symbol, a class instance, a cycle or nesting deeper than
 * DEPTH_LIMIT levels) — `operators.agg.groups.get("k").first.a…`; INTERNAL when no such value is
 * found in a step's state. With `sizes`, notes the encoded bytes of each entry of the parts it
 * names as they are written (`{ operators: {}, sinks: {} }` → the bytes of each step's snapshot
 * and each sink's state), at no cost beyond the encode.
 */
export function encodeCheckpoint(data: CheckpointData, sizes?: CheckpointPartSizes): Uint8Array {
  let encoded: ReturnType<typeof encodeValue>;
  try {
    encoded = encodeValue(data, CHECKPOINT_HEADER_BYTES, CODEC_DEPTH, sizes);
  } catch (err) {
    // UnstorableValueError, a stack overflow, or a getter that threw: find and name the value.
    throw unserializable(data, err);
  }
  const out = encoded.bytes;
  const payload = out.subarray(CHECKPOINT_HEADER_BYTES);
  MAGIC.copy(out, 0);
  out.writeUInt32LE(CHECKPOINT_FORMAT_VERSION, 8);
  out.writeUInt32LE(0, 12);
  out.writeBigUInt64LE(BigInt(payload.length), 16);
  checksum(out, payload).copy(out, CHECKSUM_OFFSET);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * Verifies and deserializes a checkpoint written by `encodeCheckpoint`. Throws CHECKPOINT_CORRUPT,
 * naming `file` when given, on a wrong magic, an unknown format version, a length that does not
 * match the bytes (truncation or trailing garbage), a checksum mismatch, or a payload that is not a
 * checkpoint.
 */
export function decodeCheckpoint(bytes: Uint8Array, file?: string): CheckpointData {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const where = file ?? 'checkpoint';
  if (buf.length < CHECKPOINT_HEADER_BYTES) {
    throw corrupt(
      `${where} is truncated: ${buf.length} bytes, shorter than the ${CHECKPOINT_HEADER_BYTES}-byte header`,
    );
  }
  if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw corrupt(`${where} is not a Sluice checkpoint (wrong magic bytes)`);
  }
  const version = buf.readUInt32LE(8);
  if (version !== CHECKPOINT_FORMAT_VERSION && version !== V8_FORMAT_VERSION) {
    throw corrupt(
      `${where} has format version ${version}; this Sluice reads versions ${V8_FORMAT_VERSION} and ` +
        `${CHECKPOINT_FORMAT_VERSION} (a newer Sluice wrote it: run that version, or start --from-scratch)`,
    );
  }
  const declared = buf.readBigUInt64LE(16);
  const actual = BigInt(buf.length - CHECKPOINT_HEADER_BYTES);
  if (declared !== actual) {
    const what = actual < declared ? 'is truncated' : 'has trailing bytes';
    throw corrupt(`${where} ${what}: header says ${declared} payload bytes, file has ${actual}`);
  }
  const payload = buf.subarray(CHECKPOINT_HEADER_BYTES);
  if (!checksum(buf, payload).equals(buf.subarray(CHECKSUM_OFFSET, CHECKPOINT_HEADER_BYTES))) {
    throw corrupt(`${where} failed its SHA-256 checksum (the file was damaged after it was written)`);
  }
  let data: unknown;
  try {
    data = version === V8_FORMAT_VERSION ? deserialize(payload) : decodeValue(payload, CODEC_DEPTH);
  } catch (err) {
    throw corrupt(`${where} has a payload that cannot be decoded: ${(err as Error).message}`, err);
  }
  const problem = shapeProblem(data);
  if (problem) throw corrupt(`${where} does not hold a checkpoint: ${problem}`);
  return data as CheckpointData;
}

function checksum(framed: Buffer, payload: Buffer): Buffer {
  return createHash('sha256').update(framed.subarray(0, HASHED_HEADER_BYTES)).update(payload).digest();
}

function corrupt(message: string, cause?: unknown): SluiceError {
  return new SluiceError('CHECKPOINT_CORRUPT', message, { cause });
}

function isRecord(value: unknown): value is { [k: string]: unknown } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function shapeProblem(data: unknown): string | undefined {
  if (!isRecord(data)) return 'the payload is not an object';
  if (typeof data.id !== 'number' || !Number.isSafeInteger(data.id) || data.id < 0)
    return 'id is not an integer';
  if (typeof data.pipeline !== 'string') return 'pipeline is not a string';
  if (typeof data.createdAt !== 'number') return 'createdAt is not a number';
  if (typeof data.watermark !== 'number') return 'watermark is not a number';
  for (const part of ['sources', 'operators', 'sinks'] as const) {
    if (!isRecord(data[part])) return `${part} is not an object`;
  }
  if (data.counters !== undefined && !isRecord(data.counters)) return 'counters is not an object';
  if (data.keyedState !== undefined && !isRecord(data.keyedState)) return 'keyedState is not an object';
  if (data.partitionTimes !== undefined && !isRecord(data.partitionTimes))
    return 'partitionTimes is not an object';
  for (const part of ['sourceWatermarks', 'stepWatermarks'] as const) {
    const value = data[part];
    if (value !== undefined && !(isRecord(value) && Object.values(value).every((v) => typeof v === 'number')))
      return `${part} is not an object of numbers`;
  }
  const fp = data.fingerprint;
  if (fp !== undefined && !(isRecord(fp) && isRecord(fp.sources) && isRecord(fp.steps)))
    return 'fingerprint is not a fingerprint';
  return undefined;
}

/** Finds the value in `data` that cannot be encoded, for a message naming its step and path. */
function unserializable(data: CheckpointData, err: unknown): SluiceError {
  const reason = err instanceof Error ? err.message : String(err);
  const parts = [
    ['sources', data.sources],
    ['operators', data.operators],
    ['keyedState', data.keyedState ?? {}],
    ['sinks', data.sinks],
  ] as const;
  for (const [part, entries] of parts) {
    for (const id of Object.keys(entries ?? {})) {
      let found: ReturnType<typeof findUnstorable>;
      try {
        found = findUnstorable(entries[id]);
      } catch {
        found = undefined; // the walk met what the encoder met (a throwing getter): INTERNAL below
      }
      if (found === undefined) continue;
      const path = `${part}.${id}${formatStatePath(found.segments)}`;
      return new SluiceError(
        'CHECKPOINT_STATE_INVALID',
        `the checkpoint cannot store ${path}: it is ${found.reason}. State must be plain data — ` +
          'objects, arrays, Maps, Sets, Dates, typed arrays, Buffers, primitives — without cycles and ' +
          `nested at most ${DEPTH_LIMIT} levels. Records read by sources are kept within max_depth, so ` +
          'a TypeScript function built it (into state, or into a record it emitted): keep such values ' +
          'plain and shallower',
        { step: id, cause: err },
      );
    }
  }
  return new SluiceError('INTERNAL', `checkpoint cannot be encoded: ${reason}`, { cause: err });
}
