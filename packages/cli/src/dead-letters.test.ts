/**
 * `sluice run` and dead letters: a run in which every record became one warns; `--max-dead-letters`
 * makes such a run fail with exit 3 — at once for a count (even on an endless source), at the end
 * for a percentage.
 */

import assert from 'node:assert/strict';
import { symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it, test } from 'node:test';
import { checkpointIds, repoRoot, runCli, tempDir } from './cli-test-support.ts';
import { limitCrossed, parseDeadLetterLimit } from './dead-letters.ts';

/** Ten records, ids 0–9; `bad` of them lack `amount`. */
function input(bad: number): string {
  return Array.from({ length: 10 }, (_, i) =>
    JSON.stringify(i < bad ? { id: i, ts: i } : { id: i, ts: i, amount: i }),
  ).join('\n');
}

const yamlPipeline = `name: dl
settings: { checkpoint: { dir: ./.sluice } }
sources:
  in: { type: file, path: ./in.jsonl, event_time: { field: ts } }
steps:
  - id: doubled
    type: map
    fields: { twice: amount * 2 }
sinks:
  out: { type: file, path: ./out/results.jsonl }
dead_letter: { type: file, path: ./out/dead.jsonl }
`;

async function folder(t: Parameters<typeof tempDir>[0], bad: number): Promise<string> {
  const dir = await tempDir(t, 'sluice-dead-letters-');
  await writeFile(join(dir, 'pipeline.yaml'), yamlPipeline);
  await writeFile(join(dir, 'in.jsonl'), input(bad));
  return dir;
}

describe('sluice run and dead letters', { concurrency: 2 }, () => {
  it('a TypeScript pipeline with a misspelt field: every record dead, a warning, exit 0', async (t) => {
    const dir = await tempDir(t, 'sluice-dead-letters-');
    await symlink(join(repoRoot, 'node_modules'), join(dir, 'node_modules'), 'dir');
    await writeFile(join(dir, 'in.jsonl'), input(0));
    await writeFile(
      join(dir, 'pipeline.ts'),
      `import { file, fileSink, pipeline } from '@sluice/core';

export default pipeline('typo', { checkpoint: { dir: './.sluice' } })
  .from('in', file<{ id: number; amount: number }>({ path: './in.jsonl', eventTime: { field: 'ts' } }))
  // @ts-ignore: the misspelt field a type check would catch
  .map('doubled', (r) => ({ id: r.id, twice: r.amout.toFixed(2) }))
  .to('out', fileSink({ path: './out/results.jsonl' }));
`,
    );
    const r = await runCli(['run', 'pipeline.ts'], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /"level":"warn","msg":"every record read \(10\) became a dead letter and nothing reached a sink — by step: step 'doubled' 10\. .*`sluice validate pipeline\.ts` type-checks it\. Add --max-dead-letters 0 to make such a run fail\."/,
    );
  });

  it('--max-dead-letters 0 fails a run with a dead letter: exit 3, the reason and the steps', async (t) => {
    const dir = await folder(t, 1);
    const r = await runCli(['run', '--max-dead-letters', '0', 'pipeline.yaml'], dir);
    assert.equal(r.code, 3, r.stderr);
    assert.match(
      r.stderr,
      /sluice: pipeline\.yaml: 1 dead letter\(s\) \(10\.0% of 10 read\) exceed --max-dead-letters 0.* — by step: step 'doubled' 1\. .*\(DEAD_LETTER_LIMIT\)\n/,
    );
  });

  it('a percentage is checked at the end: 30% of 10 passes at 30%, fails at 20%', async (t) => {
    const dir = await folder(t, 3);
    const within = await runCli(['run', '--max-dead-letters', '30%', 'pipeline.yaml'], dir);
    assert.equal(within.code, 0, within.stderr);
    assert.doesNotMatch(within.stderr, /every record/);
    const over = await runCli(['run', '--from-scratch', '--max-dead-letters', '20%', 'pipeline.yaml'], dir);
    assert.equal(over.code, 3, over.stderr);
    assert.match(
      over.stderr,
      /3 dead letter\(s\) \(30\.0% of 10 read\) exceed --max-dead-letters 20% of the records read/,
    );
  });

  it('a count fails an endless run at once, without a final checkpoint', async (t) => {
    const dir = await tempDir(t, 'sluice-dead-letters-');
    await writeFile(
      join(dir, 'pipeline.yaml'),
      `name: endless
settings: { checkpoint: { interval: 1h, dir: ./.sluice } }
sources:
  orders: { type: generate, template: orders, rate: 500, seed: 1, event_time: { field: ts } }
steps:
  - { id: typo, type: map, fields: { x: amout * 2 } }
sinks:
  out: { type: file, path: ./out/x.jsonl }
`,
    );
    const r = await runCli(['run', '--max-dead-letters', '5', 'pipeline.yaml'], dir);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /exceed --max-dead-letters 5; the run was failed without a final checkpoint/);
    assert.match(r.stderr, /by step: step 'typo' \d+/);
    assert.doesNotMatch(r.stderr, /"msg":"pipeline (stopped|completed)"/);
    assert.deepEqual(await checkpointIds(join(dir, '.sluice/endless')), [], 'no checkpoint was taken');
  });

  it('a limit that is no count or percentage is a usage error', async (t) => {
    const r = await runCli(['run', '--max-dead-letters', 'many', 'pipeline.yaml'], await folder(t, 0));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--max-dead-letters must be a count .* or a percentage .*, got 'many'/);
  });
});

test('limits: counts are watched while running, percentages judged at the end', () => {
  assert.deepEqual(parseDeadLetterLimit('0'), { count: 0 });
  assert.deepEqual(parseDeadLetterLimit('2.5%'), { percent: 2.5 });
  assert.equal(parseDeadLetterLimit('101%'), undefined);
  assert.equal(parseDeadLetterLimit('-1'), undefined);
  const m = {
    recordsIn: 4,
    recordsOut: 3,
    deadLetters: 1,
    late: 0,
    filtered: 0,
    unread: 0,
    watermark: 0,
    lastCheckpointAt: undefined,
    lastCheckpointId: undefined,
    sources: {},
    steps: { s: { in: 4, out: 3, filtered: 0, dead: 1, late: 0, results: 0, side: 0, unread: 0 } },
    sinks: {},
    outputs: {},
    restarts: 0,
  };
  assert.equal(limitCrossed({ count: 1 }, m, false), undefined);
  assert.equal(limitCrossed({ count: 0 }, m, false)?.code, 'DEAD_LETTER_LIMIT');
  assert.equal(limitCrossed({ percent: 10 }, m, false), undefined, 'not judged before the end');
  assert.equal(limitCrossed({ percent: 10 }, m, true)?.code, 'DEAD_LETTER_LIMIT');
  assert.equal(limitCrossed({ percent: 25 }, m, true), undefined, '25% is within 25%');
});
