/**
 * Plans `CREATE MODEL` and `FROM ML_PREDICT(TABLE t, MODEL m, DESCRIPTOR(…))` / `ML_SCORE(…)` as
 * the steps of `@sluice/ml` a YAML pipeline would write: an online model (`'type'` one of the
 * `learn_predict` step's model types) becomes `learn_predict`, a model read from `'model_file'`
 * `predict`, and `'type' = 'onnx'` the `score` step. The model's WITH options are the step's own
 * options (no second list): a key that is an option of the step is that option; any other key of an
 * online model is an option of its `model` (`'learning_rate'` → `model.learning_rate`); the INPUT
 * columns are the step's `features` (or the `score` step's input tensors), fed by the DESCRIPTOR's
 * columns by position. A call's `CONFIG => MAP['key', 'value', …]` gives options that override the
 * model's, for that call. `'labels.table'` names the table of labels that arrive later than their
 * features: it becomes `learn_predict`'s second input (`labels.id`, `labels.horizon` its `labels`).
 * Validation is the step spec's, at the options' lines and columns through `Plan.locations`.
 */

import type { Registry, StepSpec } from '@sluice/core';
import type { CreateModel, ModelColumn, ModelTable, TableOption } from './ast.ts';
import { featureSchema, isNode, modelTypes, outputColumns } from './model-schema.ts';
import { configFromOptions, convert } from './options.ts';
import type { JoinPlanner, Relation } from './query-planner.ts';

/** The step a model becomes. */
type ModelStep = 'learn_predict' | 'predict' | 'score';

/** SQL types whose columns are numeric features by default (the rest: `one_hot`). */
const NUMERIC = /^(TINYINT|SMALLINT|INT|INTEGER|BIGINT|FLOAT|REAL|DOUBLE|DECIMAL|DEC|NUMERIC)\b/i;
const TEXT = /^(STRING|VARCHAR|CHAR)\b/i;

/** The step an (unplanned) model becomes, from its options. */
export function modelStepType(m: CreateModel): ModelStep {
  const type = m.options.find((o) => o.key === 'type');
  if (type?.value === 'onnx') return 'score';
  if (type === undefined && m.options.some((o) => o.key === 'model_file')) return 'predict';
  return 'learn_predict';
}

/** The declared models of a script and the planning of their uses. */
export class Models {
  readonly #p: JoinPlanner;
  readonly #registry: Registry;
  readonly #models = new Map<string, CreateModel>();
  /** Where each model that learns is used: it learns from one query's records only. */
  readonly #learning = new Map<string, number>();
  /** `line L, column C` of an offset in the script. */
  readonly #where: (offset: number) => string;

  constructor(p: JoinPlanner, registry: Registry, where: (offset: number) => string) {
    this.#p = p;
    this.#registry = registry;
    this.#where = where;
  }

  has(name: string): boolean {
    return this.#models.has(name);
  }

