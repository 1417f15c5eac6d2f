/**
 * The `kafka-restart` fault scenario at its small size: kafka → kafka killed with SIGKILL three
 * times under load loses no acknowledged record, and records flow again after every restart.
 * The recovery seconds are reported (docs/reliability.md), not asserted.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kafkaAvailable } from '@sluice/kafka/testing';
import scenario from './kafka-restart.fault.ts';

const available = await kafkaAvailable();

test('kafka → kafka under kill -9: nothing acknowledged is lost, records flow after each restart', {
  skip: !available,
}, async (t) => {
  const [figures] = await scenario.run('small');
  t.diagnostic(JSON.stringify(figures));
  assert.ok(figures.produced > 0);
  assert.equal(figures.acknowledged, figures.produced, 'the broker acknowledged every record offered');
  assert.equal(figures.lost, 0, 'no acknowledged record missing from the output');
  assert.equal(figures.distinct, figures.acknowledged);
  assert.equal(figures.recoverySeconds.length, 3, 'three restarts');
  for (const s of figures.recoverySeconds)
    assert.ok(Number.isFinite(s) && s >= 0, `records flowed again (${s})`);
});
