/**
 * The live status line: log lines written while it shows never end up on the same line.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createLogger, type JobMetrics } from '@sluice/core';
import { waitUntil } from './cli-test-support.ts';
import { reportProgress, StatusLine } from './status.ts';

const metrics: JobMetrics = {
  recordsIn: 10,
  recordsOut: 4,
  deadLetters: 1,
  late: 0,
  filtered: 5,
  unread: 0,
  watermark: Number.NEGATIVE_INFINITY,
  lastCheckpointAt: undefined,
  lastCheckpointId: undefined,
  sources: {},
  steps: {},
  sinks: {},
  outputs: {},
  restarts: 0,
};

describe('the status line', () => {
  test('is cleared before a log line and drawn again after it', async () => {
    let out = '';
    const status = new StatusLine((s) => {
      out += s;
    });
    const log = createLogger({ format: 'text', write: (line) => status.print(line) });
    const progress = reportProgress(() => metrics, { status, log, everyMs: 5 });
    try {
      await waitUntil(() => out.includes('total 10'), 5000, 'the status line');
      const before = out.length;
      log.warn('dead letter', { step: 'm' });
      const shown = out.slice(0, before).split('\r\x1b[2K').at(-1);
      assert.ok(shown?.startsWith(' in '), `the status line shows: ${JSON.stringify(shown)}`);
      assert.equal(out.slice(before), `\r\x1b[2Kwarn  dead letter step=m\n${shown}`);
    } finally {
      progress.stop();
    }
    assert.ok(out.endsWith('\r\x1b[2K'), 'stop() clears the status line');
    out = '';
    log.info('after');
    assert.equal(out, 'info  after\n', 'with no status line a log line is written as it is');
  });
});
