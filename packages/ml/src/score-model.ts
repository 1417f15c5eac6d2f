/**
 * The `score` step's model: the ONNX file, its onnxruntime session (or the worker threads'), its
 * signature check, the watcher that swaps in a changed file between batches, and the scoring of
 * one batch. Not part of the public surface.
 */

import { createHash } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { type AsyncOutcome, type Batch, type Logger, type Row, SluiceError } from '@sluice/core';
import ort from 'onnxruntime-node';
import { FeatureError, type FeatureSpec } from './features.ts';
import { rawRow, tensorData } from './score-tensors.ts';
import type { WireTensor } from './score-worker.ts';
import { WorkerPool } from './score-worker-pool.ts';

/**
 * Each run is padded with zero rows to a multiple of this many (their outputs are dropped).
 * onnxruntime's GEMM kernels (MLAS) compute a lone trailing row with other instructions than rows
 * in pairs, and its last bit can differ; without padding, a record's score would depend on where
 * the boundary of its run fell — on batch sizes — rather than on the record alone.
 */
const PAD_ROWS = 4;

/** One declared input tensor: its name and the features that make its columns. */
export interface InputPlan {
  readonly name: string;
  readonly spec: FeatureSpec;
  /** The columns' field names when every column is a plain field name: what an integer or string tensor takes. */
  readonly fields?: readonly string[];
}

/** The element types score feeds: numbers through the features, integers and strings as the fields hold them. */
export type InputType = 'float32' | 'float64' | 'int64' | 'int32' | 'string';

/** A loaded model: its session and version, and how many batches are using it. */
interface Loaded {
  readonly session: ort.InferenceSession;
  readonly version: string;
  /** Names this load in the worker threads: unique, as a rolled-back version is loaded anew while the old one may still be in use. */
  readonly key: string;
  readonly types: ReadonlyMap<string, InputType>;
  users: number;
  retired: boolean;
}

/** The first 12 hex digits of the SHA-256 of `data`. */
export function modelVersion(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex').slice(0, 12);
}

const FLOAT_TYPES = new Set(['float32', 'float64']);
const RAW_TYPES = new Set(['int64', 'int32', 'string']);
const OUTPUT_TYPES = new Set(['float32', 'float64', 'int32', 'int64', 'int8', 'uint8', 'bool']);

/**
 * Checks the session's signature against the declared mapping; returns each input's element
 * type, or the mismatch as a sentence.
 */
export function checkSignature(
  session: ort.InferenceSession,
  inputs: readonly InputPlan[],
  outputs: readonly string[],
): Map<string, InputType> | string {
  const types = new Map<string, InputType>();
  const declared = new Set(inputs.map((i) => i.name));
  for (const name of session.inputNames)
    if (!declared.has(name))
      return `the model takes input '${name}', which 'inputs' does not declare (it declares ${[...declared].map((n) => `'${n}'`).join(', ')})`;
  const shape = (dims: readonly (number | string)[]) => `[${dims.join(', ')}]`;
  for (const input of inputs) {
    const meta = session.inputMetadata.find((m) => m.name === input.name);
    if (meta === undefined)
      return `the model has no input '${input.name}' (its inputs: ${session.inputNames.map((n) => `'${n}'`).join(', ')})`;
    if (!meta.isTensor || !(FLOAT_TYPES.has(meta.type) || RAW_TYPES.has(meta.type)))
      return `the model's input '${input.name}' is of type ${meta.isTensor ? meta.type : 'non-tensor'}; score feeds float32, float64, int64, int32 or string tensors`;
    if (RAW_TYPES.has(meta.type) && input.fields === undefined)
      return `the model's input '${input.name}' is of type ${meta.type}: its columns are the fields as they are, so list plain field names (a feature's columns are numbers)`;
    const dims = meta.shape;
    if (dims.length !== 2)
      return `the model's input '${input.name}' has shape ${shape(dims)}; score feeds [records, columns]`;
    if (typeof dims[0] === 'number' && dims[0] !== -1)
      return `the model's input '${input.name}' has a fixed batch dimension ${dims[0]} (shape ${shape(dims)}); score needs a dynamic one`;
    if (typeof dims[1] === 'number' && dims[1] !== -1 && dims[1] !== input.spec.width)
      return `the model's input '${input.name}' has ${dims[1]} columns (shape ${shape(dims)}); the step declares ${input.spec.width}`;
    types.set(input.name, meta.type as InputType);
  }
  for (const name of outputs) {
    const meta = session.outputMetadata.find((m) => m.name === name);
    if (meta === undefined)
      return `the model has no output '${name}' (its outputs: ${session.outputNames.map((n) => `'${n}'`).join(', ')})`;
    if (!meta.isTensor || !OUTPUT_TYPES.has(meta.type))
      return `the model's output '${name}' is of type ${meta.isTensor ? meta.type : 'non-tensor'}; score reads numeric or boolean tensors`;
    if (meta.shape.length < 1 || meta.shape.length > 2)
      return `the model's output '${name}' has shape ${shape(meta.shape)}; score reads [records] or [records, k]`;
  }
  return types;
}

