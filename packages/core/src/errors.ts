/**
 * One error class for the whole engine, with a catalogue of stable codes.
 *
 * Every code says who is at fault (`user`: fix the pipeline or the data; `external`: a system
 * Sluice talks to; `internal`: a Sluice bug) and whether retrying may help. Messages say what
 * happened and how to fix it; `step` and `path` name the place in the pipeline.
 */

import { redactUrlCredentials } from './url-credentials.ts';

export type ErrorKind = 'user' | 'external' | 'internal';

interface CodeInfo {
  readonly kind: ErrorKind;
  readonly retryable: boolean;
  readonly summary: string;
}

/** The catalogue. Codes are part of the public contract: never rename one, only add. */
export const errorCodes = {
  CONFIG_INVALID: { kind: 'user', retryable: false, summary: 'A pipeline or component option is invalid.' },
  CONFIG_PARSE: { kind: 'user', retryable: false, summary: 'A pipeline file could not be parsed.' },
  PLAN_UNKNOWN_TYPE: {
    kind: 'user',
    retryable: false,
    summary: 'A source, step or sink names a type that is not registered.',
  },
  PLAN_MISSING_INPUT: {
    kind: 'user',
    retryable: false,
    summary: 'A step reads from an id that does not exist.',
  },
  PLAN_DUPLICATE_ID: { kind: 'user', retryable: false, summary: 'Two sources, steps or sinks share an id.' },
  PLAN_CYCLE: { kind: 'user', retryable: false, summary: 'The steps of a pipeline form a cycle.' },
  PLAN_CHANGELOG_MISMATCH: {
    kind: 'user',
    retryable: false,
    summary:
      'An updating stream (updates and deletes) feeds a step or sink that takes only appends; the message says which modes would take it.',
  },
  PLAN_KEY_MISMATCH: {
    kind: 'user',
    retryable: false,
    summary:
      'A sink upserts an updating stream by a key that does not identify its rows; the message names the key that does.',
  },
  PLAN_TYPE_ERROR: {
    kind: 'user',
    retryable: false,
    summary: 'An expression or step does not type-check against its input.',
  },
  EXPR_SYNTAX: { kind: 'user', retryable: false, summary: 'An expression could not be parsed.' },
  EXPR_UNKNOWN_FUNCTION: {
    kind: 'user',
    retryable: false,
    summary: 'An expression calls an unknown function.',
  },
  EXPR_EVAL: {
    kind: 'user',
    retryable: false,
    summary: 'An expression failed on a record (wrong type, bad cast, …).',
  },
  EXPR_DIVISION_BY_ZERO: { kind: 'user', retryable: false, summary: 'An expression divided by zero.' },
  NUMBER_OUT_OF_RANGE: {
    kind: 'user',
    retryable: false,
    summary:
      'A number left the range of a double (beyond ±1.8e308, or NaN): a cast, an arithmetic result, a non-finite value reaching an aggregate, or a sum that would overflow. The record goes to dead letters.',
  },
  EXPR_MISSING_FIELD: {
    kind: 'user',
    retryable: false,
    summary: 'An expression read a field the record does not have.',
  },
  DECODE_FAILED: {
    kind: 'user',
    retryable: false,
    summary: 'Input bytes could not be decoded into a record (malformed JSON, bad CSV row).',
  },
  SCHEMA_VIOLATION: {
    kind: 'user',
    retryable: false,
    summary: 'A record does not match the step’s JSON Schema.',
  },
  EVENT_TIME_INVALID: {
    kind: 'user',
    retryable: false,
    summary: 'A record’s event time is missing or not a valid timestamp.',
  },
  LATE_RECORD: {
    kind: 'user',
    retryable: false,
    summary: 'A record arrived after the watermark passed its window and allowed lateness.',
  },
  DEAD_LETTER_LIMIT: {
    kind: 'user',
    retryable: false,
    summary:
      'More records became dead letters than the run allows (`sluice run --max-dead-letters`); the run fails.',
  },
  USER_FUNCTION_FAILED: {
    kind: 'user',
    retryable: false,
    summary: 'A TypeScript function given to a step threw on a record.',
  },
  ASYNC_TIMEOUT: {
    kind: 'external',
    retryable: true,
    summary:
      'An asynchronous call of a step (`map_async`, a lookup) did not finish in time; it is retried, then the record goes to the dead letters.',
  },
  SINK_REJECTED: { kind: 'external', retryable: false, summary: 'A sink permanently rejected a record.' },
  SINK_UNAVAILABLE: {
    kind: 'external',
    retryable: true,
    summary: 'A sink could not be reached; the write is retried with backoff.',
  },
  SOURCE_UNAVAILABLE: {
    kind: 'external',
    retryable: true,
    summary: 'A source could not be reached; the read is retried with backoff.',
  },
  SOURCE_REFUSED: {
    kind: 'external',
    retryable: false,
    summary:
      'A source’s system refused for good what the source asked (an HTTP 401, 403 or 404, a response that is not the JSON expected); the job stops with the reason.',
  },
  SOURCE_POSITION_LOST: {
    kind: 'external',
    retryable: false,
    summary:
      'A source cannot resume where its checkpoint says (a replication slot was dropped): reading on would lose the changes in between, so the job stops; start again with --from-scratch to read from a new snapshot.',
  },
  LOOKUP_UNAVAILABLE: {
    kind: 'external',
    retryable: true,
    summary:
      'A lookup table could not answer (connection refused, an HTTP 5xx, 408 or 429); the `lookup` step asks again with backoff, up to its `retries`, then the record goes to the dead letters.',
  },
  LOOKUP_FAILED: {
    kind: 'external',
    retryable: false,
    summary:
      'A lookup table refused a key for good (an HTTP 4xx other than 404, a body that is no JSON object); the record goes to the dead letters with the table’s reason.',
  },
  LOOKUP_MISS: {
    kind: 'user',
    retryable: false,
    summary:
      'A lookup table has no row for the record’s key (or the key is NULL), and the `lookup` step’s `on_miss` is `dead_letter`.',
  },
  IO_ERROR: { kind: 'external', retryable: true, summary: 'A file-system operation failed.' },
  PATH_UNUSABLE: {
    kind: 'user',
    retryable: false,
    summary:
      'A configured path cannot hold Sluice’s files: its folder cannot be created or written there (a virtual ' +
      'file system such as /proc, a read-only disk, a file in the way, no permission).',
  },
  CHECKPOINT_LOCKED: {
    kind: 'user',
    retryable: false,
    summary:
      'Another running job holds the checkpoint folder (its LOCK file names the pid and host): two jobs sharing one folder would overwrite each other’s state.',
  },
  CHECKPOINT_CORRUPT: {
    kind: 'external',
    retryable: false,
    summary:
      'A checkpoint file cannot be read (checksum, truncation); it is moved aside and an older one is used. ' +
      'When none can be read the job does not start: restore a good copy, or run with --from-scratch.',
  },
  CHECKPOINT_INCOMPATIBLE: {
    kind: 'user',
    retryable: false,
    summary: 'A checkpoint does not match the pipeline (a stateful step changed); use --from-scratch.',
  },
  CHECKPOINT_STATE_INVALID: {
    kind: 'user',
    retryable: false,
    summary:
      'An operator’s state holds a value a checkpoint cannot store (a function, a symbol, nesting deeper than the stack allows).',
  },
  WAL_FAILED: {
    kind: 'external',
    retryable: false,
    summary:
      'A source’s write-ahead log could not be written, synced or read back; the job stops rather than acknowledge what it might lose.',
  },
  JOB_NOT_RUNNING: {
    kind: 'user',
    retryable: true,
    summary: 'The job is not running (or is taking a checkpoint) and cannot do what was asked of it now.',
  },
  PIPELINE_LOAD: { kind: 'user', retryable: false, summary: 'A pipeline module could not be loaded.' },
  INTERNAL: { kind: 'internal', retryable: false, summary: 'A Sluice bug: please report it with the log.' },
} as const satisfies { [code: string]: CodeInfo };

