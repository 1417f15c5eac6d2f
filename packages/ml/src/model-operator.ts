/**
 * The operator of the `learn`, `predict` and `learn_predict` steps: one learner (model + feature
 * state) per key, kept in the job's keyed state, so a restored job resumes learning exactly where
 * the checkpoint left it.
 *
 * Each record is handled alone, in input order, so results depend on the input only — not on how
 * it was cut into batches. A record whose label or features the model cannot use goes to the
 * dead-letter output with the reason and changes no state.
 */

import {
  type Batch,
  MemoryStateBackend,
  type Operator,
  type OperatorContext,
  type Output,
  type Row,
  SluiceError,
  type StateBackend,
} from '@sluice/core';
import { DriftWatch, type DriftWatchJson, errorOf } from './drift-watch.ts';
import type { FeatureSpec } from './features.ts';
import {
  type Label,
  Learner,
  type LearnerJson,
  labelOf,
  type ModelConfig,
  RecordRefused,
  supervised,
} from './learner.ts';
import type { ModelFile } from './model-file.ts';
import type { DriftConfig } from './models/drift.ts';

/** What the operator does with each record. */
export type ModelMode = 'learn' | 'predict' | 'learn_predict';

export interface ModelOperatorOptions {
  stepId: string;
  mode: ModelMode;
  model: ModelConfig;
  features: FeatureSpec;
  /** The label field; required to learn with a supervised model. */
  label?: string;
  /** Fields whose values pick the learner (a model per key); absent: one learner. */
  key?: readonly string[];
  /** Field the prediction is written to. */
  output: string;
  /** Field the score is written to. */
  score: string;
  /** `learn`: emit a summary (key fields, records learned, the learner's JSON) every this many records per key; 0: never. */
  summaryEvery: number;
  /**
   * `predict`: the model file whose learner the keys without a model of their own share, read
   * when the operator opens (not when the step is built, so that validating a pipeline reads no
   * file).
   */
  modelFile?: ModelFile;
  /** `predict` with `watch`: the model file is read again when it changes, swapped in between batches. */
  watch?: boolean;
  /** With `watch`: the field naming the version of the file's model that predicted the record. */
  versionField?: string;
  /** `learn_predict`: a drift detector per key on the error stream (drift records to the side output `drift`). */
  drift?: DriftConfig;
}

/** The side output of drift records. */
export const DRIFT_PORT = 'drift';

/** A learner's entry in the keyed state: the learner, its key fields, its drift detector and fork. */
export type LearnerEntry = LearnerJson & { learned: number; key?: Row } & DriftWatchJson;

/** The name of the keyed state: part of the checkpoint format, never rename it. */
const LEARNERS = 'learners';

/** Checkpointed form outside a job (unit tests); in a job the runtime snapshots the keyed state. */
interface ModelSnapshot {
  version: 1;
  state?: unknown;
}

/** The text of a record's key: the JSON of its key fields' values (missing ones as null). */
function keyText(key: readonly string[] | undefined, record: Row): string {
  if (key === undefined) return '';
  if (key.length === 1) return JSON.stringify(record[key[0]] ?? null);
  return JSON.stringify(key.map((f) => record[f] ?? null));
}

export class ModelOperator implements Operator {
  readonly #o: ModelOperatorOptions;
  readonly #learners = new Map<string, Learner>();
  /** Key fields' values per key, for summaries. */
  readonly #keyRows = new Map<string, Row>();
  /** Drift detector, drifts found so far and a running fork, per key. */
  readonly #watches = new Map<string, DriftWatch>();
  #ownState: StateBackend | undefined;
  /** `predict`: the model file's learner, shared by the keys that have no model of their own. */
  #initial: Learner | undefined;
  /** The version of the model file `#initial` was read from. */
  #version: string | null = null;
  /** A learner that never learns, for checking features when a key has no model (predict). */
  #scratch: Learner | undefined;
  readonly absorbs: boolean;

  constructor(options: ModelOperatorOptions) {
    this.#o = options;
    this.absorbs = options.mode === 'learn';
  }

