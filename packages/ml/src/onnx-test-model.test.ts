import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FIXTURES, testModelFiles } from './onnx-test-model.ts';

test('the model script regenerates the shipped ONNX fixtures byte for byte', () => {
  const files = testModelFiles();
  assert.equal(files.size, 3);
  for (const [name, data] of files)
    assert.deepEqual(
      new Uint8Array(readFileSync(join(FIXTURES, name))),
      data,
      `${name} differs: run the script`,
    );
});