  names(): string[] {
    return [...this.#models.keys()];
  }

  declare(m: CreateModel): void {
    this.#models.set(m.name.text, m);
  }

  /** The step `from` plans (`<id>-predict` or `<id>-score`) and the relation it gives. */
  plan(from: ModelTable, id: string): Relation {
    const p = this.#p;
    const m = this.#models.get(from.model.text);
    if (m === undefined)
      return p.fail(from.model.start, p.unknown('model', from.model.text, this.names(), 'the script'));
    const stepType = this.stepType(m);
    if (from.fn === 'ML_SCORE' && stepType !== 'score')
      p.fail(
        from.start,
        `ML_SCORE runs an ONNX model ('type' = 'onnx'); model '${m.name.text}' is an online model: read it with ML_PREDICT(TABLE t, MODEL ${m.name.text}, DESCRIPTOR(…))`,
      );
    if (from.fn === 'ML_PREDICT' && stepType === 'score')
      p.fail(
        from.start,
        `model '${m.name.text}' is an ONNX model: score it with ML_SCORE(TABLE t, MODEL ${m.name.text}, DESCRIPTOR(…))`,
      );
    const spec = this.#registry.step(stepType);
    if (spec === undefined)
      return p.fail(
        m.name.start,
        `model '${m.name.text}' runs as the '${stepType}' step of @sluice/ml, which is not registered: register its plugin (new Registry([builtins, ml])); the sluice CLI loads it by itself`,
      );
    if (stepType === 'learn_predict') {
      const first = this.#learning.get(m.name.text);
      if (first !== undefined)
        p.fail(
          from.model.start,
          `model '${m.name.text}' learns, and it learns from the records of one query: it is used already (${this.#where(first)}); put that query in a view and read the view`,
        );
      this.#learning.set(m.name.text, from.model.start);
    }
    const options = this.#options(m, from, stepType);
    const input = p.relation(from.table);
    const where = `'${from.table.text}'`;
    for (const c of from.columns)
      if (!input.columns.includes(c.text)) p.fail(c.start, p.unknown('column', c.text, input.columns, where));
    if (from.columns.length !== m.input.length)
      p.fail(
        from.descriptor,
        `model '${m.name.text}' takes ${m.input.length} feature(s), INPUT (${m.input.map((c) => `${c.name.text} ${c.type}`).join(', ')}); DESCRIPTOR names ${from.columns.length}: list one column for each, in order`,
      );
    const step = `${id}-${stepType === 'score' ? 'score' : 'predict'}`;
    const labelsTable = options.find((o) => o.key === 'labels.table');
    const labels =
      labelsTable === undefined ? undefined : this.#labels(m, labelsTable, stepType, input, options);
    const config = this.#config(
      m,
      options.filter((o) => o !== labelsTable),
      from,
      spec,
      stepType,
      step,
      input,
      labels,
    );
    p.addStep({
      id: step,
      type: stepType,
      inputs: labels === undefined ? [input.ref] : [input.ref, labels.ref],
      config,
    });
    p.locate(step, '', from.start);
    const columns = outputColumns(spec, config, input, step);
    return {
      ref: step,
      columns,
      ...(input.timeColumn !== undefined && columns.includes(input.timeColumn)
        ? { timeColumn: input.timeColumn }
        : {}),
      fromSource: false,
      ...(input.updating ? { updating: input.updating } : {}),
    };
  }

