/**
 * Feature specs: declared once, shared by training and prediction. A spec turns a record into a
 * dense `Float64Array` of a fixed width: numeric fields (optionally standardized online with
 * Welford's running mean and variance), one-hot categories over a bounded vocabulary, and
 * categories or text tokens hashed into a fixed number of buckets. Missing values are handled as
 * each feature declares, never guessed.
 *
 * The learned parts (running moments, vocabularies) are plain data (`FeatureState`), kept with
 * the model in checkpoints and exports.
 */

import Type from 'typebox';

const KINDS = ['numeric', 'one_hot', 'hashed', 'text'] as const;

/**
 * One feature of a spec, as a pipeline declares it: one object with every kind's options rather
 * than a union of four, so that a misspelt key gets the validator's "did you mean" (a union only
 * says that no variant matched). The spec checks that exactly one kind is named and that each
 * option fits it (`FeatureSpec`, `featureProblem`). Defaults differ by kind, so the schema gives
 * none: the descriptions state them and `resolve` applies them.
 */
export const featureSchema = Type.Object(
  {
    numeric: Type.Optional(
      Type.String({ description: 'A numeric feature: the field holding a number.', examples: ['amount'] }),
    ),
    one_hot: Type.Optional(
      Type.String({
        description:
          'A one-hot feature: the field holding a category (text, number or boolean); a column per category, up to `max_categories`, then `other`.',
      }),
    ),
    hashed: Type.Optional(
      Type.String({ description: 'A hashed categorical feature: the field, hashed into `buckets` columns.' }),
    ),
    text: Type.Optional(
      Type.String({
        description:
          'A text feature: the field holding text, lower-cased and split into tokens of letters and digits, each token counted in its hashed column (of `buckets`).',
      }),
    ),
    standardize: Type.Optional(
      Type.Boolean({
        description:
          '`numeric` only: subtract the running mean and divide by the running standard deviation (Welford). Default true.',
      }),
    ),
    max_categories: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 10_000,
        description:
          '`one_hot` only: vocabulary size — the first categories seen while learning get a column each; later ones share the `other` column. Default 32.',
      }),
    ),
    buckets: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 1 << 20,
        description: '`hashed` and `text`: number of columns. Default 64 (`hashed`), 256 (`text`).',
      }),
    ),
    missing: Type.Optional(
      Type.Union(
        [Type.Literal('dead_letter'), Type.Literal('zero'), Type.Literal('mean'), Type.Literal('indicator')],
        {
          description:
            'What a missing (absent or null; empty text for categories) value does. `numeric`: `dead_letter` (the record goes to the dead-letter output; default), `zero`, or `mean` (the running mean: 0 once standardized). Categories and text: `dead_letter`, or `indicator` (a column of its own; default). A value present but of the wrong type always goes to the dead-letter output.',
        },
      ),
    ),
  },
  { additionalProperties: false },
);

export const featuresSchema = Type.Array(featureSchema, {
  minItems: 1,
  description:
    'The features, in column order, each `{ numeric | one_hot | hashed | text: <field>, …options }`: the same spec is used to learn and to predict.',
  examples: [[{ numeric: 'amount' }, { one_hot: 'country', max_categories: 16 }, { text: 'merchant' }]],
});

/** Options each kind takes besides its field. */
const OPTIONS: { readonly [K in (typeof KINDS)[number]]: readonly string[] } = {
  numeric: ['standardize', 'missing'],
  one_hot: ['max_categories', 'missing'],
  hashed: ['buckets', 'missing'],
  text: ['buckets', 'missing'],
};

/**
 * What is wrong with a feature's config, as `[option, message]`, or undefined: it must name
 * exactly one kind, and take only that kind's options and missing-value policies.
 */
export function featureProblem(config: { [option: string]: unknown }): [string, string] | undefined {
  const kinds = KINDS.filter((k) => config[k] !== undefined);
  if (kinds.length !== 1)
    return [
      '',
      kinds.length === 0
        ? `a feature names its kind and field: one of ${KINDS.map((k) => `'${k}: <field>'`).join(', ')}`
        : `a feature has one kind; this one names ${kinds.map((k) => `'${k}'`).join(' and ')}`,
    ];
  const kind = kinds[0];
  for (const option of Object.keys(config))
    if (option !== kind && !OPTIONS[kind].includes(option))
      return [
        option,
        `'${option}' is not an option of a ${kind} feature (it takes ${OPTIONS[kind].join(', ')})`,
      ];
  const missing = config.missing;
  if (kind === 'numeric' ? missing === 'indicator' : missing === 'zero' || missing === 'mean')
    return [
      'missing',
      `missing: ${String(missing)} does not apply to a ${kind} feature (it takes ${kind === 'numeric' ? 'dead_letter, zero, mean' : 'dead_letter, indicator'})`,
    ];
  return undefined;
}

