/**
 * The `score` step: an ONNX model run by `onnxruntime-node` (CPU provider) over batches of
 * records, through the core's asynchronous boundary (`AsyncStage`): results in input order, at
 * most `capacity` engine batches in flight, drained before every checkpoint. The model's
 * signature is checked against the declared input and output mapping when the job opens; with
 * `watch`, a changed model file is loaded, checked and swapped in between batches, and each output
 * record names the version (the file's SHA-256 prefix) that scored it.
 */

import { createHash } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, extname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import {
  type AsyncOutcome,
  AsyncStage,
  type Batch,
  defineStep,
  type Logger,
  PER_RECORD_CHANGELOG,
  type Row,
  SluiceError,
} from '@sluice/core';
import ort from 'onnxruntime-node';
import Type from 'typebox';
import { type FeatureConfig, FeatureError, FeatureSpec, featureProblem, featureSchema } from './features.ts';
import type { WireTensor, WorkerReply, WorkerRequest } from './score-worker.ts';

const config = Type.Object(
  {
    model: Type.String({
      description: 'The ONNX model file (relative to the pipeline file).',
      examples: ['./models/fraud.onnx'],
    }),
    inputs: Type.Record(
      Type.String(),
      Type.Array(Type.Union([Type.String(), featureSchema]), {
        minItems: 1,
        description:
          'The columns of one input tensor, in order: a field name (a number, used as it is) or a feature (`{ numeric | hashed | text: <field>, …options }`, as in `learn`). Numeric features must set `standardize: false` and `one_hot` is not available: the model file holds no learned feature state.',
      }),
      {
        description:
          'Input tensor name → its columns. Each tensor is fed as [records, columns] of the element type the model declares (float32 or float64); every input of the model must be declared.',
        examples: [{ features: ['amount', 'hour', { hashed: 'country', buckets: 8 }] }],
      },
    ),
    outputs: Type.Record(Type.String(), Type.String(), {
      description:
        'Output tensor name → the field it is written to: a number per record for an output of shape [N] or [N, 1], an array of numbers for [N, k]. Outputs not named are not read.',
      examples: [{ probability: 'score' }],
    }),
    batch_size: Type.Integer({
      minimum: 1,
      maximum: 1 << 20,
      default: 256,
      description:
        'Most records per model run: each engine batch is scored in runs of up to this many records (one `session.run` each). Results do not depend on it.',
    }),
    capacity: Type.Integer({
      minimum: 1,
      default: 4,
      description:
        'Most engine batches in flight; while this many are, the sources wait (backpressure). Checkpoints and the end of input wait for them to finish.',
    }),
    watch: Type.Boolean({
      default: false,
      description:
        'Watch the model file: a changed file (by checksum) is loaded, its signature checked, and it replaces the model between batches without stopping the job; one whose signature does not fit is refused with a warning and the running model stays. Writing an earlier file back rolls back.',
    }),
    version_field: Type.String({
      default: 'model_version',
      description:
        'Field that names the model version that scored the record: the first 12 hex digits of the file’s SHA-256.',
    }),
    threads: Type.Integer({
      minimum: 1,
      default: 1,
      description: 'Threads onnxruntime uses within one run (`intraOpNumThreads`).',
    }),
    workers: Type.Integer({
      minimum: 0,
      maximum: 64,
      default: 0,
      description:
        'Worker threads that run the model, each with its own session, taking runs in turn; 0: runs on the event-loop thread (onnxruntime-node runs a model synchronously there). Worth it for models slow enough to stall the job between batches.',
    }),
  },
  { additionalProperties: false },
);

/**
 * Each run is padded with zero rows to a multiple of this many (their outputs are dropped).
 * onnxruntime's GEMM kernels (MLAS) compute a lone trailing row with other instructions than rows
 * in pairs, and its last bit can differ; without padding, a record's score would depend on where
 * the boundary of its run fell — on batch sizes — rather than on the record alone.
 */
const PAD_ROWS = 4;

/** One declared input tensor: its name and the features that make its columns. */
interface InputPlan {
  readonly name: string;
  readonly spec: FeatureSpec;
}

/** A loaded model: its session and version, and how many batches are using it. */
interface Loaded {
  readonly session: ort.InferenceSession;
  readonly version: string;
  /** Names this load in the worker threads: unique, as a rolled-back version is loaded anew while the old one may still be in use. */
  readonly key: string;
  readonly types: ReadonlyMap<string, 'float32' | 'float64'>;
  users: number;
  retired: boolean;
}

/** The first 12 hex digits of the SHA-256 of `data`. */
export function modelVersion(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex').slice(0, 12);
}

