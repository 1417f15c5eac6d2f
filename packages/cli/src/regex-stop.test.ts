/**
 * `sluice run` busy with regular expressions from the records — a nested quantifier over long
 * strings, which would backtrack for ages in V8's engine — still stops on SIGTERM: each match is
 * linear in its input (RE2), so the read loop reaches the signal between batches, drains and
 * takes a final checkpoint that covers exactly what was written.
 */

import assert from 'node:assert/strict';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { DirectoryCheckpointStore } from '@sluice/core';
import { Cli, checkpointIds, readJsonLines, tempDir, waitUntil } from './cli-test-support.ts';

const LINES = 2000;
const LENGTH = 10_000;

const pipeline = `
name: regex-stop
settings:
  batch_size: 20
  checkpoint: { interval: 300ms, dir: ./.sluice }
sources:
  in: { type: file, path: ./in.jsonl, format: json }
steps:
  - id: replaced
    type: map
    fields: { n: "length(regexp_replace(s, p, 'Z'))", hit: "regexp_like(s, '(a|aa)+c')" }
    drop: [s, p]
sinks:
  out: { type: file, path: ./out/out.jsonl }
`;

test('SIGTERM during heavy regex work ends the job with a final checkpoint', async (t) => {
  const dir = await tempDir(t, 'sluice-regex-');
  const s = `${'a'.repeat(LENGTH)}b`;
  const lines: string[] = [];
  for (let i = 0; i < LINES; i++) lines.push(JSON.stringify({ id: i, s, p: '(a+)+$' }));
  await writeFile(join(dir, 'in.jsonl'), `${lines.join('\n')}\n`);
  await writeFile(join(dir, 'pipeline.yaml'), pipeline);
  const store = join(dir, '.sluice/regex-stop');

  const cli = new Cli(['run', 'pipeline.yaml'], { cwd: dir, limitMs: 120_000 });
  await waitUntil(async () => (await checkpointIds(store)).length >= 2, 60_000, 'two checkpoints', cli);
  cli.kill('SIGTERM');
  const ended = await cli.exited;
  assert.equal(ended.code, 0, `exit code after SIGTERM\n${ended.stderr}`);
  assert.match(ended.stderr, /"msg":"pipeline stopped"/);

  const latest = await new DirectoryCheckpointStore(store).latest();
  assert.ok(latest, 'a final checkpoint exists');
  const position = latest.data.sources.in[join(dir, 'in.jsonl')] as { offset: number };
  const size = (await stat(join(dir, 'in.jsonl'))).size;
  assert.ok(position.offset < size, 'stopped before the end of the input');
  let read = 0;
  for (let offset = 0; offset < position.offset; read++) offset += Buffer.byteLength(lines[read]) + 1;
  const out = readJsonLines<{ id: number; n: number; hit: boolean }>(join(dir, 'out/out.jsonl'));
  assert.ok(out.length > 0, 'records were written');
  assert.equal(out.length, read, 'the final checkpoint covers exactly the records written');
  assert.deepEqual(
    out.map((r) => [r.id, r.n, r.hit]),
    out.map((_, i) => [i, LENGTH + 1, false]),
  );
});
