/** The `file` lookup: JSON Lines and CSV tables, composite keys, reloads, and load errors. */

import assert from 'node:assert/strict';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { silentLogger } from '../connector.ts';
import type { Lookup } from '../lookup.ts';
import { validateConfig } from '../plan/config.ts';
import { tempDir } from '../runtime/engine-test-support.ts';
import { systemClock } from '../time.ts';
import { fileLookup } from './file-lookup.ts';

const cleanups: (() => Promise<void>)[] = [];
const opened: Lookup[] = [];
afterEach(async () => {
  for (const l of opened.splice(0)) await l.close?.();
  for (const c of cleanups.splice(0)) await c();
});

async function dir(): Promise<string> {
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  return dir;
}

async function open(baseDir: string, options: object, keyLength = 1): Promise<Lookup> {
  const cfg = validateConfig<Parameters<typeof fileLookup.create>[0]>(fileLookup.config, options);
  if (!cfg.ok) throw new Error(JSON.stringify(cfg.issues));
  const lookup = fileLookup.create(cfg.value, { keyLength });
  opened.push(lookup);
  await lookup.open?.({
    id: 'enrich',
    clock: systemClock,
    baseDir,
    log: silentLogger,
    signal: new AbortController().signal,
  });
  return lookup;
}

test('a JSON Lines table answers rows by key, null for a miss; the last row of a key wins', async () => {
  const d = await dir();
  await writeFile(
    join(d, 't.jsonl'),
    '{"id":1,"name":"one"}\n{"id":2,"name":"two"}\n{"id":1,"name":"uno"}\n',
  );
  const lookup = await open(d, { path: 't.jsonl', key: 'id' });
  assert.deepEqual(await lookup.get([[1], [2], [3], ['1']], new AbortController().signal), [
    { id: 1, name: 'uno' },
    { id: 2, name: 'two' },
    null,
    null,
  ]);
});

test('a CSV table with a composite key', async () => {
  const d = await dir();
  await writeFile(join(d, 't.csv'), 'region;id;rate\neu;7;0.2\nus;7;0.1\n');
  const lookup = await open(d, { path: 't.csv', format: 'csv', delimiter: ';', key: ['region', 'id'] }, 2);
  assert.deepEqual(
    await lookup.get(
      [
        ['us', 7],
        ['eu', 7],
        ['eu', 8],
      ],
      new AbortController().signal,
    ),
    [{ region: 'us', id: 7, rate: 0.1 }, { region: 'eu', id: 7, rate: 0.2 }, null],
  );
});

test('a changed file is loaded again; one that does not load leaves the old rows', async () => {
  const d = await dir();
  const file = join(d, 't.jsonl');
  await writeFile(file, '{"id":1,"v":"old"}\n');
  const lookup = await open(d, { path: 't.jsonl', key: 'id', reload_interval: '20ms' });
  const signal = new AbortController().signal;
  await writeFile(join(d, 'next'), '{"id":1,"v":"new"}\n{"id":2,"v":"added"}\n');
  await rename(join(d, 'next'), file);
  let rows = await lookup.get([[1], [2]], signal);
  const deadline = Date.now() + 3_000;
  while ((rows[0] as { v?: string } | null)?.v !== 'new' && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
    rows = await lookup.get([[1], [2]], signal);
  }
  assert.deepEqual(rows, [
    { id: 1, v: 'new' },
    { id: 2, v: 'added' },
  ]);
  // Renamed over, as the docs advise: a file rewritten in place can be read while it is empty.
  await writeFile(join(d, 'next'), '{"id":1,"v":"broken"\n');
  await rename(join(d, 'next'), file);
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(await lookup.get([[1]], signal), [{ id: 1, v: 'new' }]);
});

test('a missing file, a bad row, a row without its key and a key of the wrong length are refused', async () => {
  const d = await dir();
  await assert.rejects(
    open(d, { path: 'nope.jsonl', key: 'id' }),
    /PATH_UNUSABLE|cannot read the lookup table/,
  );
  await writeFile(join(d, 'bad.jsonl'), '{"id":1}\nnot json\n');
  await assert.rejects(open(d, { path: 'bad.jsonl', key: 'id' }), /does not decode at byte 9/);
  await writeFile(join(d, 'nokey.jsonl'), '{"id":1}\n{"name":"x"}\n');
  await assert.rejects(open(d, { path: 'nokey.jsonl', key: 'id' }), /at byte 9 .* has no key field 'id'/);
  assert.throws(
    () =>
      fileLookup.create(
        {
          path: 'x',
          format: 'json',
          key: 'id',
          header: true,
          delimiter: ',',
          infer_types: true,
          reload_interval: '0s',
        },
        { keyLength: 2 },
      ),
    /keyed by 1 field\(s\) \(id\), but the step's key has 2 value\(s\)/,
  );
});
