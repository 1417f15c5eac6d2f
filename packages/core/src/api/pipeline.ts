/**
 * The TypeScript front end: a fluent, typed builder that produces the same plan as YAML.
 *
 * Each step's record type is inferred from its input, so a misspelt field is a compile error.
 * Steps given TypeScript functions are recorded in the plan by id (type `map_fn`, `filter_fn`,
 * `flat_map`, `key_by_fn`, `process`); the functions travel beside the plan, keyed by step id.
 */

import type { Static, TSchema } from 'typebox';
import { SluiceError } from '../errors.ts';
import type { ProcessFunction } from '../operators/process.ts';
import {
  type CheckpointSettings,
  defaultSettings,
  type PipelineSettings,
  type Plan,
  type PlanOutput,
  type PlanSink,
  type PlanSource,
  type PlanStep,
} from '../plan/plan.ts';
import type { Row } from '../record.ts';
import { parseDuration } from '../time.ts';
import type { Agg } from './aggregates.ts';
import type { LookupDefinition, SinkDefinition, SourceDefinition } from './components.ts';
import { type Pattern, type PatternOptions, patternConfig } from './pattern.ts';

/** A window description for `.window(...)`. */
export interface WindowDefinition {
  readonly type: 'tumbling' | 'hopping' | 'session' | 'cumulative';
  readonly options: { readonly [k: string]: string };
  readonly time: 'event' | 'processing';
}

export function tumbling(size: string, options: { time?: 'event' | 'processing' } = {}): WindowDefinition {
  return { type: 'tumbling', options: { size }, time: options.time ?? 'event' };
}

export function hopping(size: string, slide: string, options: { time?: 'event' | 'processing' } = {}) {
  return {
    type: 'hopping',
    options: { size, slide },
    time: options.time ?? 'event',
  } satisfies WindowDefinition;
}

export function session(gap: string): WindowDefinition {
  return { type: 'session', options: { gap }, time: 'event' };
}

export function cumulative(size: string, step: string): WindowDefinition {
  return { type: 'cumulative', options: { size, step }, time: 'event' };
}

/** Options of `.lookup(...)`: the `lookup` step's, in camelCase. */
export interface LookupOptions {
  /** The table: `fileTable({...})`, `httpTable({...})`, or a connector package's. */
  readonly table: LookupDefinition;
  /** SQL expression(s) over the input record: the key the table is asked for. */
  readonly key: string | readonly string[];
  /** The name of the looked-up row (default: the step id). */
  readonly as?: string;
  /** Output fields: SQL expressions over `<input id>.<field>` and `<as>.<field>`. */
  readonly fields?: { readonly [name: string]: string };
  /** A record without a row: emitted with NULL (default), dropped, or a dead letter. */
  readonly onMiss?: 'null' | 'drop' | 'dead_letter';
  readonly cache?: { readonly ttl?: string; readonly missTtl?: string; readonly maxEntries?: number };
  readonly concurrency?: number;
  readonly capacity?: number;
  readonly ordered?: boolean;
  readonly timeout?: string;
  readonly retries?: number;
}

/** The `lookup` step's config from the TypeScript API's options. */
function lookupConfig(options: LookupOptions): object {
  const { table, key, onMiss, cache, ...rest } = options;
  const config: { [option: string]: unknown } = {
    ...rest,
    table: { ...table.config, type: table.type },
    key: typeof key === 'string' ? key : [...key],
  };
  if (onMiss !== undefined) config.on_miss = onMiss;
  if (cache !== undefined) {
    const c: { [option: string]: unknown } = {};
    if (cache.ttl !== undefined) c.ttl = cache.ttl;
    if (cache.missTtl !== undefined) c.miss_ttl = cache.missTtl;
    if (cache.maxEntries !== undefined) c.max_entries = cache.maxEntries;
    config.cache = c;
  }
  return config;
}

/** Options of `Stream.join` (see the `join` step). */
export interface JoinOptions {
  /** SQL condition over `<left id>.<field>` and `<right id>.<field>`: at least one equality. */
  on: string;
  kind?: 'inner' | 'left' | 'right' | 'full';
  /** An interval join: right time − left time within [lower, upper], e.g. `['-10s', '5s']`. */
  between?: [string, string];
  /** A window join over tumbling, hopping or cumulative event-time windows. */
  window?: WindowDefinition;
  /** A temporal join: each left record with the right row's version valid at its time. */
  temporal?: boolean;
  /** A regular join: forget a side's key not written for this long (processing time). */
  ttl?: string;
  /** Output fields: name → SQL expression over the pair. */
  fields?: { [name: string]: string };
  onLate?: 'late_output' | 'dead_letter' | 'drop';
}

