/**
 * The WebHDFS client against the Hadoop minicluster: a retried append writes its data once
 * whether the failed attempt landed whole, in part or not at all, and refusals are told from
 * passing failures. Skipped with a reason when the minicluster is not reachable, a failure under
 * CI=true.
 */

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { retry } from '@sluice/core';
import { HDFS_MISSING, hdfsAvailable, TestFolder } from './test-support.ts';
import { appendAttempt, isTransient, WebHdfsError } from './webhdfs.ts';

const available = await hdfsAvailable();
const skip = available ? false : HDFS_MISSING;

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');

describe('webhdfs', { skip }, () => {
  let folder: TestFolder;
  before(async () => {
    folder = await TestFolder.create('webhdfs');
  });
  after(async () => {
    await folder?.dispose();
  });

  /** Appends `def` to a file of `abc` after a failed attempt that left the file as `left`. */
  async function retriedAppend(name: string, left: string): Promise<string> {
    const path = `${folder.path}/${name}`;
    await folder.client.create(path, Buffer.from(left));
    // Every attempt here comes after a failed one: it looks at the file first.
    await retry(() => appendAttempt(folder.client, path, 3, Buffer.from('def'), true), {
      maxAttempts: 40,
      initialBackoff: 100,
      maxBackoff: 500,
      isRetryable: isTransient,
    });
    return text(await folder.client.read(path));
  }

  test('a retried append whose failed attempt landed whole is not sent again', async () => {
    assert.equal(await retriedAppend('landed', 'abcdef'), 'abcdef');
  });

  test('a retried append whose failed attempt landed in part cuts the file back first', async () => {
    assert.equal(await retriedAppend('partial', 'abcde'), 'abcdef');
  });

  test('a retried append whose failed attempt did not land appends', async () => {
    assert.equal(await retriedAppend('lost', 'abc'), 'abcdef');
  });

  test('a refusal is permanent, with the exception HDFS names', async () => {
    await folder.client.create(`${folder.path}/file`, Buffer.from('x'));
    const err = await folder.client.mkdirs(`${folder.path}/file/sub`).catch((e: unknown) => e);
    assert.ok(err instanceof WebHdfsError);
    assert.equal(err.transient, false);
    assert.match(err.message, /FileAlreadyExistsException|ParentNotDirectoryException/);
    assert.equal(await folder.client.status(`${folder.path}/missing`), undefined);
  });

  test('a passing state is transient although WebHDFS answers it with 403', () => {
    assert.equal(new WebHdfsError('x', 403, 'SafeModeException').transient, true);
    assert.equal(new WebHdfsError('x', 403, 'StandbyException').transient, true);
    assert.equal(new WebHdfsError('x', 403, 'AccessControlException').transient, false);
    assert.equal(new WebHdfsError('x', 503).transient, true);
    assert.equal(new WebHdfsError('x', undefined).transient, true);
  });
});
