/**
 * The core's source conformance suite run by the `s3` source (following the prefix) against
 * S3Proxy: each write is a new JSON-lines object, named after the ones before; kill -9 and an
 * outage at a proxy in front of S3Proxy included. Skipped with a
 * reason when S3Proxy is not reachable, a failure under CI=true.
 */

import { sourceConformance } from '@sluice/core/testing';
import { s3Source } from './source.ts';
import { REPO_ROOT, S3_HOST, s3Available, serverOptions, TestBucket } from './test-support.ts';

const available = await s3Available();
const skip = available ? false : 's3proxy not reachable at 127.0.0.1:9000';

sourceConformance({
  spec: s3Source,
  label: 's3 follow',
  skip,
  baseDir: REPO_ROOT,
  timeoutMs: 10_000,
  // kill -9: the pipeline in a child process, killed after a checkpoint, objects added meanwhile.
  plugin: '@sluice/s3',
  // The outage case lists and reads through a proxy it cuts; objects are still put directly.
  server: S3_HOST,
  async input(through) {
    const bucket = await TestBucket.create('conformance-src');
    let seq = 0;
    const next = () => `in/obj-${String(seq++).padStart(6, '0')}.jsonl`;
    return {
      options: {
        ...serverOptions,
        ...(through?.address !== undefined ? { endpoint: `http://${through.address}` } : {}),
        bucket: bucket.name,
        prefix: 'in/',
        poll_interval: '100ms',
      },
      async write(records) {
        await bucket.put(next(), records.map((r) => `${JSON.stringify(r)}\n`).join(''));
      },
      async writeMalformed(count) {
        await bucket.put(next(), Array.from({ length: count }, (_, i) => `{"id": ${i}, not json\n`).join(''));
      },
      dispose: () => bucket.dispose(),
    };
  },
});