/** One feature as declared (options left out take their defaults). */
export type FeatureConfig =
  | { numeric: string; standardize?: boolean; missing?: 'dead_letter' | 'zero' | 'mean' }
  | { one_hot: string; max_categories?: number; missing?: 'dead_letter' | 'indicator' }
  | { hashed: string; buckets?: number; missing?: 'dead_letter' | 'indicator' }
  | { text: string; buckets?: number; missing?: 'dead_letter' | 'indicator' };

/** A feature config with every default applied (as config validation leaves it). */
export type ResolvedFeature = Resolved;
type Resolved =
  | { kind: 'numeric'; field: string; standardize: boolean; missing: 'dead_letter' | 'zero' | 'mean' }
  | { kind: 'one_hot'; field: string; max: number; missing: 'dead_letter' | 'indicator' }
  | { kind: 'hashed'; field: string; buckets: number; missing: 'dead_letter' | 'indicator' }
  | { kind: 'text'; field: string; buckets: number; missing: 'dead_letter' | 'indicator' };

/** The learned part of a feature spec: plain data, one entry per feature. */
export interface FeatureState {
  /** Per feature: running moments of a numeric feature, the vocabulary of a one-hot one, or null. */
  features: (NumericMoments | string[] | null)[];
}

/** Welford's running count, mean and sum of squared deviations. */
export interface NumericMoments {
  n: number;
  mean: number;
  m2: number;
}

/** Why a record could not be turned into features (for the dead-letter output). */
export class FeatureError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.field = field;
  }
}

/**
 * 32-bit FNV-1a over the UTF-16 code units of `text`: stable across runs, processes and
 * platforms (what feature hashing needs; no seed, no `Math.random`).
 */
export function stableHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // Final avalanche (MurmurHash3's fmix32) so that low bits depend on every character.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const TOKEN = /[\p{L}\p{N}]+/gu;

/** The tokens of a text feature: lower-cased runs of letters and digits. */
export function tokens(text: string): string[] {
  return text.toLowerCase().match(TOKEN) ?? [];
}

function resolve(config: FeatureConfig): Resolved {
  const c = config as { [k: string]: unknown };
  const problem = featureProblem(c);
  if (problem !== undefined) throw new Error(problem[1]);
  if (typeof c.numeric === 'string')
    return {
      kind: 'numeric',
      field: c.numeric,
      standardize: c.standardize !== false,
      missing: (c.missing as 'dead_letter' | 'zero' | 'mean' | undefined) ?? 'dead_letter',
    };
  const missing = (c.missing as 'dead_letter' | 'indicator' | undefined) ?? 'indicator';
  if (typeof c.one_hot === 'string')
    return {
      kind: 'one_hot',
      field: c.one_hot,
      max: (c.max_categories as number | undefined) ?? 32,
      missing,
    };
  if (typeof c.hashed === 'string')
    return { kind: 'hashed', field: c.hashed, buckets: (c.buckets as number | undefined) ?? 64, missing };
  if (typeof c.text === 'string')
    return { kind: 'text', field: c.text, buckets: (c.buckets as number | undefined) ?? 256, missing };
  throw new Error(`a feature names none of numeric, one_hot, hashed, text: ${JSON.stringify(config)}`);
}

/** A column count per feature: a one-hot feature has `max` + `other` (+ `missing` with indicator). */
function widthOf(f: Resolved): number {
  switch (f.kind) {
    case 'numeric':
      return 1;
    case 'one_hot':
      return f.max + 1 + (f.missing === 'indicator' ? 1 : 0);
    case 'hashed':
    case 'text':
      return f.buckets + (f.missing === 'indicator' ? 1 : 0);
  }
}