/** Pipeline-wide options of the TypeScript API. */
export interface PipelineOptions {
  checkpoint?: Partial<Omit<CheckpointSettings, 'interval'>> & { interval?: string | number };
  batchSize?: number;
  /** Folder relative paths resolve against; default the current directory. */
  baseDir?: string;
}

/** A pipeline under construction; `build()` returns its plan and functions. */
export class PipelineBuilder {
  readonly name: string;
  readonly sources: PlanSource[] = [];
  readonly steps: PlanStep[] = [];
  readonly sinks: PlanSink[] = [];
  readonly functions = new Map<string, unknown>();
  deadLetter: PlanOutput | undefined;
  lateOutput: PlanOutput | undefined;
  readonly #options: PipelineOptions;
  readonly #ids = new Set<string>();

  constructor(name: string, options: PipelineOptions = {}) {
    this.name = name;
    this.#options = options;
  }

  /** Adds a source and returns the stream of its records. */
  from<T = Row>(id: string, source: SourceDefinition<T>): Stream<T> {
    this.claim(id);
    const src: PlanSource = source.eventTime
      ? { id, type: source.type, config: source.config, eventTime: source.eventTime }
      : { id, type: source.type, config: source.config };
    this.sources.push(src);
    return new Stream<T>(this, id);
  }

  /** Sends dead letters (records that failed, with the reason) to a sink. */
  deadLetters(sink: SinkDefinition): this {
    this.deadLetter = { type: sink.type, config: sink.config };
    return this;
  }

  /** Sends late records of windowed steps to a sink. */
  late(sink: SinkDefinition): this {
    this.lateOutput = { type: sink.type, config: sink.config };
    return this;
  }

  /** @internal Reserves a step id, rejecting duplicates. */
  claim(id: string): void {
    if (this.#ids.has(id)) {
      throw new SluiceError('PLAN_DUPLICATE_ID', `id '${id}' is used twice`, { step: id });
    }
    this.#ids.add(id);
  }

  /**
   * The plan and the step functions it refers to. Relative paths resolve against the
   * `baseDir` option, else `defaultBaseDir` (the loader passes the pipeline file's folder), else
   * the current directory.
   */
  build(defaultBaseDir?: string): { plan: Plan; functions: ReadonlyMap<string, unknown> } {
    const o = this.#options;
    const checkpoint: CheckpointSettings = {
      interval:
        o.checkpoint?.interval === undefined
          ? defaultSettings.checkpoint.interval
          : parseDuration(o.checkpoint.interval, 'checkpoint.interval'),
      dir: o.checkpoint?.dir ?? defaultSettings.checkpoint.dir,
      keep: o.checkpoint?.keep ?? defaultSettings.checkpoint.keep,
    };
    const settings: PipelineSettings = {
      ...defaultSettings,
      checkpoint,
      batchSize: o.batchSize ?? defaultSettings.batchSize,
    };
    const plan: Plan = {
      name: this.name,
      sources: this.sources,
      steps: this.steps,
      sinks: this.sinks,
      settings,
      baseDir: o.baseDir ?? defaultBaseDir ?? process.cwd(),
      ...(this.deadLetter ? { deadLetter: this.deadLetter } : {}),
      ...(this.lateOutput ? { lateOutput: this.lateOutput } : {}),
    };
    return { plan, functions: this.functions };
  }
}

/** Starts a pipeline definition. */
export function pipeline(name: string, options?: PipelineOptions): PipelineBuilder {
  return new PipelineBuilder(name, options);
}

/** Records of type `T` flowing out of a source or step. */
export class Stream<T> {
  readonly pipeline: PipelineBuilder;
  readonly id: string;

  constructor(owner: PipelineBuilder, id: string) {
    this.pipeline = owner;
    this.id = id;
  }

  protected add<O>(
    id: string,
    type: string,
    config: object,
    fn?: unknown,
    inputs: string[] = [this.id],
  ): Stream<O> {
    this.pipeline.claim(id);
    this.pipeline.steps.push({ id, type, inputs, config });
    if (fn !== undefined) this.pipeline.functions.set(id, fn);
    return new Stream<O>(this.pipeline, id);
  }

