/**
 * `learn_predict` with labels that arrive later than their features, on a second input: a
 * feature record is predicted and held under its id; a label record with that id, no later than
 * `horizon` after it, makes its key's model learn from the held features and the label.
 *
 * So that results depend on the input alone (not on how the two inputs interleave, nor on batch
 * sizes), both inputs are buffered and handled in event-time order as the watermark passes them:
 * by time, features before labels at equal times, then in arrival order within each input. A
 * record at or behind the watermark when it arrives is late. A label whose id holds no features
 * (never seen, or older than the horizon) goes to the late output; a matched label is consumed
 * (counted as filtered). Features still unlabelled when the watermark passes their time plus the
 * horizon are forgotten (their prediction was already emitted).
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
import { Learner, type LearnerJson, labelOf, type ModelConfig, RecordRefused } from './learner.ts';
import { DRIFT_PORT } from './model-operator.ts';
import type { DriftConfig } from './models/drift.ts';

export interface DelayedLabelOptions {
  stepId: string;
  model: ModelConfig;
  features: FeatureSpec;
  /** The label field of the label records. */
  label: string;
  /** The field both inputs carry that pairs a label with its features. */
  id: string;
  /** How long after its features a label is still learned from (ms of event time). */
  horizon: number;
  key?: readonly string[];
  output: string;
  score: string;
  /**
   * A drift detector per key on the errors at label time: when a label arrives, the key's model
   * as it stands then predicts the held features before learning them, and that prediction's
   * error feeds the detector (and a fork's comparison).
   */
  drift?: DriftConfig;
}

/** An input record waiting for the watermark: time, input (0 features, 1 labels), arrival number. */
type Buffered = [time: number, input: 0 | 1, seq: number, record: Row];
/** Features waiting for their label: time, model key text, the record. */
type Pending = [time: number, key: string, record: Row];

interface DelayedSnapshot {
  version: 1;
  watermark: number;
  seq: number;
  buffered: Buffered[];
  pending: [string, Pending][];
  state?: unknown;
}

const LEARNERS = 'learners';

function keyText(key: readonly string[] | undefined, record: Row): string {
  if (key === undefined) return '';
  if (key.length === 1) return JSON.stringify(record[key[0]] ?? null);
  return JSON.stringify(key.map((f) => record[f] ?? null));
}

function idText(value: unknown): string | undefined {
  if (typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value)))
    return JSON.stringify(value);
  if (typeof value === 'bigint') return value.toString();
  return undefined;
}

export class DelayedLabelOperator implements Operator {
  readonly #o: DelayedLabelOptions;
  readonly #learners = new Map<string, Learner>();
  readonly #watches = new Map<string, DriftWatch>();
  readonly #pending = new Map<string, Pending>();
  #buffered: Buffered[] = [];
  #seq = 0;
  #watermark = Number.NEGATIVE_INFINITY;
  #ownState: StateBackend | undefined;
  #scratch: Learner | undefined;

  constructor(options: DelayedLabelOptions) {
    this.#o = options;
  }

