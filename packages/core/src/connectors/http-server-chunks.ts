/**
 * What the `http_server` source queues and how it is handed out: chunks (the records of one
 * request or one replayed log frame), the payload of a write-ahead log frame, and the parts a
 * batch is built from.
 */

import type { DecodeFailure, SourceBatch } from '../connector.ts';
import { SluiceError } from '../errors.ts';
import type { Offset, Row } from '../record.ts';
import { type BodyFormat, decodeBody } from './http-body.ts';
import type { InputLimits } from './input-guards.ts';
import type { WalFrame, WalPosition } from './write-ahead-log.ts';

/** Position with `ack: wal`: the log frame being read, and how many of its records were handed. */
export interface HttpWalPosition extends WalPosition {
  readonly record: number;
}

/** Whether a restored position is a log position (not the record count of the other modes). */
export function isWalPosition(value: unknown): value is HttpWalPosition {
  const p = value as Partial<HttpWalPosition> | null;
  return (
    typeof p === 'object' &&
    p !== null &&
    Number.isSafeInteger(p.segment) &&
    Number.isSafeInteger(p.offset) &&
    Number.isSafeInteger(p.record)
  );
}

/** The records of one request (or one replayed log frame), handed out in order. */
export interface Chunk {
  readonly records: Row[];
  readonly texts: readonly string[] | undefined;
  /** Decode failures; handed with the first records of the chunk, then emptied. */
  failures: DecodeFailure[];
  readonly receivedAt: number;
  /** Whether it counts in the queue's bounds (a request; not a replayed frame). */
  readonly queued: boolean;
  /** Bytes it holds in the queue's budget. */
  readonly bytes: number;
  /** Records handed so far. */
  next: number;
  /** Whether it may be handed (`wal`: once its frame is durable). */
  ready: boolean;
  /** `wal`: where its frame starts, and where the next one does. */
  frame?: { readonly position: WalPosition; readonly next: WalPosition };
  /** `checkpoint`: answers the request once a checkpoint covers the chunk. */
  delivered?: { resolve: () => void; reject: (err: unknown) => void };
}

/** One frame's payload: format (1 byte: 0 JSON, 1 NDJSON), receive time (f64 LE), the body. */
export const FRAME_HEADER = 9;

/** The header of a frame payload: the body's format and the time the request was accepted. */
export function frameHeader(format: BodyFormat, receivedAt: number): Buffer {
  const header = Buffer.allocUnsafe(FRAME_HEADER);
  header.writeUInt8(format === 'ndjson' ? 1 : 0, 0);
  header.writeDoubleLE(receivedAt, 1);
  return header;
}

/** What a batch is built in while chunks are taken from. */
export interface BatchParts {
  records: Row[];
  offsets: Offset[];
  times: number[];
  texts: (string | undefined)[] | undefined;
  failures: DecodeFailure[];
}

/** Decodes a replayed frame into a chunk; WAL_FAILED when it does not decode (it did when logged). */
export function chunkOfFrame(frame: WalFrame, step: string, limits: InputLimits): Chunk {
  const { payload } = frame;
  const format: BodyFormat = payload.readUInt8(0) === 1 ? 'ndjson' : 'json';
  let decoded: ReturnType<typeof decodeBody>;
  try {
    decoded = decodeBody(payload.subarray(FRAME_HEADER), format, limits);
  } catch (err) {
    throw new SluiceError(
      'WAL_FAILED',
      `a frame of the write-ahead log at ${positionText(frame.position)} does not decode`,
      { step, cause: err },
    );
  }
  return {
    records: decoded.records,
    texts: decoded.texts,
    failures: decoded.failures,
    receivedAt: payload.readDoubleLE(1),
    queued: false,
    bytes: 0,
    next: 0,
    ready: true,
    frame: { position: frame.position, next: frame.next },
  };
}

/** Empty parts for a batch. */
export function newParts(): BatchParts {
  return { records: [], offsets: [], times: [], texts: undefined, failures: [] };
}

/** The batch built from `parts`. */
export function batchOf(parts: BatchParts): SourceBatch {
  const batch: SourceBatch = { records: parts.records, offsets: parts.offsets, times: parts.times };
  if (parts.texts !== undefined) batch.texts = parts.texts;
  if (parts.failures.length > 0) batch.failures = parts.failures;
  return batch;
}

/** A log position as an offset text: `segment:byte`. */
export function positionText(p: WalPosition): string {
  return `${p.segment}:${p.offset}`;
}
