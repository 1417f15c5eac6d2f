/**
 * A worker thread of the `score` step (`workers: N`): holds onnxruntime sessions by load key (the
 * model version and a count of loads, so a rolled-back version is a new key) and runs them off the
 * event loop. Messages: `load` (key as `version`, model bytes, threads), `run` (key, feeds,
 * fetches) and `release` (key); each answered with its `id`.
 */

import { parentPort } from 'node:worker_threads';
import ort from 'onnxruntime-node';

/** A tensor crossing the thread boundary: its element type, data and dimensions. */
export interface WireTensor {
  type: ort.Tensor.Type;
  data: ort.Tensor.DataType;
  dims: readonly number[];
}

export type WorkerRequest =
  | { id: number; kind: 'load'; version: string; model: Uint8Array; threads: number }
  | { id: number; kind: 'run'; version: string; feeds: { [name: string]: WireTensor }; fetches: string[] }
  | { id: number; kind: 'release'; version: string };

export type WorkerReply =
  | { id: number; ok: true; outputs?: { [name: string]: WireTensor } }
  | { id: number; ok: false; error: string };

const sessions = new Map<string, ort.InferenceSession>();

async function handle(request: WorkerRequest): Promise<WorkerReply> {
  switch (request.kind) {
    case 'load':
      sessions.set(
        request.version,
        await ort.InferenceSession.create(request.model, {
          executionProviders: ['cpu'],
          intraOpNumThreads: request.threads,
          interOpNumThreads: 1,
        }),
      );
      return { id: request.id, ok: true };
    case 'release': {
      const session = sessions.get(request.version);
      sessions.delete(request.version);
      await session?.release();
      return { id: request.id, ok: true };
    }
    case 'run': {
      const session = sessions.get(request.version);
      if (session === undefined) throw new Error(`no model ${request.version} in this worker`);
      const feeds: { [name: string]: ort.Tensor } = {};
      for (const [name, t] of Object.entries(request.feeds))
        feeds[name] = new ort.Tensor(t.type, t.data as never, t.dims);
      const results = await session.run(feeds, request.fetches);
      const outputs: { [name: string]: WireTensor } = {};
      for (const name of request.fetches) {
        const t = results[name];
        outputs[name] = { type: t.type, data: t.data, dims: t.dims.map(Number) };
      }
      return { id: request.id, ok: true, outputs };
    }
  }
}

parentPort?.on('message', (request: WorkerRequest) => {
  handle(request).then(
    (reply) => parentPort!.postMessage(reply),
    (err: unknown) =>
      parentPort!.postMessage({
        id: request.id,
        ok: false,
        error: (err as Error).message,
      } satisfies WorkerReply),
  );
});