export interface ScoreOptions {
  readonly stepId: string;
  readonly path: string;
  readonly file: string;
  readonly inputs: readonly InputPlan[];
  readonly outputs: readonly (readonly [string, string])[];
  readonly batchSize: number;
  readonly watch: boolean;
  readonly versionField: string;
  readonly threads: number;
  readonly workers: number;
}

/** The model file, its session and watcher: everything the step's work shares across batches. */
export class ScoreModel {
  readonly #o: ScoreOptions;
  #current: Loaded | undefined;
  /** A checked model waiting for the next batch to start. */
  #next: Loaded | undefined;
  /** The version last read from the file (loaded, pending or refused), so an unchanged write is ignored. */
  #seen: string | undefined;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #reloading: Promise<void> = Promise.resolve();
  #log: Logger | undefined;
  #closed = false;
  #pool: WorkerPool | undefined;
  #loads = 0;

  constructor(options: ScoreOptions) {
    this.#o = options;
  }

  /** Loads the model and checks its signature (a mismatch fails the job), then starts watching. */
  async open(log: Logger | undefined): Promise<void> {
    this.#log = log;
    if (this.#o.workers > 0) this.#pool = new WorkerPool(this.#o.workers, this.#o.stepId);
    const result = await this.#load();
    if (typeof result === 'string')
      throw new SluiceError('CONFIG_INVALID', `model '${this.#o.file}' does not fit the step: ${result}`, {
        step: this.#o.stepId,
        path: 'model',
      });
    this.#current = result;
    if (this.#o.watch) {
      // The folder, not the file: editors and `mv` replace the file, which ends a watch on it.
      this.#watcher = watch(dirname(this.#o.path), (_event, name) => {
        if (name !== null && name !== basename(this.#o.path)) return;
        clearTimeout(this.#timer);
        this.#timer = setTimeout(() => {
          this.#reloading = this.#reloading.then(() => this.#reload());
        }, 20);
      });
    }
  }