/** The input's features, a field name standing for an unstandardized numeric feature. */
function inputSpec(stepId: string, tensor: string, columns: readonly unknown[]): FeatureSpec {
  const path = (i: number, option?: string) => `inputs.${tensor}[${i}]${option ? `.${option}` : ''}`;
  const configs = columns.map((column, i) => {
    if (typeof column === 'string') return { numeric: column, standardize: false } as FeatureConfig;
    const feature = column as { [option: string]: unknown };
    const problem = featureProblem(feature);
    if (problem !== undefined)
      throw new SluiceError('CONFIG_INVALID', problem[1], { step: stepId, path: path(i, problem[0]) });
    if (feature.one_hot !== undefined)
      throw new SluiceError(
        'CONFIG_INVALID',
        'one_hot needs a learned vocabulary, which a model file does not hold: use hashed',
        { step: stepId, path: path(i, 'one_hot') },
      );
    if (feature.numeric !== undefined && feature.standardize !== false)
      throw new SluiceError(
        'CONFIG_INVALID',
        'score has no running moments to standardize with: set standardize: false (standardize inside the model)',
        { step: stepId, path: path(i, 'standardize') },
      );
    if (feature.numeric !== undefined && feature.missing === 'mean')
      throw new SluiceError('CONFIG_INVALID', 'missing: mean needs a running mean: use zero or dead_letter', {
        step: stepId,
        path: path(i, 'missing'),
      });
    return feature as FeatureConfig;
  });
  return new FeatureSpec(configs);
}

const FLOAT_TYPES = new Set(['float32', 'float64']);
const OUTPUT_TYPES = new Set(['float32', 'float64', 'int32', 'int64', 'int8', 'uint8', 'bool']);

/**
 * Checks the session's signature against the declared mapping; returns each input's element
 * type, or the mismatch as a sentence.
 */
