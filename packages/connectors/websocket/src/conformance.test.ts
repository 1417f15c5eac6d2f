/**
 * The core's source conformance suite run by the `websocket` source against a real `ws` server
 * on loopback (`PushServer`: a push API that resumes after a sequence number), with
 * `resume: message`; and with `resume: none`, which cannot resume.
 */

import { tmpdir } from 'node:os';
import { sourceConformance } from '@sluice/core/testing';
import { websocketSource } from './source.ts';
import { PushServer, RESUME, SUBSCRIBE } from './test-support.ts';

sourceConformance({
  spec: websocketSource,
  label: 'websocket with resume',
  baseDir: tmpdir(),
  // kill -9: the pipeline in a child process reconnects to this process's push server.
  plugin: '@sluice/websocket',
  timeoutMs: 10_000,
  async input() {
    const server = new PushServer();
    await server.start();
    return {
      options: {
        url: server.url,
        subscribe_message: SUBSCRIBE,
        resume: 'message',
        resume_message: RESUME,
        position_field: 'seq',
        initial_backoff: '20ms',
        max_backoff: '200ms',
      },
      write: async (records) => server.write(records),
      writeMalformed: async (count) => server.writeRaw(Array.from({ length: count }, () => '{"id": 1, no')),
      dispose: () => server.stop(),
    };
  },
});

sourceConformance({
  spec: websocketSource,
  label: 'websocket without resume',
  baseDir: tmpdir(),
  timeoutMs: 10_000,
  noResume:
    'a push API without resume sends what it has again on subscribe: a restart cannot resume (at-most-once)',
  async input() {
    const server = new PushServer();
    await server.start();
    return {
      options: { url: server.url, subscribe_message: SUBSCRIBE, initial_backoff: '20ms' },
      write: async (records) => server.write(records),
      writeMalformed: async (count) => server.writeRaw(Array.from({ length: count }, () => 'not json')),
      dispose: () => server.stop(),
    };
  },
});