  open(ctx: OperatorContext): void {
    this.#watermark = ctx.watermark();
    const restored = ctx.restored as Partial<DelayedSnapshot> | undefined | null;
    if (restored !== undefined) {
      if (
        typeof restored !== 'object' ||
        restored === null ||
        restored.version !== 1 ||
        !Array.isArray(restored.buffered) ||
        !Array.isArray(restored.pending)
      )
        throw this.#incompatible();
      if (typeof restored.watermark === 'number' && restored.watermark > this.#watermark)
        this.#watermark = restored.watermark;
      this.#seq = restored.seq ?? 0;
      this.#buffered = restored.buffered;
      for (const [id, p] of restored.pending) this.#pending.set(id, p);
    }
    let backend = ctx.state;
    if (backend === undefined) {
      backend = new MemoryStateBackend(restored?.state);
      this.#ownState = backend;
    }
    backend.keyed<string, LearnerJson & { learned: number } & DriftWatchJson>(LEARNERS, {
      entries: () =>
        [...this.#learners].map(
          ([k, l]) => [k, { ...l.toJSON(), ...this.#watches.get(k)?.toJSON() }] as const,
        ),
      restore: (key, entry) => {
        try {
          const o = this.#o;
          this.#learners.set(key, Learner.fromJSON(entry, o.features));
          if (o.drift !== undefined && entry.drift !== undefined)
            this.#watches.set(key, new DriftWatch(o.drift, o.model, o.features, entry));
        } catch {
          throw this.#incompatible();
        }
      },
    });
  }

  #incompatible(): SluiceError {
    return new SluiceError(
      'CHECKPOINT_INCOMPATIBLE',
      `the checkpoint's state for step '${this.#o.stepId}' is not this step's delayed-label state; ` +
        'the step changed since the checkpoint was taken: restart with --from-scratch',
      { step: this.#o.stepId },
    );
  }

  processBatch(batch: Batch, out: Output, input = 0): void {
    const o = this.#o;
    const watermarks = batch.watermarks;
    for (let i = 0; i < batch.records.length; i++) {
      if (watermarks !== undefined && watermarks[i] > this.#watermark) this.#advance(watermarks[i], out);
      const record = batch.records[i];
      const time = batch.times[i];
      if (!(time > this.#watermark)) {
        out.late(batch, i, `record time ${time} is at or behind the watermark ${this.#watermark}`);
        continue;
      }
      try {
        if (idText(record[o.id]) === undefined)
          throw new RecordRefused(
            o.id,
            `id field '${o.id}' holds ${JSON.stringify(record[o.id])}, not a text or a number`,
          );
        if (input === 1) labelOf(o.model.type, o.label, record);
        // Features are checked now, so that a dead letter does not wait for the watermark.
        else this.#check(record);
      } catch (err) {
        if (!(err instanceof RecordRefused)) throw err;
        out.deadLetter(
          batch,
          i,
          new SluiceError('SCHEMA_VIOLATION', err.message, { step: o.stepId, path: err.field }),
        );
        continue;
      }
      this.#buffered.push([time, input === 1 ? 1 : 0, this.#seq++, record]);
    }
  }

  #check(record: Row): void {
    this.#scratch ??= Learner.create(this.#o.model, this.#o.features);
    this.#scratch.encode(record, false);
  }

  onWatermark(watermark: number, out: Output): void {
    if (watermark > this.#watermark) this.#advance(watermark, out);
  }

  /** Handles the buffered records up to `watermark` in event-time order, then forgets expired features. */
  #advance(watermark: number, out: Output): void {
    this.#watermark = watermark;
    const o = this.#o;
    const due: Buffered[] = [];
    const rest: Buffered[] = [];
    for (const b of this.#buffered) (b[0] <= watermark ? due : rest).push(b);
    this.#buffered = rest;
    due.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
    const records: Row[] = [];
    const times: number[] = [];
    const drifts: Row[] = [];
    const driftTimes: number[] = [];
    let consumed = 0;
    for (const [time, input, , record] of due) {
      const id = idText(record[o.id])!;
      if (input === 0) {
        const key = keyText(o.key, record);
        let learner = this.#learners.get(key);
        if (learner === undefined) {
          learner = Learner.create(o.model, o.features);
          this.#learners.set(key, learner);
        }
        const p = learner.predict(learner.encode(record, false));
        const result: Row = { ...record };
        result[o.output] = p.value;
        if (p.score !== null || learner.type !== 'linear_regression') result[o.score] = p.score;
        records.push(result);
        times.push(time);
        this.#pending.set(id, [time, key, record]);
        continue;
      }
      const pending = this.#pending.get(id);
      if (pending === undefined || time > pending[0] + o.horizon) {
        out.late(
          { records: [record], times: [time] },
          0,
          pending === undefined
            ? `label for id ${id} matches no features held (never seen, or already labelled or expired)`
            : `label for id ${id} came ${time - pending[0]} ms after its features, beyond the horizon of ${o.horizon} ms`,
        );
        continue;
      }
      this.#pending.delete(id);
      const held = pending[2];
      let learner = this.#learners.get(pending[1])!;
      let x = learner.encode(held, true);
      const label = labelOf(o.model.type, o.label, record);
      let learnIt = true;
      if (o.drift !== undefined) {
        let watch = this.#watches.get(pending[1]);
        if (watch === undefined) {
          watch = new DriftWatch(o.drift, o.model, o.features);
          this.#watches.set(pending[1], watch);
        }
        const p = learner.predict(x);
        const seen = watch.observe(
          learner,
          held,
          label,
          p.value === null ? undefined : errorOf(learner.type, p.value, label),
        );
        for (const event of seen.events) {
          const keyFields =
            o.key === undefined ? {} : Object.fromEntries(o.key.map((f) => [f, held[f] ?? null]));
          drifts.push({ ...keyFields, detector: o.drift.detector, ...event });
          driftTimes.push(time);
        }
        if (seen.learner !== learner) {
          learner = seen.learner;
          this.#learners.set(pending[1], learner);
          if (seen.learn) x = learner.encode(held, true);
        }
        learnIt = seen.learn;
      }
      if (learnIt) learner.learn(x, label);
      consumed++;
    }
    for (const [id, p] of this.#pending) if (p[0] + o.horizon < watermark) this.#pending.delete(id);
    if (records.length > 0) out.emit({ records, times });
    if (drifts.length > 0) {
      if (out.emitTo === undefined)
        throw new SluiceError('INTERNAL', 'the learn_predict step was given an output without side outputs', {
          step: o.stepId,
        });
      out.emitTo(DRIFT_PORT, { records: drifts, times: driftTimes });
    }
    if (consumed > 0) out.filtered(consumed);
  }

  snapshot(): DelayedSnapshot {
    const snapshot: DelayedSnapshot = {
      version: 1,
      watermark: this.#watermark,
      seq: this.#seq,
      buffered: structuredClone(this.#buffered),
      pending: structuredClone([...this.#pending]),
    };
    if (this.#ownState !== undefined) snapshot.state = this.#ownState.snapshot();
    return snapshot;
  }
}