export type ErrorCode = keyof typeof errorCodes;

/** Where in a pipeline definition an error points. */
export interface ErrorLocation {
  /** File the pipeline came from. */
  file?: string;
  /** 1-based line and column in that file. */
  line?: number;
  column?: number;
}

export interface SluiceErrorOptions extends ErrorLocation {
  /** Id of the source, step or sink the error belongs to. */
  step?: string;
  /** Field path inside the component config or record, e.g. `sources.orders.event_time.field`. */
  path?: string;
  cause?: unknown;
}

/** The one error class of Sluice. `code` is stable; `kind` and `retryable` come from the catalogue. */
export class SluiceError extends Error {
  override readonly name = 'SluiceError';
  readonly code: ErrorCode;
  readonly step: string | undefined;
  readonly path: string | undefined;
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly column: number | undefined;

  /** Credentials in URLs in `message` are replaced by `***` (see `redactUrlCredentials`). */
  constructor(code: ErrorCode, message: string, options: SluiceErrorOptions = {}) {
    super(redactUrlCredentials(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.step = options.step;
    this.path = options.path;
    this.file = options.file;
    this.line = options.line;
    this.column = options.column;
  }

  get kind(): ErrorKind {
    return errorCodes[this.code].kind;
  }

  get retryable(): boolean {
    return errorCodes[this.code].retryable;
  }

  /** `file:line:column: [step] path: message (CODE)` — the one-line form used by the CLI. */
  describe(): string {
    const where = this.file ? `${this.file}${this.line ? `:${this.line}:${this.column ?? 1}` : ''}: ` : '';
    const step = this.step ? `step '${this.step}'` : '';
    const path = this.path ? `${step ? ', ' : ''}${this.path}` : '';
    const at = step || path ? `${step}${path}: ` : '';
    return `${where}${at}${this.message} (${this.code})`;
  }
}

/** Wraps any thrown value as a SluiceError, keeping the original as `cause`. */
export function toSluiceError(err: unknown, code: ErrorCode = 'INTERNAL', options: SluiceErrorOptions = {}) {
  if (err instanceof SluiceError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new SluiceError(code, message, { ...options, cause: err });
}

/**
 * Several problems found in one pipeline file. `errors` holds each one as a `SluiceError` with its
 * own code and location; the aggregate takes the code, location, path and step of the first (in
 * file order) and its message lists every problem as `file:line:col: path: message`, one a line.
 * A file with a single problem throws that `SluiceError` itself, not a `ConfigErrors`.
 */
export class ConfigErrors extends SluiceError {
  readonly errors: readonly SluiceError[];

  constructor(errors: readonly SluiceError[]) {
    const [first] = errors;
    super(first.code, errors.map(lineOf).join('\n'), {
      file: first.file,
      line: first.line,
      column: first.column,
      path: first.path,
      step: first.step,
    });
    this.errors = errors;
  }

  /** One line per problem, each with its code. */
  override describe(): string {
    return this.errors.map((e) => e.describe()).join('\n');
  }
}

function lineOf(error: SluiceError): string {
  const where = error.file ? `${error.file}:${error.line ?? 1}:${error.column ?? 1}: ` : '';
  const path = error.path ? `${error.path}: ` : error.step ? `${error.step}: ` : '';
  return `${where}${path}${error.message}`;
}