  /** Transforms each record with a function. */
  map<O>(id: string, fn: (record: T) => O): Stream<O> {
    return this.add(id, 'map_fn', {}, fn);
  }

  /**
   * Transforms each record with an asynchronous function (the `map_async` step): a lookup or a
   * model scored elsewhere. Resolve to null or undefined to drop the record. At most
   * `concurrency` calls run at once and `capacity` batches are in flight (the sources wait
   * beyond); results come in input order unless `ordered: false`; a call is bounded by `timeout`
   * and retried `retries` times when it times out or throws a transient error.
   */
  mapAsync<O>(
    id: string,
    fn: (record: T, signal: AbortSignal) => Promise<O | null | undefined>,
    options: {
      concurrency?: number;
      capacity?: number;
      ordered?: boolean;
      timeout?: string;
      retries?: number;
    } = {},
  ): Stream<O> {
    return this.add(id, 'map_async', { ...options }, fn);
  }

  /**
   * Enriches each record with the row a lookup table holds for its key (the `lookup` step, a
   * lookup join): by default the record with the row added under `as` (the step id unless
   * given), NULL when the table has none; or the `fields` computed from both. Runs on the
   * asynchronous boundary like `mapAsync`, with a cache of answers.
   */
  lookup(id: string, options: LookupOptions): Stream<Row> {
    return this.add(id, 'lookup', lookupConfig(options));
  }

  /**
   * Keeps only the named fields, in this order (the YAML `map` step with `select`). A record
   * without one of them goes to dead letters.
   */
  select<K extends keyof T & string>(id: string, fields: readonly K[]): Stream<Pick<T, K>> {
    return this.add(id, 'map', { select: [...fields] });
  }

  /**
   * Computes fields from SQL expressions (the YAML `map` step): each is added to the record, or,
   * with `select`, to the selected input fields only; `drop` removes fields.
   */
  compute(
    id: string,
    fields: { [name: string]: string },
    options: { drop?: string[]; select?: string[] } = {},
  ): Stream<Row> {
    return this.add(id, 'map', { fields, ...options });
  }

  /**
   * Keeps the first `n` records of each window by `orderBy` (the `window_top_n` step, SQL's window
   * top-N): records carry their window in `window_start`/`window_end` (a windowed aggregate's
   * results do); each window's list is emitted once, append-only, when the watermark passes its
   * end. `key` partitions each window further; `rankField` writes the rank (1 = first).
   */
  windowTopN(
    id: string,
    options: { orderBy: string[]; n: number; key?: string[]; rankField?: string },
  ): Stream<T & { [rank: string]: unknown }> {
    const { orderBy, rankField, ...rest } = options;
    return this.add(id, 'window_top_n', {
      ...rest,
      order_by: orderBy,
      ...(rankField !== undefined ? { rank_field: rankField } : {}),
    });
  }

  /** Keeps records for which the function returns true, or an SQL condition holds. */
  filter(id: string, test: ((record: T) => boolean) | string): Stream<T> {
    return typeof test === 'string'
      ? this.add(id, 'filter', { where: test })
      : this.add(id, 'filter_fn', {}, test);
  }

  /**
   * Runs a SQL query over this stream and `options.with` (the `sql` step of `@sluice/sql`, which
   * the registry must then hold: `new Registry([builtins, sql])`), each a table named by its id;
   * `columns` and `timeColumns` name an input's columns and time attribute where its schema and
   * source do not (see the step's reference).
   */
  sql(
    id: string,
    query: string,
    options: {
      with?: readonly Stream<unknown>[];
      columns?: { readonly [input: string]: readonly string[] };
      timeColumns?: { readonly [input: string]: string };
    } = {},
  ): Stream<Row> {
    const config = {
      query,
      ...(options.columns ? { columns: options.columns } : {}),
      ...(options.timeColumns ? { time_columns: options.timeColumns } : {}),
    };
    return this.add(id, 'sql', config, undefined, [this.id, ...(options.with ?? []).map((s) => s.id)]);
  }

  /** Turns each record into zero or more records. */
  flatMap<O>(id: string, fn: (record: T) => Iterable<O>): Stream<O> {
    return this.add(id, 'flat_map', {}, fn);
  }

