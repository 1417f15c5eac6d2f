/**
 * Drift detection for one key's model, and what follows a detected drift: `reset` (a fresh model
 * from the drift record on), `keep` (only report) or `fork`.
 *
 * A fork trains a candidate model from the drift record on while the model in place keeps
 * predicting (and learning). Both are evaluated prequentially on every labelled record after the
 * fork — each predicts the record, then learns it — and their errors are kept over the last
 * `fork_window` records. Once the candidate has been tested on `fork_window` records and its
 * error summed over them is strictly lower than the model in place's over the same records, the
 * candidate takes the model's place (`swap`); if it has not done so after `fork_patience`
 * records the fork was a false alarm and the candidate is dropped (`discard`). A drift detected
 * while a fork runs is reported (`keep`) and starts no second candidate. After a swap the
 * detector starts afresh, since it watched the errors of the model that was replaced.
 *
 * Everything here is a function of the sequence of labelled records, so it does not depend on
 * batch sizes, and it goes to and from plain JSON for the checkpoint.
 */

import type { Row } from '@sluice/core';
import type { FeatureSpec } from './features.ts';
import { type Label, Learner, type LearnerJson, type ModelConfig } from './learner.ts';
import {
  createDetector,
  type DriftConfig,
  type DriftDetector,
  type DriftJson,
  detectorFromJson,
} from './models/drift.ts';

/** Defaults of the fork options (one place; the schema's descriptions name them). */
export const FORK_WINDOW = 200;
export const FORK_PATIENCE = 5000;

/** What a drift record says happened. */
export type DriftAction = 'reset' | 'keep' | 'fork' | 'swap' | 'discard';

/** The error of a prediction: 0/1 for a class, the absolute error for linear regression. */
export function errorOf(type: ModelConfig['type'], value: boolean | number | string, label: Label): number {
  switch (type) {
    case 'logistic_regression':
      return value === (label === 1) ? 0 : 1;
    case 'linear_regression':
      return Math.abs((value as number) - (label as number));
    default:
      return String(value) === String(label) ? 0 : 1;
  }
}

/** A fork in progress, as JSON. */
export interface ForkJson {
  candidate: LearnerJson & { learned: number };
  /** Records both models were tested on since the fork. */
  tested: number;
  /** The last `fork_window` errors of the model in place and of the candidate (ring buffers). */
  active: number[];
  challenger: number[];
}

/** The drift state of one key, as JSON (kept in the keyed state beside its learner). */
export interface DriftWatchJson {
  drift?: DriftJson;
  drifts?: number;
  fork?: ForkJson;
}

/** A drift record's fields beyond the key fields. */
export interface DriftEvent {
  action: DriftAction;
  /** Records the model in place had learned (before a reset or swap). */
  learned: number;
  /** Drifts found for the key so far. */
  drifts: number;
  /** `swap` and `discard`: the mean errors of both models over the last `fork_window` records. */
  active_error?: number;
  candidate_error?: number;
}

/** The outcome of one labelled record: the learner to learn it (if any), and what happened. */
export interface Observed {
  /** The key's learner from now on (a fresh one after a reset, the candidate after a swap). */
  learner: Learner;
  /** Whether `learner` still has to learn the record (a swapped-in candidate has learned it already). */
  learn: boolean;
  events: DriftEvent[];
}

function sum(values: readonly number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return s;
}

export class DriftWatch {
  readonly #config: DriftConfig;
  readonly #model: ModelConfig;
  readonly #features: FeatureSpec;
  #detector: DriftDetector;
  #drifts = 0;
  #candidate: Learner | undefined;
  #tested = 0;
  #active: number[] = [];
  #challenger: number[] = [];

  constructor(config: DriftConfig, model: ModelConfig, features: FeatureSpec, json?: DriftWatchJson) {
    this.#config = config;
    this.#model = model;
    this.#features = features;
    this.#detector = json?.drift === undefined ? createDetector(config) : detectorFromJson(json.drift);
    if (json === undefined) return;
    this.#drifts = json.drifts ?? 0;
    if (json.fork !== undefined) {
      this.#candidate = Learner.fromJSON(json.fork.candidate, features);
      this.#tested = json.fork.tested;
      this.#active = [...json.fork.active];
      this.#challenger = [...json.fork.challenger];
    }
  }

  get #window(): number {
    return this.#config.fork_window ?? FORK_WINDOW;
  }

  /** Whether a candidate model is being trained beside the model in place. */
  get forking(): boolean {
    return this.#candidate !== undefined;
  }

  /**
   * One labelled record: `error` is the error of `learner`'s prediction of it (made before it
   * learns the record), undefined when it could not predict yet. Tests and trains the candidate of
   * a running fork on the record, feeds the detector, and acts on a drift or a fork's end.
   */
  observe(learner: Learner, record: Row, label: Label, error: number | undefined): Observed {
    const events: DriftEvent[] = [];
    const action = this.#config.on_drift ?? 'reset';
    if (this.#candidate !== undefined && error === undefined) {
      const candidate = this.#candidate;
      candidate.learn(candidate.encode(record, true), label);
    } else if (this.#candidate !== undefined && error !== undefined) {
      const candidate = this.#candidate;
      const x = candidate.encode(record, true);
      const p = candidate.predict(x);
      // A candidate that cannot predict yet (a tree before its first leaf counts) is as wrong as can be.
      const candidateError = p.value === null ? Math.max(1, error) : errorOf(candidate.type, p.value, label);
      candidate.learn(x, label);
      const slot = this.#tested % this.#window;
      this.#active[slot] = error;
      this.#challenger[slot] = candidateError;
      this.#tested++;
      if (this.#tested >= this.#window) {
        const a = sum(this.#active);
        const c = sum(this.#challenger);
        const means = { active_error: a / this.#window, candidate_error: c / this.#window };
        if (c < a) {
          events.push({ action: 'swap', learned: learner.learned, drifts: this.#drifts, ...means });
          this.#endFork();
          this.#detector = createDetector(this.#config);
          return { learner: candidate, learn: false, events };
        }
        if (this.#tested >= (this.#config.fork_patience ?? FORK_PATIENCE)) {
          events.push({ action: 'discard', learned: learner.learned, drifts: this.#drifts, ...means });
          this.#endFork();
        }
      }
    }
    if (error === undefined || !this.#detector.update(error)) return { learner, learn: true, events };
    this.#drifts++;
    if (action === 'keep' || (action === 'fork' && this.#candidate !== undefined)) {
      events.push({ action: 'keep', learned: learner.learned, drifts: this.#drifts });
      return { learner, learn: true, events };
    }
    events.push({ action, learned: learner.learned, drifts: this.#drifts });
    if (action === 'reset')
      return { learner: Learner.create(this.#model, this.#features), learn: true, events };
    // fork: the candidate starts from this record; the model in place learns it too.
    const candidate = Learner.create(this.#model, this.#features);
    candidate.learn(candidate.encode(record, true), label);
    this.#candidate = candidate;
    return { learner, learn: true, events };
  }

  #endFork(): void {
    this.#candidate = undefined;
    this.#tested = 0;
    this.#active = [];
    this.#challenger = [];
  }

  toJSON(): DriftWatchJson {
    const json: DriftWatchJson = { drift: this.#detector.toJSON(), drifts: this.#drifts };
    if (this.#candidate !== undefined)
      json.fork = {
        candidate: this.#candidate.toJSON(),
        tested: this.#tested,
        active: [...this.#active],
        challenger: [...this.#challenger],
      };
    return json;
  }
}
