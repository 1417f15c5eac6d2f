/**
 * The `http_server` source against clients that misbehave at the connection level: slow headers,
 * slow bodies, too many connections, and clients that hang up.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closedBy, never, post, socketTo, start } from './http-server-test-support.ts';

describe('http_server connections', () => {
  it('answers 408 and disconnects a client whose headers do not arrive within header_timeout', async () => {
    const { reader } = await start({ header_timeout: '200ms', request_timeout: '5s' });
    const socket = await socketTo(reader.port);
    socket.write('POST /ingest HTTP/1.1\r\nHost: x\r\n');
    const answer = await closedBy(socket);
    assert.match(answer, /^HTTP\/1\.1 408/);
    assert.equal((await post(reader.url, '{"after":1}')).status, 202);
  });

  it('answers 408 and disconnects a client whose body does not arrive within request_timeout', async () => {
    const { reader } = await start({ header_timeout: '200ms', request_timeout: '400ms' });
    const socket = await socketTo(reader.port);
    socket.write(
      'POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":',
    );
    const answer = await closedBy(socket);
    assert.match(answer, /^HTTP\/1\.1 408/);
    assert.deepEqual((await reader.read(10, new AbortController().signal))?.records, []);
  });

  it('closes connections beyond max_connections at once and serves the others', async () => {
    const { reader } = await start({ max_connections: 2 });
    const first = await socketTo(reader.port);
    const second = await socketTo(reader.port);
    const third = await socketTo(reader.port);
    assert.equal(await closedBy(third), '', 'the third connection is closed without an answer');
    first.write(
      'POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 7\r\nConnection: close\r\n\r\n{"a":1}',
    );
    assert.match(await closedBy(first), /^HTTP\/1\.1 202/);
    second.destroy();
    assert.deepEqual((await reader.read(10, never))?.records, [{ a: 1 }]);
  });

  it('treats a client that hangs up mid-body as no error and gives its bytes back', async () => {
    const { reader, logs } = await start({ queue_bytes: '1kb', max_body: '1kb' });
    const socket = await socketTo(reader.port);
    socket.write(
      'POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"a":',
    );
    await new Promise((r) => setTimeout(r, 50));
    socket.destroy();
    // The 1000 bytes it reserved are free again: a request of 900 bytes fits.
    const body = JSON.stringify({ pad: 'x'.repeat(880) });
    let status = 0;
    for (let i = 0; i < 100 && status !== 202; i++) {
      status = (await post(reader.url, body)).status;
      if (status !== 202) await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(status, 202);
    assert.deepEqual(
      logs.filter(([level]) => level === 'error' || level === 'warn'),
      [],
    );
    assert.ok(logs.some(([level, message]) => level === 'debug' && message.includes('went away')));
  });
});
