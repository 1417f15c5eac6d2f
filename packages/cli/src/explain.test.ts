/**
 * The paragraph `sluice` prints for an error: where, what, and advice that fits the cause.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SluiceError } from '@sluice/core';
import { explain } from './explain.ts';

function fsError(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

describe('explain', () => {
  test('a permission error says to fix the permissions, not the network', () => {
    const cause = fsError('EACCES', "EACCES: permission denied, mkdir '/data/out'");
    const err = new SluiceError('IO_ERROR', `cannot create folder '/data/out': ${cause.message}`, {
      step: 'out',
      cause,
    });
    const text = explain(err, 'pipeline.yaml');
    assert.match(text, /^sluice: pipeline\.yaml: step 'out': cannot create folder '\/data\/out'/);
    assert.doesNotMatch(text, /reachable|network/);
    assert.match(
      text,
      /\nPermission denied: let the user running sluice write there \(check the owner and mode of the folder\), or choose another path in the pipeline file\.\n$/,
    );
  });

  test('other file-system errors get file-system advice', () => {
    const full = explain(
      new SluiceError('IO_ERROR', 'cannot write: ENOSPC', { cause: fsError('ENOSPC', 'no space left') }),
      'p.yaml',
    );
    assert.match(full, /\nThe disk is full: free space or choose another path, then run again/);
    const other = explain(new SluiceError('IO_ERROR', 'cannot stat'), 'p.yaml');
    assert.match(other, /\nA file-system operation failed: check the path, its permissions and free space/);
    assert.doesNotMatch(other, /reachable/);
  });

  test('an unreachable system still gets the network advice', () => {
    const text = explain(new SluiceError('SINK_UNAVAILABLE', 'connection refused'), 'p.yaml');
    assert.match(text, /check that it is reachable/);
  });
});