  open(ctx: OperatorContext): void {
    const file = this.#o.modelFile;
    if (file !== undefined) {
      const loaded = file.load();
      this.#initial = loaded.learner;
      this.#version = loaded.version;
      if (this.#o.watch === true) file.watch(ctx.log);
    }
    const restored = ctx.restored as Partial<ModelSnapshot> | undefined | null;
    if (
      restored !== undefined &&
      (typeof restored !== 'object' || restored === null || restored.version !== 1)
    )
      throw this.#incompatible();
    let backend = ctx.state;
    if (backend === undefined) {
      // Outside a job: hold the keyed state here and put it in the snapshot.
      backend = new MemoryStateBackend(restored?.state);
      this.#ownState = backend;
    }
    backend.keyed<string, LearnerEntry>(LEARNERS, {
      entries: () => this.#entries(),
      restore: (key, entry) => {
        try {
          this.#learners.set(key, Learner.fromJSON(entry, this.#o.features));
          if (entry.key !== undefined) this.#keyRows.set(key, entry.key);
          if (this.#o.drift !== undefined && entry.drift !== undefined)
            this.#watches.set(key, new DriftWatch(this.#o.drift, this.#o.model, this.#o.features, entry));
        } catch {
          throw this.#incompatible();
        }
      },
    });
  }

  *#entries(): Iterable<readonly [string, LearnerEntry]> {
    for (const [key, learner] of this.#learners) {
      const entry: LearnerEntry = learner.toJSON();
      const row = this.#keyRows.get(key);
      if (row !== undefined) entry.key = row;
      const watch = this.#watches.get(key);
      if (watch !== undefined) Object.assign(entry, watch.toJSON());
      yield [key, entry];
    }
  }

  #incompatible(): SluiceError {
    return new SluiceError(
      'CHECKPOINT_INCOMPATIBLE',
      `the checkpoint's state for step '${this.#o.stepId}' is not this step's model state; ` +
        'the step changed since the checkpoint was taken: restart with --from-scratch',
      { step: this.#o.stepId },
    );
  }

  /** The learner of `key`, created (from the model file, or empty) on first use. */
  #learner(key: string, record: Row): Learner | undefined {
    let learner = this.#learners.get(key);
    if (learner !== undefined) return learner;
    const o = this.#o;
    // predict never changes a learner: every key without a model of its own shares the file's,
    // which stays out of the keyed state (the file is read again at a restore).
    if (o.mode === 'predict') return this.#initial;
    learner = Learner.create(o.model, o.features);
    this.#learners.set(key, learner);
    if (o.key !== undefined)
      this.#keyRows.set(key, Object.fromEntries(o.key.map((f) => [f, record[f] ?? null])));
    return learner;
  }

