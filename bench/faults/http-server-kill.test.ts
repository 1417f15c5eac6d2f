import assert from 'node:assert/strict';
import { test } from 'node:test';
import scenario from './http-server-kill.fault.ts';

test('http_server loses no acknowledged record to kill -9 or a stop under load (wal and checkpoint)', async (t) => {
  const figures = await scenario.run('small');
  assert.equal(figures.length, 2);
  for (const f of figures) {
    t.diagnostic(`${f.case}: ${JSON.stringify(f)}`);
    assert.ok(f.acknowledged > 0, `${f.case}: something was acknowledged`);
    assert.equal(f.lost, 0, `${f.case}: every acknowledged record is in the output`);
    assert.equal(f.distinct, f.acknowledged);
    assert.ok(f.produced >= f.acknowledged);
    assert.equal(f.recoverySeconds.length, 2);
    for (const s of f.recoverySeconds)
      assert.ok(Number.isFinite(s), `${f.case}: records flowed after each restart`);
  }
});
