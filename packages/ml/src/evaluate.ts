/**
 * The `evaluate` step: prequential metrics of the predictions a `learn_predict` step wrote, per
 * tumbling event-time window — accuracy, log-loss and exact ROC AUC (classification), MAE and
 * RMSE (regression) — one result record per window once the watermark passes its end.
 *
 * Computed here rather than by the engine's `aggregate` window: exact AUC ranks every score of
 * the window together, which no mergeable aggregate function does, so the step keeps the
 * window's (label, prediction, score) triples and computes the metrics when it fires. Windows
 * follow the engine's rules: a window [start, end) fires when the watermark reaches end − 1, its
 * result's time is end − 1, and a record whose window has fired is late.
 */

import {
  type Batch,
  defineStep,
  type Operator,
  type OperatorContext,
  type Output,
  parseDuration,
  type Row,
  SluiceError,
} from '@sluice/core';
import Type from 'typebox';
import { logLoss, regressionErrors, rocAuc } from './metrics.ts';

interface WindowData {
  /** The key fields' values (with `key`). */
  key?: Row;
  labels: number[];
  /** Classification: 1 when the prediction was right; regression: the prediction. */
  predictions: number[];
  /** P(y = 1), NaN when the record had none. */
  scores: number[];
}

/** Checkpointed form: the watermark and the open windows (start → key text → data). */
interface EvaluateSnapshot {
  version: 1;
  watermark: number;
  windows: [number, [string, WindowData][]][];
}

interface EvaluateOptions {
  stepId: string;
  task: 'classification' | 'regression';
  label: string;
  prediction: string;
  score: string;
  size: number;
  key?: readonly string[];
}

/** A 0/1 label from true/false or 1/0; undefined for anything else. */
function binary(value: unknown): number | undefined {
  if (value === true || value === 1) return 1;
  if (value === false || value === 0) return 0;
  return undefined;
}

class EvaluateOperator implements Operator {
  readonly absorbs = true;
  readonly #o: EvaluateOptions;
  #watermark = Number.NEGATIVE_INFINITY;
  /** Open windows by start, each holding a group per key (one, `""`, without `key`). */
  readonly #windows = new Map<number, Map<string, WindowData>>();

  constructor(options: EvaluateOptions) {
    this.#o = options;
  }

