/**
 * The S3 checkpoint store against S3Proxy on loopback: the shared checkpoint store suite (round
 * trip and pruning, one owner per slot, graceful release, a killed owner's lease, a zombie fenced,
 * unreadable checkpoints set aside), and what is particular to objects: a fenced write leaves no
 * object behind, and pruning deletes the objects of the checkpoints it drops.
 */

import assert from 'node:assert/strict';
import { dirname } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { encodeCheckpoint, SluiceError } from '@sluice/core';
import { checkpointStoreConformance } from '@sluice/core/testing';
import { S3CheckpointStore, type S3CheckpointStoreOptions } from './checkpoint-store.ts';
import {
  S3_ACCESS_KEY_ID,
  S3_ENDPOINT,
  S3_SECRET_ACCESS_KEY,
  s3Available,
  TestBucket,
  testClient,
} from './test-support.ts';

const available = await s3Available();
const skip = available ? false : 's3proxy not reachable at 127.0.0.1:9000';
const pipeline = `p${Date.now().toString(36)}`;
const client = testClient();
// Created before the suite is defined: its child process needs the bucket's name.
const bucket = available ? await TestBucket.create('sluice-ckpt') : undefined;
after(async () => {
  await bucket?.dispose();
});

function store(
  slot: string,
  owner: string,
  extra: Partial<S3CheckpointStoreOptions> = {},
): S3CheckpointStore {
  return new S3CheckpointStore({
    client,
    bucket: bucket?.name ?? 'none',
    prefix: 'ckpt/',
    pipeline,
    slot,
    owner,
    keep: 2,
    ...extra,
  });
}

checkpointStoreConformance({
  label: 's3',
  skip,
  pipeline,
  store: (slot, owner, extra = {}) => store(slot, owner, extra),
  child: {
    code: `
      import { S3Client } from '@aws-sdk/client-s3';
      import { S3CheckpointStore } from ${JSON.stringify(new URL('./checkpoint-store.ts', import.meta.url).href)};
      const client = new S3Client({ region: 'us-east-1', endpoint: ${JSON.stringify(S3_ENDPOINT)}, forcePathStyle: true,
        credentials: { accessKeyId: ${JSON.stringify(S3_ACCESS_KEY_ID)}, secretAccessKey: ${JSON.stringify(S3_SECRET_ACCESS_KEY)} } });
      const makeStore = (slot, owner, leaseMs) => new S3CheckpointStore({ client, bucket: ${JSON.stringify(bucket?.name)},
        prefix: 'ckpt/', pipeline: ${JSON.stringify(pipeline)}, slot, owner, keep: 2, leaseMs });
    `,
    cwd: dirname(fileURLToPath(import.meta.url)),
  },
});

async function keys(under: string): Promise<string[]> {
  return ((await bucket?.keys(under)) ?? []).sort();
}

const data = (id: number) =>
  encodeCheckpoint({ id, pipeline, createdAt: id, watermark: 0, sources: {}, operators: {}, sinks: {} });

test('pruning deletes the objects of dropped checkpoints; a fenced write leaves no object', {
  skip,
}, async () => {
  const a = store('objects/0', 'wa', { leaseMs: 60_000 });
  await a.prepare();
  for (const id of [1, 2, 3, 4]) await a.write(id, data(id));
  const dir = `ckpt/${pipeline}/objects/0/`;
  assert.deepEqual(await keys(`${dir}ckpt/`), [`${dir}ckpt/1-3.ckpt`, `${dir}ckpt/1-4.ckpt`]);
  const b = store('objects/0', 'wa', { leaseMs: 60_000 });
  await b.prepare();
  await assert.rejects(
    a.write(5, data(5)),
    (err) => err instanceof SluiceError && err.code === 'CHECKPOINT_LOCKED',
  );
  assert.deepEqual(
    await keys(`${dir}ckpt/`),
    [`${dir}ckpt/1-3.ckpt`, `${dir}ckpt/1-4.ckpt`],
    'the fenced bytes are gone',
  );
  await b.close();
  await a.close();
});
