/**
 * A small run of the push benchmark (`bench/push.ts`), so that it keeps working: a served
 * pipeline, subscribers in a second process over SSE and WebSocket, and every subscriber
 * receiving every change (the figures themselves are not checked: they belong in
 * docs/benchmarks.md, not in assertions).
 */

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';

interface ProtocolFigures {
  received: number[];
  p50: number;
  p99: number;
  recordsPerCpuSecond: number;
}

test('push benchmark: every subscriber receives every change over SSE and WebSocket', async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      `${import.meta.dirname}/push.ts`,
      '--clients',
      '4',
      '--rate',
      '40',
      '--seconds',
      '1',
      '--runs',
      '1',
      '--json',
    ],
    { timeout: 300_000 },
  );
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
  assert.ok(line, stdout);
  const result = JSON.parse(line.slice(7)) as { records: number; sse: ProtocolFigures; ws: ProtocolFigures };
  assert.equal(result.records, 40);
  for (const p of [result.sse, result.ws]) {
    assert.deepEqual(p.received, [4 * 40], stdout);
    assert.ok(Number.isFinite(p.p50) && Number.isFinite(p.p99) && p.recordsPerCpuSecond > 0, stdout);
  }
});
