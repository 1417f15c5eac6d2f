/**
 * The worker threads of the `score` step (`workers: N`): each holds its own onnxruntime sessions
 * (`score-worker.ts`), and runs go to them in turn.
 */

import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { SluiceError } from '@sluice/core';
import type { WireTensor, WorkerReply, WorkerRequest } from './score-worker.ts';

/** A request without its id: what {@link WorkerPool} sends. */
type Request = WorkerRequest extends infer R ? (R extends WorkerRequest ? Omit<R, 'id'> : never) : never;

/** Worker threads running the model's sessions (`workers: N`), taking runs in turn. */
export class WorkerPool {
  readonly #workers: Worker[] = [];
  readonly #pending = new Map<number, { resolve: (r: WorkerReply) => void; reject: (e: Error) => void }>();
  #id = 0;
  #next = 0;

  constructor(n: number, stepId: string) {
    // score-worker.ts beside this file, or score-worker.js once built.
    const url = new URL(`./score-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
    for (let i = 0; i < n; i++) {
      const worker = new Worker(url);
      worker.on('message', (reply: WorkerReply) => {
        const waiter = this.#pending.get(reply.id);
        this.#pending.delete(reply.id);
        waiter?.resolve(reply);
      });
      worker.on('error', (err) => {
        const error = new SluiceError('INTERNAL', `a score worker thread failed: ${err.message}`, {
          step: stepId,
          cause: err,
        });
        for (const waiter of this.#pending.values()) waiter.reject(error);
        this.#pending.clear();
      });
      this.#workers.push(worker);
    }
  }

  async #call(worker: Worker, request: Request, transfer: ArrayBuffer[] = []): Promise<WorkerReply> {
    const id = ++this.#id;
    const reply = new Promise<WorkerReply>((resolve, reject) => this.#pending.set(id, { resolve, reject }));
    worker.postMessage({ ...request, id }, transfer);
    const answer = await reply;
    if (!answer.ok) throw new Error(answer.error);
    return answer;
  }

  async load(version: string, model: Uint8Array, threads: number): Promise<void> {
    await Promise.all(this.#workers.map((w) => this.#call(w, { kind: 'load', version, model, threads })));
  }

  async release(version: string): Promise<void> {
    await Promise.all(this.#workers.map((w) => this.#call(w, { kind: 'release', version })));
  }

  async run(
    version: string,
    feeds: { [name: string]: WireTensor },
    fetches: string[],
  ): Promise<{ [name: string]: WireTensor }> {
    const worker = this.#workers[this.#next++ % this.#workers.length];
    // Typed arrays move to the worker; a string tensor's array is copied.
    const transfer = Object.values(feeds).flatMap((t) =>
      ArrayBuffer.isView(t.data) ? [t.data.buffer as ArrayBuffer] : [],
    );
    const reply = await this.#call(worker, { kind: 'run', version, feeds, fetches }, transfer);
    return (reply as { outputs: { [name: string]: WireTensor } }).outputs;
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
