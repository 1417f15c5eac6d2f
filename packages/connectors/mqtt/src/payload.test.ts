import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { userProperties } from './payload.ts';

describe('mqtt payloads', () => {
  test('user properties: the last value wins when a name repeats', () => {
    assert.deepEqual(userProperties(undefined), {});
    assert.deepEqual(userProperties({ site: 'n', unit: ['C', 'F'] }), { site: 'n', unit: 'F' });
  });
});
