/**
 * The core's source conformance suite run by the `redis` source (a stream read by a consumer
 * group, JSON entries) against the machine's Redis: skipped with a reason when it is not
 * reachable, a failure under CI=true.
 */

import { after } from 'node:test';
import { redisAvailable, testClient } from './test-support.ts';
import { redisStreamConformance } from './test-support-source.ts';

const client = (await redisAvailable()) ? await testClient() : undefined;
after(() => client?.close());

redisStreamConformance(client);
