import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatByteSize, parseByteSize } from './byte-size.ts';
import { SluiceError } from './errors.ts';

test('parseByteSize reads sizes in units of 1024', () => {
  assert.equal(parseByteSize('1mb'), 1_048_576);
  assert.equal(parseByteSize('512KB'), 524_288);
  assert.equal(parseByteSize('1.5kb'), 1536);
  assert.equal(parseByteSize('100'), 100);
  assert.equal(parseByteSize(2048), 2048);
  assert.throws(
    () => parseByteSize('big', 'max_body'),
    (err: unknown) => err instanceof SluiceError && err.code === 'CONFIG_INVALID' && err.path === 'max_body',
  );
});

test('formatByteSize writes a size back in the largest exact unit', () => {
  assert.equal(formatByteSize(64 * 1024 ** 2), '64mb');
  assert.equal(formatByteSize(1536), '1536b');
  assert.equal(formatByteSize(2048), '2kb');
  for (const bytes of [1, 1024, 5 * 1024 ** 3, 12_345])
    assert.equal(parseByteSize(formatByteSize(bytes)), bytes);
});
