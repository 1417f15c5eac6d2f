#!/usr/bin/env node
/**
 * `sluice`: run, validate and describe pipelines (the commands are in `program.ts`).
 *
 * Exit codes: 0 success (including a graceful stop on SIGINT/SIGTERM), 1 pipeline or runtime
 * error (explained in one paragraph on stderr), 2 usage error, 3 more dead letters than
 * `--max-dead-letters` allows, 4 (`sluice status`) a task of a scaled-out pipeline without a
 * live owner, 130 a second interrupt.
 */

import { CommanderError } from 'commander';
import { sluiceProgram } from './program.ts';

export type { RunOptionsRaw } from './program.ts';

try {
  await sluiceProgram().parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else {
    throw err;
  }
}
