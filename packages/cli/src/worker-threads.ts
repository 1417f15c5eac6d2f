/**
 * `sluice run --worker-id ID --threads N`: N members of the workers' group in one process, each a
 * `KafkaWorker` in its own worker thread (`worker-thread.ts`) named `ID.0` … `ID.N-1`, so that one
 * process uses N cores. Kafka assigns the partitions over the threads as over processes; each
 * thread's tasks read their partitions with their own connections, so no record crosses threads.
 */

import { availableParallelism } from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from '@sluice/core';
import type { RunOptionsRaw } from './main.ts';

/** The most threads `--threads` accepts. */
const MAX_THREADS = 256;

/** `--threads` as a count (default: the machine's cores), or why it is a usage error. */
export function parseThreads(raw: string | undefined): number | string {
  if (raw === undefined) return availableParallelism();
  const n = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_THREADS) {
    return `--threads must be a whole number from 1 to ${MAX_THREADS} (got '${raw}')`;
  }
  return n;
}

/** The worker id of thread `index` of worker `workerId`. */
export function threadWorkerId(workerId: string, index: number): string {
  return `${workerId}.${index}`;
}

/** What the main thread gives a worker thread. */
export interface ThreadData {
  readonly file: string;
  readonly opts: RunOptionsRaw;
  readonly workerId: string;
  readonly thread: number;
}

/** What the main thread tells a worker thread. */
export type ToThread = { readonly kind: 'stop' };

/** What a worker thread tells the main thread: it ended, or failed with this explanation. */
export type FromThread =
  | { readonly kind: 'stopped' }
  | { readonly kind: 'failed'; readonly explanation: string };

/** A running set of worker threads. */
export interface WorkerThreads {
  /** Stops every thread gracefully (each task drains, checkpoints and releases its slot). */
  stop(): void;
  /** The exit code once every thread has ended: 0, or 1 when one failed (the others are stopped). */
  readonly done: Promise<number>;
}

/**
 * Starts `threads` worker threads, each running `file` as group member `ID.i`. When one fails its
 * explanation is printed and the others are stopped gracefully.
 */
export function runWorkerThreads(
  file: string,
  opts: RunOptionsRaw & { workerId: string },
  threads: number,
  log: Logger,
): WorkerThreads {
  // worker-thread.ts beside this file, or worker-thread.js once built.
  const url = new URL(`./worker-thread${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
  const workers: Worker[] = [];
  let stopping = false;
  let failed = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    const message: ToThread = { kind: 'stop' };
    for (const w of workers) w.postMessage(message);
  };
  const fail = (explanation: string) => {
    if (!failed) process.stderr.write(explanation);
    failed = true;
    stop();
  };
  const ended: Promise<void>[] = [];
  for (let thread = 0; thread < threads; thread++) {
    const data: ThreadData = { file, opts, workerId: threadWorkerId(opts.workerId, thread), thread };
    const worker = new Worker(url, { workerData: data, name: `sluice worker ${data.workerId}` });
    workers.push(worker);
    ended.push(
      new Promise<void>((resolve) => {
        worker.on('message', (m: FromThread) => {
          if (m.kind === 'failed') fail(m.explanation);
        });
        worker.on('error', (err) =>
          fail(`sluice: worker thread ${data.workerId} crashed: ${err.stack ?? err}\n`),
        );
        worker.on('exit', (code) => {
          if (code !== 0 && !failed)
            fail(`sluice: worker thread ${data.workerId} exited with code ${code}\n`);
          resolve();
        });
      }),
    );
  }
  log.info('worker threads started', { worker: opts.workerId, threads });
  const done = Promise.all(ended).then(() => {
    log.info('worker threads stopped', { worker: opts.workerId, threads });
    return failed ? 1 : 0;
  });
  return { stop, done };
}