  open(ctx: OperatorContext): void {
    this.#watermark = ctx.watermark();
    if (ctx.restored === undefined) return;
    const s = ctx.restored as Partial<EvaluateSnapshot> | null;
    if (typeof s !== 'object' || s === null || s.version !== 1 || !Array.isArray(s.windows))
      throw new SluiceError(
        'CHECKPOINT_INCOMPATIBLE',
        `the checkpoint's state for step '${this.#o.stepId}' is not an evaluate step's state: restart with --from-scratch`,
        { step: this.#o.stepId },
      );
    if (typeof s.watermark === 'number' && s.watermark > this.#watermark) this.#watermark = s.watermark;
    for (const [start, groups] of s.windows) this.#windows.set(start, new Map(groups));
  }

  processBatch(batch: Batch, out: Output): void {
    const o = this.#o;
    const watermarks = batch.watermarks;
    for (let i = 0; i < batch.records.length; i++) {
      if (watermarks !== undefined && watermarks[i] > this.#watermark) this.#advance(watermarks[i], out);
      const record = batch.records[i];
      const time = batch.times[i];
      const start = Math.floor(time / o.size) * o.size;
      if (start + o.size - 1 <= this.#watermark) {
        out.late(
          batch,
          i,
          `record time ${time} falls in the window [${start}, ${start + o.size}), which has fired`,
        );
        continue;
      }
      const prediction = record[o.prediction];
      if (prediction === null || prediction === undefined) continue; // the model could not predict yet
      let label: number;
      let predicted: number;
      let score = Number.NaN;
      if (o.task === 'regression') {
        const l = record[o.label];
        if (typeof l !== 'number' || !Number.isFinite(l) || typeof prediction !== 'number') {
          out.deadLetter(
            batch,
            i,
            this.#refused(`label '${o.label}' and prediction '${o.prediction}' must be numbers`),
          );
          continue;
        }
        label = l;
        predicted = prediction;
      } else {
        const raw = record[o.label];
        if (raw === undefined || raw === null) {
          out.deadLetter(batch, i, this.#refused(`label field '${o.label}' is missing`));
          continue;
        }
        const b = binary(raw);
        label = b ?? Number.NaN;
        const p = binary(prediction);
        predicted = (p !== undefined && b !== undefined ? p === b : String(prediction) === String(raw))
          ? 1
          : 0;
        const s = record[o.score];
        if (b !== undefined && typeof s === 'number' && Number.isFinite(s)) score = s;
      }
      let groups = this.#windows.get(start);
      if (groups === undefined) {
        groups = new Map();
        this.#windows.set(start, groups);
      }
      const keyFields = o.key;
      const keyText = keyFields === undefined ? '' : JSON.stringify(keyFields.map((f) => record[f] ?? null));
      let data = groups.get(keyText);
      if (data === undefined) {
        data = { labels: [], predictions: [], scores: [] };
        if (keyFields !== undefined)
          data.key = Object.fromEntries(keyFields.map((f) => [f, record[f] ?? null]));
        groups.set(keyText, data);
      }
      data.labels.push(label);
      data.predictions.push(predicted);
      data.scores.push(score);
    }
  }

  #refused(message: string): SluiceError {
    return new SluiceError('SCHEMA_VIOLATION', message, { step: this.#o.stepId });
  }

  onWatermark(watermark: number, out: Output): void {
    if (watermark > this.#watermark) this.#advance(watermark, out);
  }

  /** Moves to `watermark`, emitting the windows that became due, oldest first. */
  #advance(watermark: number, out: Output): void {
    this.#watermark = watermark;
    const due = [...this.#windows.keys()]
      .filter((start) => start + this.#o.size - 1 <= watermark)
      .sort((a, b) => a - b);
    if (due.length === 0) return;
    const records: Row[] = [];
    const times: number[] = [];
    for (const start of due) {
      // Groups in the order their keys first appeared in the window: a function of the input.
      for (const data of this.#windows.get(start)!.values()) {
        records.push(this.#result(start, data));
        times.push(start + this.#o.size - 1);
      }
      this.#windows.delete(start);
    }
    out.emit({ records, times });
  }

  #result(start: number, data: WindowData): Row {
    const row: Row = {
      ...data.key,
      window_start: start,
      window_end: start + this.#o.size,
      records: data.labels.length,
    };
    if (this.#o.task === 'regression') return { ...row, ...regressionErrors(data.labels, data.predictions) };
    row.accuracy = data.predictions.reduce((a, b) => a + b, 0) / data.predictions.length;
    // Log-loss and AUC over the records with a 0/1 label and a probability.
    const labels: number[] = [];
    const scores: number[] = [];
    for (let i = 0; i < data.labels.length; i++)
      if (!Number.isNaN(data.scores[i]) && !Number.isNaN(data.labels[i])) {
        labels.push(data.labels[i]);
        scores.push(data.scores[i]);
      }
    row.log_loss = labels.length > 0 ? logLoss(labels, scores) : null;
    row.auc = labels.length > 0 ? rocAuc(labels, scores) : null;
    return row;
  }

  snapshot(): EvaluateSnapshot {
    return {
      version: 1,
      watermark: this.#watermark,
      windows: [...this.#windows].map(([start, groups]) => [start, [...groups]]),
    };
  }
}

export const evaluateStep = defineStep({
  type: 'evaluate',
  summary: 'Measures predictions against labels per tumbling event-time window (prequential evaluation).',
  description:
    'Reads the records a `learn_predict` step wrote and emits one record per window (per key and window with `key`, carrying the key fields) once the watermark passes its end: `window_start`, `window_end`, `records` (those with a prediction; records the model could not yet predict are skipped) and, for `classification`, `accuracy`, `log_loss` and `auc` (exact ROC AUC over the window’s scores; log-loss and AUC need 0/1 or true/false labels and a probability in `score`, else they are null; AUC is null for a window with one class) or, for `regression`, `mae` and `rmse`. A record whose window already fired is late. A record without a usable label goes to the dead-letter output. The window’s records are kept until it fires (exact AUC needs them all).',
  config: Type.Object(
    {
      task: Type.Union([Type.Literal('classification'), Type.Literal('regression')], {
        description: 'Which metrics: accuracy, log-loss and AUC, or MAE and RMSE.',
        default: 'classification',
      }),
      label: Type.String({ description: 'The field holding the true label.', examples: ['is_fraud'] }),
      prediction: Type.String({ description: 'The field holding the prediction.', default: 'prediction' }),
      score: Type.String({ description: 'The field holding P(label = 1).', default: 'score' }),
      window: Type.String({ description: 'Tumbling window size (a duration).', examples: ['1m'] }),
      key: Type.Optional(
        Type.Array(Type.String(), {
          minItems: 1,
          description:
            'Fields to measure apart (per card, per model key): a result per key and window, with the key fields. Default: one result per window.',
          examples: [['country']],
        }),
      ),
    },
    { additionalProperties: false },
  ),
  example: 'type: evaluate\nlabel: is_fraud\nwindow: 1m',
  // A closed schema: a misspelt metric downstream (`acuracy`) is a plan error, not a null.
  schema(cfg, [input]) {
    const keyFields = (cfg.key ?? []).map(
      (name) => input.fields.find((f) => f.name === name) ?? { name, type: 'any' as const, nullable: true },
    );
    const number = (name: string, nullable = false) => ({ name, type: 'number' as const, nullable });
    const metrics =
      cfg.task === 'regression'
        ? [number('mae'), number('rmse')]
        : [number('accuracy'), number('log_loss', true), number('auc', true)];
    return {
      fields: [...keyFields, number('window_start'), number('window_end'), number('records'), ...metrics],
      open: false,
    };
  },
  create(cfg, step) {
    return new EvaluateOperator({
      stepId: step.id,
      task: cfg.task ?? 'classification',
      label: cfg.label,
      prediction: cfg.prediction ?? 'prediction',
      score: cfg.score ?? 'score',
      size: parseDuration(cfg.window, 'window'),
      key: cfg.key,
    });
  },
});
