/**
 * Dead-letter replay over the API (the dashboard test replays one after a fix): each payload goes
 * back to the step or sink that rejected it — with nothing fixed, it fails there again, as a new
 * dead letter of the same step — and ids unknown, replayed already or malformed are refused.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { post, startServed, waitFor } from './test-support.ts';

const pipeline = `
name: replay-api
settings: { checkpoint: { interval: 0s, dir: {{dir}} } }
sources:
  in: { type: http_server, port: 0, path: /ingest, ack: memory }
steps:
  - id: priced
    type: map
    fields: { id: id, total: amount * 2 }
sinks:
  latest: { type: view, key: [id] }
`;

const admin = { authorization: 'Bearer adm', 'content-type': 'application/json' };

interface Letter {
  id: number;
  step: string;
  code: string;
}

test('replayed dead letters go back to the step or sink that rejected them', {
  timeout: 60_000,
}, async () => {
  const served = await startServed(pipeline, { tokens: { admin: 'adm' } });
  const replay = (body: unknown, headers: { [k: string]: string } = admin) =>
    fetch(`${served.server.url}/api/dead-letters/replay`, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
    });
  const letters = async () =>
    ((await (await fetch(`${served.server.url}/api/dead-letters`)).json()) as { deadLetters: Letter[] })
      .deadLetters;
  try {
    await post(served.ingest!, [
      { id: 'a', amount: 'x' }, // text * 2: a dead letter at priced
      { id: [1, 2], amount: 3 }, // an id that is no scalar: the view refuses it
      { id: 'b', amount: 4 },
    ]);
    await waitFor(() => (served.job.metrics().deadLetters === 2 ? true : undefined));
    const first = await letters();
    assert.deepEqual(
      first.map((l) => [l.id, l.step]),
      [
        [2, 'latest'],
        [1, 'priced'],
      ],
    );
    const pricedIn = served.job.metrics().steps.priced.in;

    const res = await replay({ ids: [2, 1, 99] });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {
      replayed: [1, 2],
      refused: [{ id: 99, reason: 'no such dead letter among the recent ones of this run' }],
    });
    // Nothing was fixed: each fails again where it failed before, as a new letter.
    await waitFor(() => (served.job.metrics().deadLetters === 4 ? true : undefined));
    const again = await letters();
    assert.deepEqual(
      again
        .slice(0, 2)
        .map((l) => [l.id, l.step])
        .sort(),
      [
        [3, 'priced'],
        [4, 'latest'],
      ],
    );
    assert.equal(served.job.metrics().steps.priced.in, pricedIn + 1, 'priced took the replayed record in');

    assert.deepEqual(await (await replay({ ids: [1] })).json(), {
      replayed: [],
      refused: [{ id: 1, reason: 'already replayed' }],
    });
    assert.equal((await replay({ ids: [] })).status, 400);
    assert.equal((await replay({ ids: ['1'] })).status, 400);
    assert.equal((await replay({ ids: [3] }, { 'content-type': 'application/json' })).status, 401);
    // The view holds b only: nothing replayed reached it.
    const view = (await (await fetch(`${served.server.url}/api/views/latest`)).json()) as {
      rows: { key: string }[];
    };
    assert.deepEqual(
      view.rows.map((r) => r.key),
      ['b'],
    );
  } finally {
    await served.stop();
  }
  assert.throws(() => served.job.replayDeadLetters([3]), { code: 'JOB_NOT_RUNNING' });
});
