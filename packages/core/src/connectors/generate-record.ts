/**
 * Record `i` of a generator: template values, event time and injected faults, all a pure
 * function of (settings, seed, i).
 */

import { Value } from 'typebox/value';
import type { Row } from '../record.ts';
import {
  type GenerateConfig,
  type GeneratorSettings,
  generateConfig,
  generatorSettings,
} from './generate-config.ts';
import { Rng } from './generate-rng.ts';
import { type RecordBuilder, type TemplateName, templates } from './templates.ts';

/**
 * Produces records by index. Reuse one instance for many records: it prepares the template's
 * tables once and allocates nothing per record but the record itself.
 *
 * Each record first draws one number that decides its fault (malformed, late, out of order or
 * none, in that order of the configured fractions), then the template draws its values, so the
 * values of a record do not depend on the fault fractions.
 */
export class RecordGenerator {
  /** Event time (epoch ms) of the record last returned by `record`. */
  time = 0;
  readonly #rng: Rng;
  readonly #build: RecordBuilder;
  readonly #corrupt: (record: Row, rng: Rng) => Row;
  readonly #start: number;
  readonly #step: number;
  readonly #malformedBelow: number;
  readonly #lateBelow: number;
  readonly #faultsBelow: number;
  readonly #lateBy: number;
  readonly #outOfOrder: number;
  readonly #jitterSpan: number;

  constructor(settings: GeneratorSettings) {
    const template = templates[settings.template];
    this.#rng = new Rng(settings.seed);
    this.#build = template.prepare(settings.keys);
    this.#corrupt = template.corrupt;
    this.#start = settings.startTime;
    this.#step = settings.timeStep;
    this.#malformedBelow = settings.malformed;
    this.#lateBelow = settings.malformed + settings.late;
    this.#faultsBelow = this.#lateBelow + settings.outOfOrder;
    this.#lateBy = settings.lateBy;
    this.#outOfOrder = settings.outOfOrder;
    this.#jitterSpan = settings.jitter + 1;
  }

  /** Record number `index` (0-based); its event time is left in `time`. */
  record(index: number): Row {
    const rng = this.#rng;
    rng.reset(index);
    const fault = rng.float();
    let ts = this.#start + index * this.#step;
    let malformed = false;
    if (fault < this.#faultsBelow) {
      if (fault < this.#malformedBelow) malformed = true;
      else if (fault < this.#lateBelow) ts -= this.#lateBy;
      else ts -= Math.floor(((fault - this.#lateBelow) / this.#outOfOrder) * this.#jitterSpan);
    }
    this.time = ts;
    const record = this.#build(index, ts, rng);
    return malformed ? this.#corrupt(record, rng) : record;
  }
}

/** Options of `generateRecord`: the per-record options of the `generate` source, same names. */
export type GenerateRecordOptions = Partial<
  Pick<
    GenerateConfig,
    'start_time' | 'time_step' | 'keys' | 'malformed' | 'late' | 'late_by' | 'out_of_order' | 'jitter'
  >
>;

let cachedKey = '';
let cachedGenerator: RecordGenerator | undefined;

/**
 * Record number `index` of a `generate` source with this template, seed and options — exactly
 * the record the source produces at that index. Unset options take the source's defaults.
 * Throws CONFIG_INVALID on invalid options. Meant for tests and benchmarks; the generator of the
 * last options used is kept, so calling it in a loop is cheap.
 */
export function generateRecord(
  template: TemplateName,
  seed: number,
  index: number,
  options: GenerateRecordOptions = {},
): Row {
  const key = JSON.stringify([template, seed, options]);
  if (key !== cachedKey || !cachedGenerator) {
    const config = Value.Default(generateConfig, { ...options, template, seed }) as GenerateConfig;
    cachedGenerator = new RecordGenerator(generatorSettings(config));
    cachedKey = key;
  }
  return cachedGenerator.record(index);
}
