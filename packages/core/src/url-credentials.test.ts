import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SluiceError } from './errors.ts';
import { createLogger } from './log.ts';
import { redactUrlCredentials } from './url-credentials.ts';

describe('redactUrlCredentials', () => {
  it('hides the password of every URL in a text and keeps the rest', () => {
    assert.equal(
      redactUrlCredentials('POST http://admin:secret@host:8080/x?q=a@b failed; see https://u:p@h2/'),
      'POST http://admin:***@host:8080/x?q=a@b failed; see https://u:***@h2/',
    );
    assert.equal(redactUrlCredentials('redis://:pa55@127.0.0.1:6379/0'), 'redis://:***@127.0.0.1:6379/0');
    assert.equal(redactUrlCredentials('amqp://guest:p@ss@rabbit/vhost'), 'amqp://guest:***@rabbit/vhost');
  });

  it('hides a user without a password, which may be a token', () => {
    assert.equal(redactUrlCredentials('https://ghp_abc123@github.com/x.git'), 'https://***@github.com/x.git');
  });

  it('leaves texts without credentials alone', () => {
    for (const text of ['http://host/a@b', 'mailto:a@b.c', 'a@b', 'no url', 'http://h:1/p?x=y@z', '']) {
      assert.equal(redactUrlCredentials(text), text);
    }
  });
});

describe('credentials in logs and errors', () => {
  it('never reach a log line, in the message or in fields', () => {
    const lines: string[] = [];
    for (const format of ['json', 'text'] as const) {
      const log = createLogger({ format, write: (line) => lines.push(line) });
      log.warn('cannot reach http://admin:secret@host/x', {
        url: 'http://admin:secret@host/x',
        error: new Error('connect to kafka://u:secret@broker:9092 failed'),
        nested: { urls: ['nats://u:secret@n:4222'] },
      });
    }
    assert.equal(lines.length, 2);
    for (const line of lines) {
      assert.doesNotMatch(line, /secret/, line);
      assert.match(line, /admin:\*\*\*@host/);
    }
  });

  it('never reach the message of a SluiceError', () => {
    const err = new SluiceError('SINK_UNAVAILABLE', 'fetch http://admin:secret@host/x failed', {
      step: 'out',
    });
    assert.equal(err.message, 'fetch http://admin:***@host/x failed');
    assert.doesNotMatch(err.describe(), /secret/);
  });
});
