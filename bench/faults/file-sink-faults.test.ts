/**
 * Runs the file-sink fault scenario small: whatever the fault (another sink failing the job,
 * one, two or every checkpoint corrupt), the published parts hold every input row exactly once.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import scenario from './file-sink-faults.fault.ts';

test('file sink under a failing sink and corrupt checkpoints: every row once', async (t) => {
  const figures = await scenario.run('small');
  assert.equal(figures.length, 4);
  for (const f of figures) {
    t.diagnostic(`${f.case}: ${JSON.stringify({ ...f, case: undefined })}`);
    assert.equal(f.acknowledged, f.produced, `${f.case}: every input row counts as acknowledged`);
    assert.equal(f.lost, 0, `${f.case}: lost`);
    assert.equal(f.duplicates, 0, `${f.case}: duplicates`);
    assert.equal(f.distinct, f.acknowledged, `${f.case}: distinct`);
    assert.equal(f.recoverySeconds.length, 1);
    if (/fell back/.test(f.note ?? ''))
      assert.match(f.note ?? '', /; [1-9]\d* part\(s\)/, `${f.case}: the fallback took back published parts`);
  }
});