  processBatch(batch: Batch, out: Output, input = 0): void {
    if (input === 1) {
      this.#takeModels(batch, out);
      return;
    }
    const o = this.#o;
    if (o.watch === true) {
      // A changed model file is swapped in here, between batches: a batch is predicted by one model.
      const next = o.modelFile?.take();
      if (next !== undefined) {
        this.#initial = next.learner;
        this.#version = next.version;
      }
    }
    const learn = o.mode !== 'predict';
    const predict = o.mode !== 'learn';
    const needsLabel = learn && supervised(o.model.type);
    const n = batch.records.length;
    const records: Row[] = [];
    const times: number[] = [];
    const keep: number[] = [];
    const summaries: Row[] = [];
    const summaryTimes: number[] = [];
    const drifts: Row[] = [];
    const driftTimes: number[] = [];
    for (let i = 0; i < n; i++) {
      const record = batch.records[i];
      const key = keyText(o.key, record);
      let label: Label = 0;
      let x: Float64Array;
      let learner = this.#learner(key, record);
      try {
        if (needsLabel) label = labelOf(o.model.type, o.label!, record);
        // With no model yet (predict), the features are still checked, so that whether a record
        // is a dead letter does not depend on when a model arrived.
        x = learner === undefined ? this.#check(record) : learner.encode(record, learn);
      } catch (err) {
        if (!(err instanceof RecordRefused)) throw err;
        out.deadLetter(
          batch,
          i,
          new SluiceError('SCHEMA_VIOLATION', err.message, { step: o.stepId, path: err.field }),
        );
        continue;
      }
      let learnIt = learn;
      if (predict) {
        const p = learner === undefined ? { value: null, score: null } : learner.predict(x);
        if (o.drift !== undefined && learner !== undefined) {
          let watch = this.#watches.get(key);
          if (watch === undefined) {
            watch = new DriftWatch(o.drift, o.model, o.features);
            this.#watches.set(key, watch);
          }
          const error = p.value === null ? undefined : errorOf(learner.type, p.value, label);
          const seen = watch.observe(learner, record, label, error);
          for (const event of seen.events) {
            drifts.push({ ...(this.#keyRows.get(key) ?? {}), detector: o.drift.detector, ...event });
            driftTimes.push(batch.times[i]);
          }
          if (seen.learner !== learner) {
            // A reset model learns from this record on (encoded again for its fresh feature
            // state); a swapped-in candidate has learned it already.
            learner = seen.learner;
            this.#learners.set(key, learner);
            if (seen.learn) x = learner.encode(record, true);
          }
          learnIt = seen.learn;
        }
        // A plain spread clones the record's shape (V8's fast path) and the added fields keep one
        // hidden class for records of one shape; a spread with a computed key in the same
        // literal builds a dictionary-mode object per record (several times slower).
        const result: Row = { ...record };
        result[o.output] = p.value;
        if (p.score !== null || learner?.type !== 'linear_regression') result[o.score] = p.score;
        if (o.versionField !== undefined)
          result[o.versionField] = learner !== undefined && learner === this.#initial ? this.#version : null;
        records.push(result);
        times.push(batch.times[i]);
        keep.push(i);
      }
      if (learnIt && learner !== undefined) {
        learner.learn(x, label);
        if (o.summaryEvery > 0 && learner.learned % o.summaryEvery === 0) {
          summaries.push(this.#summary(key, learner));
          summaryTimes.push(batch.times[i]);
        }
      }
    }
    if (records.length > 0) out.emit(this.#like(batch, keep, records, times));
    if (summaries.length > 0) out.emit({ records: summaries, times: summaryTimes });
    if (drifts.length > 0) {
      if (out.emitTo === undefined)
        throw new SluiceError('INTERNAL', 'the learn_predict step was given an output without side outputs', {
          step: o.stepId,
        });
      out.emitTo(DRIFT_PORT, { records: drifts, times: driftTimes });
    }
  }

  /** Checks `record`'s features against the spec (throws {@link RecordRefused}), learning nothing. */
  #check(record: Row): Float64Array {
    this.#scratch ??= Learner.create({ type: 'ewma_zscore' }, this.#o.features);
    return this.#scratch.encode(record, false);
  }

  /** A batch of `records` standing for records `keep` of `batch` (their keys, offsets and watermarks). */
  #like(batch: Batch, keep: number[], records: Row[], times: number[]): Batch {
    const result: Batch = { records, times };
    if (batch.keys) result.keys = keep.map((i) => batch.keys![i]);
    if (batch.offsets) result.offsets = keep.map((i) => batch.offsets![i]);
    if (batch.seqs) result.seqs = keep.map((i) => batch.seqs![i]);
    if (batch.watermarks) result.watermarks = keep.map((i) => batch.watermarks![i]);
    if (batch.source !== undefined) result.source = batch.source;
    if (batch.partition !== undefined) result.partition = batch.partition;
    return result;
  }

  /** A model summary: the key fields, the records learned and the learner's JSON. */
  #summary(key: string, learner: Learner): Row {
    return { ...(this.#keyRows.get(key) ?? {}), learned: learner.learned, model: learner.toJSON() };
  }

  /** `predict`'s second input: model summaries of an upstream `learn`; each replaces its key's learner. */
  #takeModels(batch: Batch, out: Output): void {
    const o = this.#o;
    for (let i = 0; i < batch.records.length; i++) {
      const record = batch.records[i];
      try {
        const learner = Learner.fromJSON(record.model as LearnerJson, o.features);
        const key = keyText(o.key, record);
        this.#learners.set(key, learner);
        if (o.key !== undefined)
          this.#keyRows.set(key, Object.fromEntries(o.key.map((f) => [f, record[f] ?? null])));
      } catch (err) {
        out.deadLetter(
          batch,
          i,
          new SluiceError(
            'SCHEMA_VIOLATION',
            `not a model summary of this step's features: ${(err as Error).message}`,
            {
              step: o.stepId,
              path: 'model',
            },
          ),
        );
      }
    }
  }

  close(): void {
    this.#o.modelFile?.close();
  }

  snapshot(): ModelSnapshot {
    const snapshot: ModelSnapshot = { version: 1 };
    if (this.#ownState !== undefined) snapshot.state = this.#ownState.snapshot();
    return snapshot;
  }
}
