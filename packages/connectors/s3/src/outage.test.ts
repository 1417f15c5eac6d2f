/**
 * The `s3` sink and source across an outage of S3Proxy as a client sees it (an `OutageProxy`
 * in front of the shared server drops connections and refuses new ones): requests are retried
 * with backoff and the output is as without the outage. Skipped with a reason when S3Proxy is
 * not reachable, a failure under CI=true.
 */

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { type Logger, type Row, silentLogger, systemClock, validateConfig } from '@sluice/core';
import { OutageProxy } from '@sluice/core/testing';
import { s3Source } from './source.ts';
import { type S3SourceConfig, s3SourceConfig } from './source-config.ts';
import { openS3Sink, S3_HOST, s3Available, serverOptions, TestBucket, uniqueBucket } from './test-support.ts';

const available = await s3Available();
const skip = available ? false : 's3proxy not reachable at 127.0.0.1:9000';

/** A logger that keeps the messages of its warnings. */
function warnings(): Logger & { seen: string[] } {
  const seen: string[] = [];
  return { ...silentLogger, seen, warn: (message: string) => void seen.push(message) };
}

const retryOptions = { max_attempts: 30, initial_backoff: '50ms', max_backoff: '200ms' };

describe('s3 outage', { skip }, () => {
  let bucket: TestBucket;
  let proxy: OutageProxy;
  before(async () => {
    bucket = await TestBucket.create('s3-outage');
    proxy = new OutageProxy(S3_HOST);
    await proxy.up();
  });
  after(async () => {
    await proxy?.down();
    await bucket?.dispose();
  });

  test('the sink retries through an outage and publishes every record once', async () => {
    const endpoint = `http://127.0.0.1:${proxy.port}`;
    const log = warnings();
    const sink = await openS3Sink(
      { bucket: bucket.name, prefix: 'sink/', endpoint, retry: retryOptions },
      { pipeline: uniqueBucket('p'), log },
    );
    const records: Row[] = Array.from({ length: 30 }, (_, i) => ({ id: i }));
    await sink.write({ records: records.slice(0, 10), times: records.slice(0, 10).map(() => 0) });
    await proxy.down();
    const writing = sink.write({ records: records.slice(10), times: records.slice(10).map(() => 0) });
    const preparing = writing.then(() => sink.prepareCommit?.(1));
    await delay(500);
    await proxy.up();
    await preparing;
    await sink.commit?.(1);
    await sink.close();
    assert.ok(
      log.seen.some((m) => /retrying/.test(m)),
      'a request failed during the outage and was retried',
    );
    assert.deepEqual(await bucket.jsonLines('sink/'), records);
  });

  test('the source retries through an outage and reads every record once', async () => {
    await bucket.put('src/001.jsonl', '{"id":1}\n{"id":2}\n');
    await bucket.put('src/002.jsonl', '{"id":3}\n');
    const checked = validateConfig<S3SourceConfig>(s3SourceConfig, {
      ...serverOptions,
      endpoint: `http://127.0.0.1:${proxy.port}`,
      bucket: bucket.name,
      prefix: 'src/',
      follow: false,
      retry: retryOptions,
    });
    assert.ok(checked.ok);
    const log = warnings();
    const [reader] = await s3Source.create(checked.value).open({
      id: 'in',
      restored: {},
      clock: systemClock,
      baseDir: process.cwd(),
      signal: new AbortController().signal,
      log,
    });
    assert.ok(reader);
    const signal = new AbortController().signal;
    const got: Row[] = [];
    const first = await reader.read(100, signal);
    got.push(...(first?.records ?? []));
    await proxy.down();
    const rest = (async () => {
      for (;;) {
        const batch = await reader.read(100, signal);
        if (batch === null) return;
        got.push(...batch.records);
      }
    })();
    await delay(500);
    await proxy.up();
    await rest;
    await reader.close();
    assert.ok(
      log.seen.some((m) => /retrying/.test(m)),
      'a request failed during the outage and was retried',
    );
    assert.deepEqual(got, [{ id: 1 }, { id: 2 }, { id: 3 }]);
  });
});