export function checkSignature(
  session: ort.InferenceSession,
  inputs: readonly InputPlan[],
  outputs: readonly string[],
): Map<string, 'float32' | 'float64'> | string {
  const types = new Map<string, 'float32' | 'float64'>();
  const declared = new Set(inputs.map((i) => i.name));
  for (const name of session.inputNames)
    if (!declared.has(name))
      return `the model takes input '${name}', which 'inputs' does not declare (it declares ${[...declared].map((n) => `'${n}'`).join(', ')})`;
  const shape = (dims: readonly (number | string)[]) => `[${dims.join(', ')}]`;
  for (const input of inputs) {
    const meta = session.inputMetadata.find((m) => m.name === input.name);
    if (meta === undefined)
      return `the model has no input '${input.name}' (its inputs: ${session.inputNames.map((n) => `'${n}'`).join(', ')})`;
    if (!meta.isTensor || !FLOAT_TYPES.has(meta.type))
      return `the model's input '${input.name}' is of type ${meta.isTensor ? meta.type : 'non-tensor'}; score feeds float32 or float64 tensors`;
    const dims = meta.shape;
    if (dims.length !== 2)
      return `the model's input '${input.name}' has shape ${shape(dims)}; score feeds [records, columns]`;
    if (typeof dims[0] === 'number' && dims[0] !== -1)
      return `the model's input '${input.name}' has a fixed batch dimension ${dims[0]} (shape ${shape(dims)}); score needs a dynamic one`;
    if (typeof dims[1] === 'number' && dims[1] !== -1 && dims[1] !== input.spec.width)
      return `the model's input '${input.name}' has ${dims[1]} columns (shape ${shape(dims)}); the step declares ${input.spec.width}`;
    types.set(input.name, meta.type as 'float32' | 'float64');
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

interface ScoreOptions {
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

/** A request without its id: what {@link WorkerPool} sends. */
type Request = WorkerRequest extends infer R ? (R extends WorkerRequest ? Omit<R, 'id'> : never) : never;

/** Worker threads running the model's sessions (`workers: N`), taking runs in turn. */
class WorkerPool {
  readonly #workers: Worker[] = [];
  readonly #pending = new Map<number, { resolve: (r: WorkerReply) => void; reject: (e: Error) => void }>();
  #id = 0;
  #next = 0;

  constructor(n: number, stepId: string) {
    // score-worker.ts beside this file, or score-worker.js once built.
    const url = new URL(`./score-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
    for (let i = 0; i < n; i++) {
      const worker = new Worker(url);
      worker.on('message', (reply: WorkerReply) => {
        const waiter = this.#pending.get(reply.id);
        this.#pending.delete(reply.id);
        waiter?.resolve(reply);
      });
      worker.on('error', (err) => {
        const error = new SluiceError('INTERNAL', `a score worker thread failed: ${err.message}`, {
          step: stepId,
          cause: err,
        });
        for (const waiter of this.#pending.values()) waiter.reject(error);
        this.#pending.clear();
      });
      this.#workers.push(worker);
    }
  }

  async #call(worker: Worker, request: Request, transfer: ArrayBuffer[] = []): Promise<WorkerReply> {
    const id = ++this.#id;
    const reply = new Promise<WorkerReply>((resolve, reject) => this.#pending.set(id, { resolve, reject }));
    worker.postMessage({ ...request, id }, transfer);
    const answer = await reply;
    if (!answer.ok) throw new Error(answer.error);
    return answer;
  }

  async load(version: string, model: Uint8Array, threads: number): Promise<void> {
    await Promise.all(this.#workers.map((w) => this.#call(w, { kind: 'load', version, model, threads })));
  }

  async release(version: string): Promise<void> {
    await Promise.all(this.#workers.map((w) => this.#call(w, { kind: 'release', version })));
  }

  async run(
    version: string,
    feeds: { [name: string]: WireTensor },
    fetches: string[],
  ): Promise<{ [name: string]: WireTensor }> {
    const worker = this.#workers[this.#next++ % this.#workers.length];
    const transfer = Object.values(feeds).map((t) => (t.data as Float64Array).buffer as ArrayBuffer);
    const reply = await this.#call(worker, { kind: 'run', version, feeds, fetches }, transfer);
    return (reply as { outputs: { [name: string]: WireTensor } }).outputs;
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}

/** The model file, its session and watcher: everything the step's work shares across batches. */
class ScoreModel {
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
      const columns = o.inputs.map((input) => ({
        input,
        values: new Float64Array(n * input.spec.width),
        state: input.spec.initialState(),
      }));
      for (let i = 0; i < n; i++) {
        try {
          for (const { input, values, state } of columns) {
            const width = input.spec.width;
            const at = good.length * width;
            input.spec.encode(batch.records[i], state, values.subarray(at, at + width), false);
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
        for (const { input, values } of columns) {
          const width = input.spec.width;
          const type = model.types.get(input.name)!;
          // Zero rows pad the run (their outputs are dropped): see PAD_ROWS.
          const data = type === 'float32' ? new Float32Array(rows * width) : new Float64Array(rows * width);
          data.set(values.subarray(start * width, end * width));
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

export const scoreStep = defineStep({
  type: 'score',
  summary: 'Scores records with an ONNX model (onnxruntime, CPU), batched, with hot model swaps.',
  description:
    'Each record’s input fields become a row of the declared input tensors; the model runs once per up to `batch_size` records, through the asynchronous boundary (results in input order; checkpoints wait for the batches in flight), and the declared outputs are written to their fields with `version_field` naming the model version. The model’s inputs and outputs (names, element types, shapes) are checked against `inputs` and `outputs` when the job opens; a mismatch stops it with an error naming the tensor. With `watch: true` a changed model file is checked and swapped in between batches; a file that does not fit is refused with a warning. A record with a missing or non-numeric input goes to the dead-letter output with the reason.',
  config,
  changelog: () => PER_RECORD_CHANGELOG,
  schema(cfg, [input]) {
    const added = [
      ...Object.values(cfg.outputs).map((name) => ({ name, type: 'any' as const, nullable: false })),
      { name: cfg.version_field ?? 'model_version', type: 'string' as const, nullable: false },
    ];
    const names = new Set(added.map((f) => f.name));
    return { fields: [...input.fields.filter((f) => !names.has(f.name)), ...added], open: input.open };
  },
  example:
    'type: score\nmodel: ./models/fraud.onnx\ninputs:\n  features: [amount, hour, { hashed: country, buckets: 8 }]\noutputs: { probability: fraud_score }\nbatch_size: 512\nwatch: true',
  create(cfg, step) {
    const inputs = Object.entries(cfg.inputs).map(([name, columns]) => ({
      name,
      spec: inputSpec(step.id, name, columns),
    }));
    const outputs = Object.entries(cfg.outputs);
    if (outputs.length === 0)
      throw new SluiceError('CONFIG_INVALID', 'declare at least one output tensor to read', {
        step: step.id,
        path: 'outputs',
      });
    const model = new ScoreModel({
      stepId: step.id,
      path: isAbsolute(cfg.model) ? cfg.model : join(step.baseDir, cfg.model),
      file: cfg.model,
      inputs,
      outputs,
      batchSize: cfg.batch_size ?? 256,
      watch: cfg.watch ?? false,
      versionField: cfg.version_field ?? 'model_version',
      threads: cfg.threads ?? 1,
      workers: cfg.workers ?? 0,
    });
    return new AsyncStage({
      stepId: step.id,
      capacity: cfg.capacity ?? 4,
      ordered: true,
      acquire: (ctx) => model.open(ctx.log),
      release: () => model.close(),
      work: (batch) => model.score(batch),
    });
  },
});
