/**
 * The core's sink conformance suite run by the `hdfs` sink against the Hadoop minicluster, in
 * both formats: skipped with a reason when it is not reachable, a failure under CI=true. The
 * outage and slow-server cases put the proxy in front of the NameNode (the DataNode is reached
 * where the NameNode redirects, directly): each append asks the NameNode first, so a NameNode
 * that is down or slow holds the sink back.
 */

import type { Row } from '@sluice/core';
import { sinkConformance } from '@sluice/core/testing';
import { hdfsSink } from './sink.ts';
import {
  deadUrl,
  HDFS_HOST,
  HDFS_MISSING,
  HDFS_URL,
  hdfsAvailable,
  REPO_ROOT,
  TestFolder,
} from './test-support.ts';

const available = await hdfsAvailable();
const skip = available ? false : HDFS_MISSING;

const retry = { max_attempts: 30, initial_backoff: '50ms', max_backoff: '500ms' };

for (const format of ['jsonl', 'parquet'] as const) {
  sinkConformance({
    spec: hdfsSink,
    label: `hdfs ${format}`,
    skip,
    baseDir: REPO_ROOT,
    // A record JSON cannot hold: the sink refuses it.
    refused: { record: { id: 1000, amount: 10n }, reason: /cannot be written as JSON/ },
    server: HDFS_HOST,
    ...(format === 'parquet'
      ? {
          noSlowServer:
            'a parquet file is sent whole when it is finished (at a checkpoint or at roll.max_bytes), so a write never waits on the server between checkpoints; its records are held in memory up to roll.max_bytes',
        }
      : {}),
    plugin: '@sluice/hdfs',
    async target({ address }) {
      const folder = await TestFolder.create(`conformance-${format}`);
      return {
        options: {
          url: address === undefined ? HDFS_URL : `http://${address}`,
          user: 'sluice',
          path: `${folder.path}/out`,
          format,
          // Small appends, so that a write waits on the server mid-stream (the slow-server case).
          flush_bytes: 4096,
          retry,
        },
        read: async () =>
          (format === 'jsonl'
            ? await folder.jsonLines('out')
            : (await folder.parquet('out')).records) as Row[],
        dispose: () => folder.dispose(),
      };
    },
    async secret() {
      const secret = `hdfs-token-${process.pid}`;
      return {
        // Nothing listens there: the request fails, and its error must not carry the token.
        options: {
          url: await deadUrl(),
          path: '/sluice-tests/secret',
          delegation_token: secret,
          retry: { max_attempts: 2, initial_backoff: '10ms' },
        },
        secret,
      };
    },
  });
}
