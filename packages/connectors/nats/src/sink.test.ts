/**
 * The `nats` sink against the machine's NATS server: message ids make a replay after a restart
 * store each record once; records the server refuses for good go to the dead letters with its
 * reason while the rest of the batch is stored; headers and subjects as configured.
 */

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { Row } from '@sluice/core';
import { subjectProblem } from './sink.ts';
import {
  createStream,
  deleteStream,
  natsAvailable,
  openNatsSink,
  streamMessages,
  uniqueName,
} from './test-support.ts';

const available = await natsAvailable();
const streams: string[] = [];

async function freshStream(prefix: string, extra: { max_msg_size?: number } = {}): Promise<string> {
  const stream = uniqueName(prefix);
  await createStream(stream, [`${stream}.>`], extra);
  streams.push(stream);
  return stream;
}

const orders = (from: number, to: number): Row[] =>
  Array.from({ length: to - from }, (_, i) => ({ order_id: from + i, region: i % 2 === 0 ? 'eu' : 'us' }));
const batchOf = (records: Row[]) => ({ records, times: records.map(() => 0) });

test('a subject to publish to is plain text with non-empty tokens and no wildcard', () => {
  assert.equal(subjectProblem('orders.eu.created'), undefined);
  assert.equal(subjectProblem(null), 'gave NULL');
  assert.equal(subjectProblem(42), 'gave a number, not text');
  assert.equal(subjectProblem(''), 'gave an empty subject');
  assert.match(subjectProblem('orders..eu') ?? '', /empty token/);
  assert.match(subjectProblem('orders.') ?? '', /empty token/);
  assert.match(subjectProblem('orders.*') ?? '', /wildcard/);
  assert.match(subjectProblem('orders.>') ?? '', /wildcard/);
  assert.match(subjectProblem('orders eu') ?? '', /white space/);
});

describe('nats sink', { skip: !available }, () => {
  after(async () => {
    for (const s of streams) await deleteStream(s);
  });

  test('with msg_id_expression, records written again after a restart are stored once', async () => {
    const stream = await freshStream('dedupe');
    const options = {
      subject_expression: `'${stream}.' || region`,
      msg_id_expression: `'order-' || order_id`,
    };
    const first = await openNatsSink(options);
    await first.write(batchOf(orders(0, 10)));
    // Checkpoint after record 9; records 10..14 are written, then the process dies.
    await first.write(batchOf(orders(10, 15)));
    await first.abort?.();
    // The restart replays from the checkpoint: 10..14 again, then new ones.
    const second = await openNatsSink(options);
    await second.write(batchOf(orders(10, 20)));
    await second.close();
    const stored = await streamMessages(stream);
    assert.deepEqual(
      stored.map((m) => JSON.parse(m.data).order_id),
      Array.from({ length: 20 }, (_, i) => i),
      'each record once, in order',
    );
    assert.equal(stored[3]?.subject, `${stream}.us`);
    assert.equal(stored[3]?.headers['Nats-Msg-Id'], 'order-3');
    assert.equal(
      (second as unknown as { duplicates: number }).duplicates,
      5,
      'the replayed ones were duplicates',
    );
  });

  test('without a message id a replay stores the records again (at-least-once)', async () => {
    const stream = await freshStream('nodedupe');
    const sink = await openNatsSink({ subject: `${stream}.all` });
    await sink.write(batchOf(orders(0, 3)));
    await sink.write(batchOf(orders(0, 3)));
    await sink.close();
    assert.equal((await streamMessages(stream)).length, 6);
  });

  test('a subject no stream takes and a message over max_msg_size are dead letters with the reason; the rest is stored', async () => {
    const stream = await freshStream('refused', { max_msg_size: 200 });
    const sink = await openNatsSink({ subject_expression: `target`, ack_timeout: '2s' });
    const records: Row[] = [
      { target: `${stream}.ok`, n: 1 },
      { target: uniqueName('nostream'), n: 2 },
      { target: `${stream}.ok`, n: 3, padding: 'x'.repeat(400) },
      { target: `${stream}.*`, n: 4 },
      { target: `${stream}.ok`, n: 5 },
    ];
    const rejections = await sink.write(batchOf(records));
    await sink.close();
    assert.deepEqual(
      rejections?.map((r) => r.index),
      [1, 2, 3],
    );
    assert.match(rejections?.[0]?.message ?? '', /no stream takes subject 'nostream_/);
    assert.match(rejections?.[1]?.message ?? '', /the stream refused it: .*maximum/i);
    assert.match(rejections?.[2]?.message ?? '', /subject_expression gave .* which has a wildcard/);
    assert.deepEqual(
      (await streamMessages(stream)).map((m) => JSON.parse(m.data).n),
      [1, 5],
    );
  });
});
