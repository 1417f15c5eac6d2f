import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeKafkaError, scrub, toSourceError } from './client-errors.ts';

describe('Kafka error messages', () => {
  it('hide the SASL password and the credentials of any URL', () => {
    const err = new Error('cannot reach https://registry-user:reg-secret@registry:8081 with sasl-secret');
    assert.equal(
      describeKafkaError(err, ['sasl-secret']),
      'cannot reach https://registry-user:***@registry:8081 with ***',
    );
    const wrapped = toSourceError(err, 'fetch failed', 'in', ['sasl-secret']);
    assert.doesNotMatch(wrapped.message, /secret/);
    assert.equal(scrub('sasl://u:p@broker:9092 and p', []), 'sasl://u:***@broker:9092 and p');
  });
});