  /** The file's model, checked; or why it does not fit. */
  async #load(): Promise<Loaded | string> {
    let data: Uint8Array;
    try {
      data = await readFile(this.#o.path);
    } catch (err) {
      throw new SluiceError(
        'CONFIG_INVALID',
        `cannot read model '${this.#o.file}': ${(err as Error).message}`,
        {
          step: this.#o.stepId,
          path: 'model',
          cause: err,
        },
      );
    }
    const version = modelVersion(data);
    this.#seen = version;
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(data, {
        executionProviders: ['cpu'],
        intraOpNumThreads: this.#o.threads,
        interOpNumThreads: 1,
      });
    } catch (err) {
      return `onnxruntime cannot load it: ${(err as Error).message}`;
    }
    const types = checkSignature(
      session,
      this.#o.inputs,
      this.#o.outputs.map(([tensor]) => tensor),
    );
    if (typeof types === 'string') {
      await session.release();
      return types;
    }
    const key = `${version}#${++this.#loads}`;
    try {
      await this.#pool?.load(key, data, this.#o.threads);
    } catch (err) {
      await session.release();
      throw err;
    }
    return { session, version, key, types, users: 0, retired: false };
  }

  async #reload(): Promise<void> {
    if (this.#closed) return;
    const previous = this.#seen;
    let result: Loaded | string;
    try {
      const data = await readFile(this.#o.path);
      if (modelVersion(data) === previous) return;
      result = await this.#load();
    } catch (err) {
      // Mid-write or removed: the next change event tries again.
      this.#log?.warn('model file unreadable; the running model stays', {
        step: this.#o.stepId,
        model: this.#o.file,
        error: (err as Error).message,
      });
      return;
    }
    if (typeof result === 'string') {
      this.#log?.warn(`changed model refused, the running model stays: ${result}`, {
        step: this.#o.stepId,
        model: this.#o.file,
        version: this.#seen,
      });
      return;
    }
    if (this.#closed) {
      await this.#free(result);
      return;
    }
    if (this.#next !== undefined) await this.#retire(this.#next);
    this.#next = result;
    this.#log?.info('model changed; swapping it in at the next batch', {
      step: this.#o.stepId,
      model: this.#o.file,
      version: result.version,
    });
  }

  /** The model for the next batch (swapping in a pending one first), held until {@link done}. */
  take(): Loaded {
    if (this.#next !== undefined) {
      const old = this.#current!;
      this.#current = this.#next;
      this.#next = undefined;
      this.#retire(old).catch((err: unknown) =>
        this.#log?.warn('releasing the replaced model failed', {
          step: this.#o.stepId,
          version: old.version,
          error: (err as Error).message,
        }),
      );
    }
    const model = this.#current!;
    model.users++;
    return model;
  }

  async done(model: Loaded): Promise<void> {
    model.users--;
    if (model.retired && model.users === 0) await this.#free(model);
  }

  async #free(model: Loaded): Promise<void> {
    await model.session.release();
    if (!this.#closed) await this.#pool?.release(model.key);
  }

  async #retire(model: Loaded): Promise<void> {
    model.retired = true;
    if (model.users === 0) await this.#free(model);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#watcher?.close();
    await this.#reloading;
    for (const model of [this.#current, this.#next]) if (model !== undefined) await this.#retire(model);
    this.#current = this.#next = undefined;
    await this.#pool?.close();
  }

  /** Scores `batch`: records whose features the spec refuses are dead letters. */
  async score(batch: Batch): Promise<AsyncOutcome> {
    const o = this.#o;
    const model = this.take();
    try {
      const n = batch.records.length;
      const failed: { index: number; error: SluiceError }[] = [];
      const good: number[] = [];
      // Every input's columns, record after record, for the records every input accepts: a
      // refused record's partial row is overwritten by the next one.
      const columns = o.inputs.map((input) => {
        const type = model.types.get(input.name)!;
        return {
          input,
          type,
          values: new Float64Array(FLOAT_TYPES.has(type) ? n * input.spec.width : 0),
          raw: [] as (bigint | number | string)[],
          state: input.spec.initialState(),
        };
      });
      for (let i = 0; i < n; i++) {
        try {
          for (const { input, type, values, raw, state } of columns) {
            const width = input.spec.width;
            const at = good.length * width;
            if (FLOAT_TYPES.has(type))
              input.spec.encode(batch.records[i], state, values.subarray(at, at + width), false);
            else rawRow(batch.records[i], input, type, raw, at);
          }
        } catch (err) {
          if (!(err instanceof FeatureError)) throw err;
          failed.push({
            index: i,
            error: new SluiceError('SCHEMA_VIOLATION', err.message, { step: o.stepId, path: err.field }),
          });
          continue;
        }
        good.push(i);
      }
      const out: Batch = { records: [], times: [] };
      if (batch.kinds) out.kinds = [];
      if (batch.keys) out.keys = [];
      if (batch.watermarks) out.watermarks = [];
      for (let start = 0; start < good.length; start += o.batchSize) {
        const end = Math.min(good.length, start + o.batchSize);
        const rows = Math.ceil((end - start) / PAD_ROWS) * PAD_ROWS;
        const feeds: { [name: string]: ort.Tensor | WireTensor } = {};
        for (const { input, type, values, raw } of columns) {
          const width = input.spec.width;
          // Zero rows pad the run (their outputs are dropped): see PAD_ROWS.
          const data = tensorData(type, rows * width, values, raw, start * width, end * width);
          feeds[input.name] =
            this.#pool === undefined
              ? new ort.Tensor(type, data, [rows, width])
              : { type, data, dims: [rows, width] };
        }
        const fetches = o.outputs.map(([tensor]) => tensor);
        const results: { [name: string]: { data: unknown; dims: readonly number[] } } =
          this.#pool === undefined
            ? await model.session.run(feeds as { [name: string]: ort.Tensor }, fetches)
            : await this.#pool.run(model.key, feeds as { [name: string]: WireTensor }, fetches);
        const read = o.outputs.map(([tensor, field]) => {
          const t = results[tensor];
          const per = t.dims.length === 2 ? Number(t.dims[1]) : 1;
          if (Number(t.dims[0]) !== rows)
            throw new SluiceError(
              'INTERNAL',
              `the model's output '${tensor}' has ${t.dims[0]} rows for ${rows} input rows`,
              { step: o.stepId },
            );
          return { field, data: t.data as ArrayLike<number | bigint | boolean>, per };
        });
        for (let j = start; j < end; j++) {
          const i = good[j];
          const record: Row = { ...batch.records[i] };
          for (const { field, data, per } of read) {
            const at = (j - start) * per;
            record[field] =
              per === 1 ? plain(data[at]) : Array.from({ length: per }, (_, c) => plain(data[at + c]));
          }
          record[o.versionField] = model.version;
          out.records.push(record);
          out.times.push(batch.times[i]);
          out.kinds?.push(batch.kinds![i]);
          out.keys?.push(batch.keys![i]);
          out.watermarks?.push(batch.watermarks![i]);
        }
      }
      return { batch: out, failed };
    } finally {
      await this.done(model);
    }
  }
}

/** A tensor element as a record value: int64 as a number (exact up to 2^53), booleans as they are. */
function plain(value: number | bigint | boolean): number | boolean {
  return typeof value === 'bigint' ? Number(value) : value;
}
