/**
 * The core's conformance suites run by the `nats` source against the machine's NATS server with
 * JetStream: skipped with a reason when it is not reachable, a failure under CI=true.
 */

import { natsAvailable, natsSourceConformance } from './test-support.ts';

const available = await natsAvailable();
const skip = available ? false : 'nats not reachable at 127.0.0.1:4222';

natsSourceConformance(skip);
