/**
 * The core's sink conformance suite run by the `redis` sink in each of its modes against the
 * machine's Redis: skipped with a reason when it is not reachable, a failure under CI=true.
 */

import { after } from 'node:test';
import { sinkConformance } from '@sluice/core/testing';
import { SINK_MODES } from './sink-config.ts';
import { redisSink } from './sink-spec.ts';
import { REDIS_HOST, REDIS_URL, REPO_ROOT, redisAvailable, testClient } from './test-support.ts';
import { conformanceTargets } from './test-support-sink.ts';

/** The targets with the server reached through `address` when the suite asks (its outage proxy). */
function proxied(adapter: ReturnType<typeof conformanceTargets>): ReturnType<typeof conformanceTargets> {
  return {
    ...adapter,
    async target(options) {
      const target = await adapter.target(options);
      if (options.address === undefined) return target;
      return { ...target, options: { ...target.options, url: `redis://${options.address}` } };
    },
  };
}

const available = await redisAvailable();
const client = available ? await testClient() : undefined;
after(() => client?.close());

for (const mode of SINK_MODES) {
  sinkConformance({
    spec: redisSink,
    label: `redis ${mode}`,
    skip: client === undefined ? 'Redis is not reachable at 127.0.0.1:6379' : false,
    baseDir: REPO_ROOT,
    ...(client === undefined
      ? { target: () => Promise.reject(new Error('unreachable')) }
      : proxied(conformanceTargets(mode, client))),
    server: REDIS_HOST,
    plugin: '@sluice/redis',
    async secret() {
      // A user the server does not know: AUTH fails with WRONGPASS at open.
      const secret = `wrong-${process.pid}-do-not-leak`;
      const url = REDIS_URL.replace('redis://', `redis://nobody:${secret}@`);
      const where = mode === 'publish' ? { channel: 'c' } : { key: 'k' };
      const score = mode === 'sorted_set' ? { score_field: 'amount' } : {};
      return { secret, options: { url, mode, ...where, ...score, retry: { max_attempts: 1 } } };
    },
  });
}
