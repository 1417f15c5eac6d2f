/**
 * A database file another process holds (DuckDB's one-writer lock) is a transient failure: the
 * sink retries opening it with backoff and writes once the other process lets go; with too few
 * attempts it fails with SINK_UNAVAILABLE, naming the lock.
 */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, test } from 'node:test';
import { type Logger, systemClock } from '@sluice/core';
import { Value } from 'typebox/value';
import { DuckdbSink } from './sink.ts';
import { type DuckdbSinkConfig, duckdbSinkConfig } from './sink-config.ts';
import { queryFile, TestFolder } from './test-support.ts';

const folder = new TestFolder();
after(() => folder.dispose());

/** Another process holding `path` open for writing for `ms`; resolves once it holds the lock. */
async function holdFile(path: string, ms: number) {
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { DuckDBInstance } from '@duckdb/node-api';
       const db = await DuckDBInstance.create(${JSON.stringify(path)});
       console.log('held');
       setTimeout(() => { db.closeSync(); process.exit(0); }, ${ms});`,
    ],
    { cwd: import.meta.dirname, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = once(child, 'exit');
  await once(child.stdout, 'data');
  return { child, exited };
}

function sinkOf(path: string, attempts: number): DuckdbSink {
  const options = {
    path,
    table: 't',
    create_table: true,
    columns: { id: 'INTEGER' },
    retry: { max_attempts: attempts, initial_backoff: '100ms', max_backoff: '500ms' },
  };
  return new DuckdbSink(Value.Default(duckdbSinkConfig, options) as DuckdbSinkConfig);
}

function context(warnings: string[]) {
  const log: Logger = {
    debug() {},
    info() {},
    warn(message, fields) {
      warnings.push(`${message} ${JSON.stringify(fields)}`);
    },
    error() {},
  };
  return {
    id: 'out',
    pipeline: 'lock-test',
    restored: undefined,
    clock: systemClock,
    baseDir: folder.dir,
    signal: new AbortController().signal,
    log,
  };
}

test('a file locked by another process is retried until it is free, then written', async () => {
  const path = folder.file();
  const holder = await holdFile(path, 1200);
  const warnings: string[] = [];
  const sink = sinkOf(path, 20);
  await sink.open(context(warnings));
  await sink.write({ records: [{ id: 1 }, { id: 2 }], times: [0, 0] });
  await sink.close();
  await holder.exited;
  assert.ok(
    warnings.some((w) => /retrying.*lock/i.test(w)),
    `retries were logged: ${warnings.join('\n')}`,
  );
  assert.deepEqual(await queryFile(path, 'SELECT id FROM t ORDER BY id'), [{ id: 1 }, { id: 2 }]);
});

test('a file still locked when the attempts are spent fails with SINK_UNAVAILABLE', async () => {
  const path = folder.file();
  const holder = await holdFile(path, 5000);
  try {
    await assert.rejects(sinkOf(path, 2).open(context([])), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'SINK_UNAVAILABLE');
      assert.match(err.message, /lock/i);
      return true;
    });
  } finally {
    holder.child.kill();
    await holder.exited;
  }
});
