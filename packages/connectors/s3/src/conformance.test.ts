/**
 * The core's sink conformance suite run by the `s3` sink against S3Proxy: skipped with a reason
 * when it is not reachable, a failure under CI=true.
 */

import type { Row } from '@sluice/core';
import { sinkConformance } from '@sluice/core/testing';
import { s3Sink } from './sink.ts';
import {
  REPO_ROOT,
  S3_ACCESS_KEY_ID,
  S3_ENDPOINT,
  S3_HOST,
  s3Available,
  serverOptions,
  TestBucket,
} from './test-support.ts';

const available = await s3Available();
const skip = available ? false : 's3proxy not reachable at 127.0.0.1:9000';

sinkConformance({
  spec: s3Sink,
  label: 's3 jsonl',
  skip,
  baseDir: REPO_ROOT,
  // A record JSON cannot hold: the sink refuses it.
  refused: { record: { id: 1000, amount: 10n }, reason: /cannot be written as JSON/ },
  server: S3_HOST,
  // Its memory bound is its own: each open object buffers up to `part_bytes` (≥ 5 MiB, S3's
  // smallest multipart part) before a write waits on the server, more than the suite's input.
  noSlowServer:
    'the sink buffers up to part_bytes (at least 5 MiB, S3’s smallest part) per open object before a write waits on the server: the suite’s input never reaches the server mid-stream, and 5 MiB through the throttled proxy would take minutes',
  plugin: '@sluice/s3',
  async target({ address }) {
    const bucket = await TestBucket.create('conformance');
    const endpoint = address === undefined ? S3_ENDPOINT : `http://${address}`;
    return {
      options: { ...serverOptions, endpoint, bucket: bucket.name, prefix: 'out/' },
      read: async () => (await bucket.jsonLines('out/')) as Row[],
      dispose: () => bucket.dispose(),
    };
  },
  async secret() {
    const secret = `s3cret-${process.pid}`;
    const bucket = await TestBucket.create('conformance-secret');
    await bucket.dispose();
    return {
      options: {
        endpoint: S3_ENDPOINT,
        force_path_style: true,
        access_key_id: S3_ACCESS_KEY_ID,
        secret_access_key: secret,
        bucket: bucket.name,
        retry: { max_attempts: 2, initial_backoff: '10ms' },
      },
      secret,
    };
  },
});
