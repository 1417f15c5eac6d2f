/**
 * Golden files for the operators: every case under `cases/<operator>/<case>/` runs through a real
 * `Job` with batch sizes 1, 7 and 1024, and once more crashed and restored from a checkpoint taken
 * mid-input; each run's main output (a changelog: kind, event time, record), late output, dead
 * letters and further outputs (side outputs, other steps) must equal the case's expected `.jsonl` files exactly (a part the case
 * lists under `multiset` is compared as a multiset: the engine defines no order there).
 *
 * Update mode: `GOLDEN_UPDATE=1 node --test packages/core/src/golden/golden.test.ts` (or `npm run
 * golden:update`) rewrites the expected files from the batch-size-1 run, then checks the other
 * runs against them. An update is a change of expected behaviour: review every changed line in
 * the diff against the documented semantics before committing it — the files are the spec, not
 * a snapshot of whatever the engine did. Cases skipped for a reported defect keep their documented
 * expectation and are never rewritten.
 */

import { afterEach, describe, test } from 'node:test';
import { Harness } from '../runtime/engine-test-support.ts';
import {
  assertOutput,
  caseNames,
  type GoldenCase,
  loadCase,
  RUNS,
  type RunOutput,
  readExpected,
  runCase,
  writeExpected,
} from './golden-test-case.ts';

const UPDATE = process.env.GOLDEN_UPDATE === '1';
const h = new Harness();
afterEach(() => h.stopAll());

const cases: GoldenCase[] = await Promise.all((await caseNames()).map(loadCase));

for (const c of cases) {
  describe(`${c.name}: ${c.shows}`, () => {
    let expected: RunOutput | undefined;
    const whole = c.skip.get('all');
    for (const run of RUNS) {
      const skip = whole ?? c.skip.get(run);
      test(run, { skip: skip === undefined ? false : `defect: ${skip}` }, async () => {
        const actual = await runCase(h, c, run);
        if (UPDATE && run === 'batch 1') await writeExpected(c, actual);
        expected ??= await readExpected(c);
        assertOutput(c, run, actual, expected);
      });
    }
  });
}
