/**
 * The model file of a `predict` step: read (and checked against the step's features) when the
 * job opens, and with `watch: true` read again when it changes. A changed file is checked before
 * it is used: one that is not JSON, or not a model of these features, is refused with a warning
 * and the running model stays (writing the earlier file back is then no change at all). A model
 * that fits is swapped in when the next batch starts, so one engine batch is always predicted by
 * one model; its version is the first 12 hex digits of the file's SHA-256, as the `score` step's.
 */

import { createHash } from 'node:crypto';
import { type FSWatcher, readFileSync, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import { type Logger, SluiceError } from '@sluice/core';
import type { FeatureSpec } from './features.ts';
import { Learner, type LearnerJson } from './learner.ts';

/** A model read from the file, and the version of the bytes it was read from. */
export interface FileModel {
  learner: Learner;
  version: string;
}

export interface ModelFileOptions {
  stepId: string;
  /** The path as the pipeline writes it (for messages). */
  file: string;
  /** The path to read. */
  path: string;
  features: FeatureSpec;
}

/** The version of a model file: the first 12 hex digits of its SHA-256. */
export function fileVersion(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex').slice(0, 12);
}

export class ModelFile {
  readonly #o: ModelFileOptions;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** The version last read (taken or refused): a change event with the same bytes is no change. */
  #seen: string | undefined;
  #next: FileModel | undefined;
  #log: Logger | undefined;

  constructor(options: ModelFileOptions) {
    this.#o = options;
  }

  /** The model in `data`, or why it is not a model of the step's features. */
  #parse(data: Buffer): Learner | string {
    try {
      return Learner.fromJSON(JSON.parse(data.toString('utf8')) as LearnerJson, this.#o.features);
    } catch (err) {
      return (err as Error).message;
    }
  }

  /** Reads the file now; a file that is missing or not a model of these features fails the job. */
  load(): FileModel {
    const o = this.#o;
    let result: Learner | string;
    let version = '';
    try {
      const data = readFileSync(o.path);
      version = fileVersion(data);
      result = this.#parse(data);
    } catch (err) {
      result = (err as Error).message;
    }
    if (typeof result === 'string')
      throw new SluiceError(
        'CONFIG_INVALID',
        `model_file '${o.file}' is not a model of these features: ${result}`,
        {
          step: o.stepId,
          path: 'model_file',
        },
      );
    this.#seen = version;
    return { learner: result, version };
  }

  /** Starts watching the file's folder (editors and `mv` replace the file, which ends a watch on it). */
  watch(log: Logger | undefined): void {
    this.#log = log;
    const name = basename(this.#o.path);
    this.#watcher = watch(dirname(this.#o.path), (_event, changed) => {
      if (changed !== null && changed !== name) return;
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => this.#reload(), 20);
    });
  }

  #reload(): void {
    const o = this.#o;
    let data: Buffer;
    try {
      data = readFileSync(o.path);
    } catch (err) {
      // Removed or mid-rename: the next change event tries again.
      this.#log?.warn('model file unreadable; the running model stays', {
        step: o.stepId,
        model: o.file,
        error: (err as Error).message,
      });
      return;
    }
    const version = fileVersion(data);
    if (version === this.#seen) return;
    this.#seen = version;
    const result = this.#parse(data);
    if (typeof result === 'string') {
      this.#log?.warn(`changed model file refused, the running model stays: ${result}`, {
        step: o.stepId,
        model: o.file,
        version,
      });
      return;
    }
    this.#next = { learner: result, version };
    this.#log?.info('model file changed; swapping it in at the next batch', {
      step: o.stepId,
      model: o.file,
      version,
    });
  }

  /** The model that changed since the last call, if any. */
  take(): FileModel | undefined {
    const next = this.#next;
    this.#next = undefined;
    return next;
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#watcher?.close();
    this.#watcher = undefined;
  }
}