  /** The model's options with those of the call's `CONFIG => MAP[…]` in place of the same keys. */
  #options(m: CreateModel, from: ModelTable, stepType: ModelStep): TableOption[] {
    const p = this.#p;
    const options = [...m.options];
    for (const o of from.config ?? []) {
      if (o.key === 'type' || o.key === 'model_file')
        p.fail(
          o.start,
          `'${o.key}' says what model '${m.name.text}' is, in its CREATE MODEL; a call's CONFIG sets the options of the ${stepType} step only`,
        );
      const i = options.findIndex((x) => x.key === o.key);
      if (i >= 0) options[i] = o;
      else options.push(o);
    }
    return options;
  }

  /**
   * The table of delayed labels named by `'labels.table'`: an online model's second input, whose
   * records carry `labels.id` and the label; both tables need event time (a WATERMARK), since the
   * step handles them in event-time order.
   */
  #labels(
    m: CreateModel,
    at: TableOption,
    stepType: ModelStep,
    input: Relation,
    options: readonly TableOption[],
  ): Relation {
    const p = this.#p;
    if (stepType !== 'learn_predict')
      p.fail(
        at.start,
        `'labels.table' is for a model that learns; model '${m.name.text}' runs as '${stepType}'`,
      );
    const labels = p.relation({ text: String(at.value), start: at.start });
    const id = options.find((o) => o.key === 'labels.id');
    if (id === undefined)
      return p.fail(
        at.start,
        `with 'labels.table', say which column pairs a label with its features: 'labels.id' = '<column of both tables>' (and 'labels.horizon' = '<duration>')`,
      );
    for (const [relation, name] of [
      [input, 'the input'],
      [labels, `'labels.table' '${at.value}'`],
    ] as const) {
      if (!relation.columns.includes(String(id.value)))
        p.fail(id.start, p.unknown('column', String(id.value), relation.columns, name));
      if (relation.timeColumn === undefined)
        p.fail(
          at.start,
          `with delayed labels both tables need event time (features and labels are matched in event-time order): ${name} has no WATERMARK FOR column`,
        );
    }
    return labels;
  }

  /** Which step the model becomes; fails on a model that names no type. */
  stepType(m: CreateModel): ModelStep {
    const p = this.#p;
    const type = m.options.find((o) => o.key === 'type');
    const file = m.options.find((o) => o.key === 'model_file');
    if (type !== undefined && file !== undefined)
      p.fail(
        type.start,
        `model '${m.name.text}' is read from 'model_file', which holds its type: remove 'type'`,
      );
    if (type === undefined && file === undefined) {
      const types = modelTypes(this.#registry.step('learn_predict'));
      p.fail(
        m.name.start,
        `model '${m.name.text}' names no type: add 'type' = '<type>' to its WITH options — ${types.length > 0 ? `${types.join(', ')} (online models that learn from the stream), ` : ''}or 'onnx' (an ONNX file, scored by ML_SCORE); or 'model_file' = '<file>' for a model a learn step exported`,
      );
    }
    return modelStepType(m);
  }

  /** The step's config from the model's options and INPUT, each option located in the script. */
  #config(
    m: CreateModel,
    modelOptions: readonly TableOption[],
    from: ModelTable,
    spec: StepSpec,
    stepType: ModelStep,
    step: string,
    input: Relation,
    labels: Relation | undefined,
  ): { [key: string]: unknown } {
    const p = this.#p;
    const inputNames = m.input.map((c) => c.name.text);
    const stepOptions = new Set(Object.keys(isNode(spec.config) ? (spec.config.properties ?? {}) : {}));
    const kinds = new Map<string, TableOption>();
    const featureOptions = new Map<string, TableOption[]>();
    const tensors: TableOption[] = [];
    const options: TableOption[] = [];
    for (const o of modelOptions) {
      const parts = o.key.split('.');
      if (o.key === 'type') {
        if (stepType === 'learn_predict') options.push({ ...o, key: 'model.type' });
        continue;
      }
      if (parts[0] === 'features' && parts.length > 1) {
        const column = parts[1];
        if (!inputNames.includes(column))
          p.fail(o.start, p.unknown('INPUT column', column, inputNames, `model '${m.name.text}'`));
        if (parts.length === 2) kinds.set(column, o);
        else if (parts.length === 3)
          featureOptions.set(column, [...(featureOptions.get(column) ?? []), { ...o, key: parts[2] }]);
        else
          p.fail(
            o.start,
            `a feature option is 'features.<column>' = '<kind>' or 'features.<column>.<option>' = '<value>'`,
          );
        continue;
      }
      if (stepType === 'score' && parts[0] === 'inputs' && parts.length === 2) {
        tensors.push(o);
        continue;
      }
      options.push(
        stepType === 'learn_predict' && !stepOptions.has(parts[0]) ? { ...o, key: `model.${o.key}` } : o,
      );
    }
    if (m.output !== undefined) options.push(...this.#outputOptions(m, stepType, options));
    const { config, placed } = configFromOptions(options, spec.config);
    for (const o of placed) p.locate(step, o.path, o.option.start);
    for (const name of ['label'] as const) {
      // With delayed labels the label is a column of the labels' table.
      const holder = labels ?? input;
      const o = placed.find((x) => x.path === name);
      if (o !== undefined && typeof config[name] === 'string' && !holder.columns.includes(config[name]))
        p.fail(
          o.option.start,
          p.unknown(
            'column',
            config[name],
            holder.columns,
            `'${labels === undefined ? from.table.text : holder.ref}'`,
          ),
        );
    }
    const key = placed.find((x) => x.path === 'key');
    if (key !== undefined && Array.isArray(config.key))
      for (const k of config.key)
        if (typeof k === 'string' && !input.columns.includes(k))
          p.fail(key.option.start, p.unknown('column', k, input.columns, `'${from.table.text}'`));
    const schema = featureSchema(spec);
    const feature = (i: number, path: string): unknown => {
      const column = m.input[i];
      const name = column.name.text;
      const at = kinds.get(name);
      const kind = at !== undefined ? String(at.value) : this.#defaultKind(m, column);
      const extra = featureOptions.get(name) ?? [];
      p.locate(step, path, from.columns[i].start);
      p.locate(step, `${path}.${kind}`, at?.start ?? from.columns[i].start);
      for (const o of extra) p.locate(step, `${path}.${o.key}`, o.start);
      // A plain numeric column of an ONNX tensor is written as YAML writes it: the field name.
      if (stepType === 'score' && kind === 'numeric' && extra.length === 0) return from.columns[i].text;
      const out: { [key: string]: unknown } = { [kind]: from.columns[i].text };
      for (const o of extra) out[o.key] = convert(o.value, schema?.properties?.[o.key]);
      return out;
    };
    if (stepType !== 'score') {
      config.features = m.input.map((_, i) => feature(i, `features[${i}]`));
      return config;
    }
    if (tensors.length === 0)
      p.fail(
        m.name.start,
        `model '${m.name.text}' feeds no input tensor: add 'inputs.<tensor>' = '<its INPUT columns, in order>', e.g. 'inputs.features' = '${inputNames.join(', ')}'`,
      );
    const fed = new Set<string>();
    const inputs: { [tensor: string]: unknown[] } = {};
    for (const o of tensors) {
      const tensor = o.key.slice('inputs.'.length);
      const listed = String(o.value)
        .split(',')
        .map((c) => c.trim())
        .filter((c) => c !== '');
      p.locate(step, `inputs.${tensor}`, o.start);
      inputs[tensor] = listed.map((c, j) => {
        const i = inputNames.indexOf(c);
        if (i < 0) p.fail(o.start, p.unknown('INPUT column', c, inputNames, `model '${m.name.text}'`));
        if (fed.has(c)) p.fail(o.start, `INPUT column '${c}' of model '${m.name.text}' feeds two tensors`);
        fed.add(c);
        return feature(i, `inputs.${tensor}[${j}]`);
      });
    }
    const unfed = m.input.find((c) => !fed.has(c.name.text));
    if (unfed !== undefined)
      p.fail(
        unfed.name.start,
        `INPUT column '${unfed.name.text}' of model '${m.name.text}' feeds no tensor: list it in an 'inputs.<tensor>' option`,
      );
    config.inputs = inputs;
    return config;
  }

  /** The kind of feature an INPUT column is when its model's options do not say. */
  #defaultKind(m: CreateModel, c: ModelColumn): string {
    if (NUMERIC.test(c.type)) return 'numeric';
    if (TEXT.test(c.type)) return 'one_hot';
    return this.#p.fail(
      c.name.start,
      `say what kind of feature INPUT column '${c.name.text}' (${c.type}) of model '${m.name.text}' is: 'features.${c.name.text}' = 'numeric', 'one_hot', 'hashed' or 'text' (numeric types are numeric, STRING one_hot by default)`,
    );
  }

  /** The `output` and `score` options an OUTPUT clause names (online models). */
  #outputOptions(m: CreateModel, stepType: ModelStep, options: readonly TableOption[]): TableOption[] {
    const p = this.#p;
    const output = m.output ?? [];
    if (stepType === 'score')
      p.fail(
        output[0]?.name.start ?? m.start,
        `an ONNX model's output columns are named by its options, 'outputs.<tensor>' = '<column>': remove OUTPUT (…)`,
      );
    if (output.length > 2)
      p.fail(
        output[2].name.start,
        `an online model adds two columns, the prediction and its score: OUTPUT (prediction <type>, score DOUBLE)`,
      );
    const named = (['output', 'score'] as const).slice(0, output.length);
    return named.map((option, i) => {
      const twice = options.find((o) => o.key === option);
      if (twice !== undefined)
        p.fail(twice.start, `model '${m.name.text}' names its ${option} column in OUTPUT (…) already`);
      return { key: option, value: output[i].name.text, start: output[i].name.start };
    });
  }
}