function isMissing(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

function categoryText(field: string, value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  throw new FeatureError(field, `feature field '${field}' holds ${JSON.stringify(value)}, not a category`);
}

/**
 * A compiled feature spec: `encode` writes a record's features into a vector of `width` columns.
 * Pure over (record, state): the same record and state give the same vector.
 */
export class FeatureSpec {
  readonly #features: readonly Resolved[];
  readonly #offsets: readonly number[];
  /** Number of columns. */
  readonly width: number;

  constructor(configs: readonly FeatureConfig[]) {
    this.#features = configs.map(resolve);
    const offsets: number[] = [];
    let width = 0;
    for (const f of this.#features) {
      offsets.push(width);
      width += widthOf(f);
    }
    this.#offsets = offsets;
    this.width = width;
  }

  /** The features with their defaults applied, in order (for exports). */
  get features(): readonly ResolvedFeature[] {
    return this.#features;
  }

  /** The fields the spec reads, in order. */
  get fields(): string[] {
    return this.#features.map((f) => f.field);
  }

  /** A column name per column, for exports and model summaries. */
  columnNames(state: FeatureState): string[] {
    const names: string[] = [];
    this.#features.forEach((f, k) => {
      if (f.kind === 'numeric') names.push(f.field);
      else if (f.kind === 'one_hot') {
        const vocab = state.features[k] as string[];
        for (let i = 0; i < f.max; i++)
          names.push(i < vocab.length ? `${f.field}=${vocab[i]}` : `${f.field}#${i}`);
        names.push(`${f.field}=<other>`);
        if (f.missing === 'indicator') names.push(`${f.field}=<missing>`);
      } else {
        for (let i = 0; i < f.buckets; i++) names.push(`${f.field}#${i}`);
        if (f.missing === 'indicator') names.push(`${f.field}=<missing>`);
      }
    });
    return names;
  }

  /** The state of a spec that has learned nothing. */
  initialState(): FeatureState {
    return {
      features: this.#features.map((f) =>
        f.kind === 'numeric' ? { n: 0, mean: 0, m2: 0 } : f.kind === 'one_hot' ? [] : null,
      ),
    };
  }

  /** Whether `value` is a state of this spec (a checkpoint's or a model file's). */
  isState(value: unknown): value is FeatureState {
    if (typeof value !== 'object' || value === null) return false;
    const features = (value as FeatureState).features;
    if (!Array.isArray(features) || features.length !== this.#features.length) return false;
    return this.#features.every((f, k) => {
      const s = features[k];
      if (f.kind === 'numeric')
        return typeof s === 'object' && s !== null && !Array.isArray(s) && typeof s.n === 'number';
      if (f.kind === 'one_hot') return Array.isArray(s) && s.length <= f.max;
      return s === null;
    });
  }

  /**
   * Writes the features of `record` into `out` (length `width`, overwritten). With `learn`, first
   * folds the record's values into `state` (running moments, vocabulary), so that a record is
   * standardized with moments that include it — the same whether it is then learned from or
   * only scored. Throws a {@link FeatureError} (and changes nothing) for a value the spec
   * refuses.
   */
  encode(record: { [field: string]: unknown }, state: FeatureState, out: Float64Array, learn: boolean): void {
    const features = this.#features;
    // Check every value before changing any state, so a refused record leaves no trace.
    for (let k = 0; k < features.length; k++) {
      const f = features[k];
      const value = record[f.field];
      if (isMissing(value) && !(f.kind === 'numeric' && value === '')) {
        if (f.missing === 'dead_letter')
          throw new FeatureError(f.field, `feature field '${f.field}' is missing`);
        continue;
      }
      if (f.kind === 'numeric') {
        if (typeof value !== 'number' || !Number.isFinite(value))
          throw new FeatureError(
            f.field,
            `feature field '${f.field}' holds ${JSON.stringify(value)}, not a finite number`,
          );
      } else if (f.kind === 'text') {
        if (typeof value !== 'string')
          throw new FeatureError(
            f.field,
            `feature field '${f.field}' holds ${JSON.stringify(value)}, not text`,
          );
      } else categoryText(f.field, value);
    }
    out.fill(0);
    for (let k = 0; k < features.length; k++) {
      const f = features[k];
      const at = this.#offsets[k];
      const value = record[f.field];
      const missing = isMissing(value);
      switch (f.kind) {
        case 'numeric': {
          const m = state.features[k] as NumericMoments;
          if (missing) {
            out[at] = f.missing === 'mean' && !f.standardize ? m.mean : 0;
            break;
          }
          const x = value as number;
          if (learn) {
            m.n++;
            const d = x - m.mean;
            m.mean += d / m.n;
            m.m2 += d * (x - m.mean);
          }
          if (!f.standardize) out[at] = x;
          else {
            const sd = m.n > 1 ? Math.sqrt(m.m2 / (m.n - 1)) : 0;
            out[at] = sd > 0 ? (x - m.mean) / sd : 0;
          }
          break;
        }
        case 'one_hot': {
          if (missing) {
            out[at + f.max + 1] = 1;
            break;
          }
          const vocab = state.features[k] as string[];
          const text = categoryText(f.field, value);
          let index = vocab.indexOf(text);
          if (index < 0 && learn && vocab.length < f.max) {
            vocab.push(text);
            index = vocab.length - 1;
          }
          out[at + (index < 0 ? f.max : index)] = 1;
          break;
        }
        case 'hashed': {
          if (missing) {
            out[at + f.buckets] = 1;
            break;
          }
          out[at + (stableHash(categoryText(f.field, value)) % f.buckets)] = 1;
          break;
        }
        case 'text': {
          if (missing) {
            out[at + f.buckets] = 1;
            break;
          }
          for (const token of tokens(value as string)) out[at + (stableHash(token) % f.buckets)] += 1;
          break;
        }
      }
    }
  }
}
