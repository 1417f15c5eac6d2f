/**
 * The core's source conformance suite run by the `s3` source (following the prefix) against
 * S3Proxy: each write is a new JSON-lines object, named after the ones before. Skipped with a
 * reason when S3Proxy is not reachable, a failure under CI=true.
 */

import { sourceConformance } from '@sluice/core/testing';
import { s3Source } from './source.ts';
import { REPO_ROOT, s3Available, serverOptions, TestBucket } from './test-support.ts';

const available = await s3Available();
const skip = available ? false : 's3proxy not reachable at 127.0.0.1:9000';

sourceConformance({
  spec: s3Source,
  label: 's3 follow',
  skip,
  baseDir: REPO_ROOT,
  timeoutMs: 10_000,
  async input() {
    const bucket = await TestBucket.create('conformance-src');
    let seq = 0;
    const next = () => `in/obj-${String(seq++).padStart(6, '0')}.jsonl`;
    return {
      options: { ...serverOptions, bucket: bucket.name, prefix: 'in/', poll_interval: '100ms' },
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
