/**
 * A scratch folder for one benchmark process (its jobs' checkpoints), removed when the process
 * exits. Per process, so that benchmarks run side by side do not share a checkpoint folder —
 * which the checkpoint lock refuses.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SCRATCH_DIR = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
process.on('exit', () => rmSync(SCRATCH_DIR, { recursive: true, force: true }));