  /** Checks records against a JSON Schema (a TypeBox schema types the records that pass). */
  validate<S extends TSchema>(id: string, schema: S): Stream<Static<S>>;
  validate(id: string, schemaPath: string): Stream<Row>;
  validate(id: string, schema: TSchema | string): Stream<unknown> {
    return this.add(id, 'validate', {
      schema: typeof schema === 'string' ? schema : JSON.parse(JSON.stringify(schema)),
    });
  }

  /** Drops records whose key was seen within `within` (event time) before. */
  dedupe(id: string, key: (record: T) => string | number, within: string): Stream<T> {
    return this.add(id, 'dedupe_fn', { within }, key);
  }

  /**
   * Finds sequences of records that match `pattern` (the `pattern` step), per key — `options.key`
   * or the key of an upstream `keyBy` — in event-time order. Each match gives one record with the
   * key fields, `match_start`, `match_end` and the measures.
   */
  pattern(id: string, pattern: Pattern, options: PatternOptions = {}): Stream<Row> {
    return this.add(id, 'pattern', patternConfig(pattern, options));
  }

  /** Groups records by a key computed by a function. */
  keyBy<K extends string | number>(id: string, key: (record: T) => K): KeyedStream<T, K> {
    const s = this.add<T>(id, 'key_by_fn', {}, key);
    return new KeyedStream<T, K>(this.pipeline, s.id);
  }

  /** Merges this stream with others of the same record type. */
  union(id: string, ...others: Stream<T>[]): Stream<T> {
    return this.add(id, 'union', {}, undefined, [this.id, ...others.map((o) => o.id)]);
  }

  /**
   * Joins this stream (the left input) with `right` (the `join` step): `on` names each side's
   * record by its stream's id (`bids.auction = auctions.id`). With `between` an interval join,
   * with `window` a window join, with `temporal` a temporal join (the version of the right row
   * valid at each left record's time), else a regular join of the two as tables, whose output is
   * a changelog. Without `fields` each output record is the pair `{ <left id>, <right id> }`.
   */
  join(id: string, right: Stream<unknown>, options: JoinOptions): Stream<Row> {
    const { window, onLate, ...rest } = options;
    const config: { [key: string]: unknown } = { ...rest };
    if (onLate !== undefined) config.on_late = onLate;
    if (window !== undefined) config.window = { type: window.type, ...window.options };
    if (window !== undefined && window.time !== 'event')
      throw new SluiceError('CONFIG_INVALID', 'a window join takes event-time windows', {
        step: id,
        path: 'window',
      });
    return this.add(id, 'join', config, undefined, [this.id, right.id]);
  }

  /**
   * The records this step sends to its side output `port` (`<id>.<port>` in the plan; the
   * `pattern` step's `timeouts` with `timeouts: 'side_output'`), as a stream of its own that
   * steps and sinks read like any other. Resolving the plan refuses a port the step does not
   * have with its config. Records are of unknown shape to the compiler: give the type.
   */
  side<O = Row>(port: string): Stream<O> {
    if (this.id.includes('.'))
      throw new SluiceError(
        'CONFIG_INVALID',
        `'${this.id}' is a side output; it has no side outputs of its own`,
        {
          step: this.id,
        },
      );
    return new Stream<O>(this.pipeline, `${this.id}.${port}`);
  }

  /** Writes the records to a sink. Returns the pipeline, so more can be added. */
  to(id: string, sink: SinkDefinition): PipelineBuilder {
    this.pipeline.claim(id);
    this.pipeline.sinks.push({ id, type: sink.type, input: this.id, config: sink.config });
    return this.pipeline;
  }
}

/** Records grouped by a key of type `K`. */
export class KeyedStream<T, K> extends Stream<T> {
  /** Assigns records to event-time (or processing-time) windows for `.aggregate`. */
  window(window: WindowDefinition): WindowedStream<T, K> {
    return new WindowedStream<T, K>(this, window);
  }

