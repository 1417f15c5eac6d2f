/**
 * The entry of one worker thread of `sluice run --worker-id ID --threads N` (`worker-threads.ts`):
 * runs the pipeline as group member `ID.i` until the main thread says stop, then exits once every
 * task has released its slot.
 */

import { parentPort, workerData } from 'node:worker_threads';
import { explain } from './explain.ts';
import { runWorker, workerLogger } from './worker.ts';
import type { FromThread, ThreadData, ToThread } from './worker-threads.ts';

const port = parentPort;
if (port === null) throw new Error('worker-thread.ts runs only as a worker thread');
const data = workerData as ThreadData;
const stop = new AbortController();
port.on('message', (m: ToThread) => {
  if (m.kind === 'stop') stop.abort();
});
const log = workerLogger(data.opts, { thread: data.thread });
let reply: FromThread;
try {
  await runWorker(data.file, data.opts, data.workerId, log, stop.signal);
  reply = { kind: 'stopped' };
} catch (err) {
  reply = { kind: 'failed', explanation: explain(err, data.file) };
}
port.postMessage(reply);
// The port keeps the thread alive: close it so the thread ends.
port.close();
