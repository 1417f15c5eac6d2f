/**
 * The core's conformance suites run by the `nats` source and sink against the machine's NATS
 * server with JetStream: skipped with a reason when it is not reachable, a failure under CI=true.
 */

import type { Row } from '@sluice/core';
import { sinkConformance } from '@sluice/core/testing';
import { natsSink } from './sink.ts';
import {
  createStream,
  deleteStream,
  NATS_HOST,
  NATS_URL,
  natsAvailable,
  natsSourceConformance,
  REPO_ROOT,
  streamMessages,
  uniqueName,
} from './test-support.ts';

const available = await natsAvailable();
const skip = available ? false : 'nats not reachable at 127.0.0.1:4222';

natsSourceConformance(skip);

sinkConformance({
  spec: natsSink,
  label: 'nats',
  skip,
  baseDir: REPO_ROOT,
  // A record without the field its message id is made of: the sink refuses it.
  refused: { record: { id: 1000, amount: 1 }, reason: /msg_id_expression failed: .*name/ },
  server: NATS_HOST,
  plugin: '@sluice/nats',
  async target({ address }) {
    const stream = uniqueName('conformance_out');
    await createStream(stream, [`${stream}.>`]);
    return {
      options: {
        servers: [address === undefined ? NATS_URL : `nats://${address}`],
        subject: `${stream}.out`,
        msg_id_expression: 'name',
      },
      async read() {
        return (await streamMessages(stream)).map((m) => JSON.parse(m.data) as Row);
      },
      dispose: () => deleteStream(stream),
    };
  },
  async secret() {
    const secret = `s3cret-${process.pid}`;
    return {
      options: {
        servers: [`nats://sluice:${secret}@127.0.0.1:1`],
        username: 'sluice',
        password: secret,
        subject: 'never',
        connect_timeout: '1s',
        retry: { max_attempts: 2, initial_backoff: '10ms' },
      },
      secret,
    };
  },
});