  /**
   * Computes aggregates per key without a window: each key's result is updated with every record
   * of the key, and the step emits the changes as a retract changelog (the first result as an
   * insert, then update-before/update-after pairs; see the `aggregate` step). Only steps and sinks
   * that take updates may follow it: record-by-record steps and sinks with `changelog` set. With
   * `options.ttl`, a key no record was added to for that long (processing time) is forgotten, and
   * its next record starts a new result.
   */
  aggregate<A extends { [name: string]: Agg<keyof T & string, unknown> }>(
    id: string,
    aggregates: A,
    options: { ttl?: string } = {},
  ): Stream<KeyedResult<K, A>> {
    const fields: { [name: string]: string } = {};
    for (const [name, a] of Object.entries(aggregates)) fields[name] = a.expression;
    this.pipeline.claim(id);
    const config = options.ttl === undefined ? { fields } : { fields, ttl: options.ttl };
    this.pipeline.steps.push({ id, type: 'aggregate', inputs: [this.id], config });
    return new Stream(this.pipeline, id);
  }

  /**
   * Keeps the first or the last record per key (the `deduplicate` step). `keep: 'first'` gives
   * each key's first record once (append-only; in event time when the watermark reaches it);
   * `keep: 'last'` an updating stream of each key's latest record (an insert, then
   * update-before/update-after pairs), which only steps and sinks that take updates may follow.
   * `time` orders by event time (default) or arrival; `ttl` forgets a key whose state was not
   * written for that long (processing time).
   */
  deduplicate(
    id: string,
    options: { keep: 'first' | 'last'; time?: 'event' | 'processing'; ttl?: string },
  ): Stream<T> {
    return this.add(id, 'deduplicate', { ...options });
  }

  /**
   * Adds to each record aggregates over the rows of its key before it (the `over_aggregate`
   * step, SQL's `agg(x) OVER (PARTITION BY key ORDER BY time …)`): `rows: n` frames the `n` rows
   * before it, `range: '1h'` the rows at most that long before its time (peers included); neither,
   * every row so far. One output record per input record, append-only, in event time once the
   * watermark passes it (`time: 'processing'`: at once); `ttl` forgets a key not written for that long.
   */
  over<A extends { [name: string]: Agg<keyof T & string, unknown> }>(
    id: string,
    aggregates: A,
    options: {
      rows?: number | 'unbounded';
      range?: string;
      time?: 'event' | 'processing';
      ttl?: string;
    } = {},
  ): Stream<T & AggResults<A>> {
    const fields: { [name: string]: string } = {};
    for (const [name, a] of Object.entries(aggregates)) fields[name] = a.expression;
    return this.add(id, 'over_aggregate', { ...options, fields });
  }

  /** Runs a keyed function with per-key state and timers (the lowest-level step). */
  process<S, O>(id: string, fn: ProcessFunction<T, S, O>): Stream<O> {
    return this.add(id, 'process', {}, fn);
  }
}

type AggResults<A> = { [N in keyof A]: A[N] extends Agg<string, infer R> ? R : never };

/** The result record of an aggregate without a window: one per key, updated as records arrive. */
export type KeyedResult<K, A> = { key: K } & AggResults<A>;

/** The result record of a windowed aggregate. */
export type WindowResult<K, A> = { key: K; window_start: number; window_end: number } & AggResults<A>;

/** A keyed stream with a window, waiting for its aggregate. */
export class WindowedStream<T, K> {
  readonly #input: KeyedStream<T, K>;
  readonly #window: WindowDefinition;
  #allowedLateness = '0s';

  constructor(input: KeyedStream<T, K>, window: WindowDefinition) {
    this.#input = input;
    this.#window = window;
  }

  /**
   * Keeps windows open for late records this long after they fire. Above 0 the aggregate emits a
   * retract changelog: a late record that changes a fired result emits an update-before of the
   * earlier result and an update-after of the new one, so the stream must go to a sink with a
   * `changelog` option (the plan check refuses an append-only one).
   */
  allowedLateness(duration: string): this {
    this.#allowedLateness = duration;
    return this;
  }

  /** Computes aggregates per key and window. */
  aggregate<A extends { [name: string]: Agg<keyof T & string, unknown> }>(
    id: string,
    aggregates: A,
  ): Stream<WindowResult<K, A>> {
    const fields: { [name: string]: string } = {};
    for (const [name, a] of Object.entries(aggregates)) fields[name] = a.expression;
    const input = this.#input;
    input.pipeline.claim(id);
    input.pipeline.steps.push({
      id,
      type: 'aggregate',
      inputs: [input.id],
      config: {
        window: { type: this.#window.type, ...this.#window.options },
        time: this.#window.time,
        fields,
        allowed_lateness: this.#allowedLateness,
      },
    });
    return new Stream(input.pipeline, id);
  }
}
