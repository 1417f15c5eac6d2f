/**
 * A load generator for HTTP ingest fault scenarios, run as its own process (`fork`): it POSTs
 * NDJSON requests of records with unique ids from a few concurrent clients until told to stop,
 * resending a request that got no 202 (as a client that needs its records kept would). It
 * appends the ids of every acknowledged request to a file, and on `stop` reports what it offered
 * and when each 202 came.
 *
 *   node bench/faults/http-load.ts <url> <acked-ids file> <records per request> <clients>
 */

import { appendFileSync } from 'node:fs';

/** What the generator sends its parent when it stops. */
export interface LoadReport {
  /** Records offered (each id counts once, however often it was resent). */
  produced: number;
  /** Requests answered 202. */
  requests: number;
  /** Wall-clock times (ms since the epoch) of every 202. */
  ackTimes: number[];
}

const [url, ackedFile, perRequestText, clientsText] = process.argv.slice(2);
const perRequest = Number(perRequestText);
const clients = Number(clientsText);
const retryMs = 50;

let stopping = false;
let produced = 0;
let requests = 0;
const ackTimes: number[] = [];

/** Sends one request until it is answered 202 or the generator stops; true when acknowledged. */
async function deliver(body: string): Promise<boolean> {
  while (!stopping) {
    try {
      const res = await fetch(url, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/x-ndjson' },
        signal: AbortSignal.timeout(30_000),
      });
      await res.arrayBuffer();
      if (res.status === 202) return true;
    } catch {
      // The server is down or restarting: resend.
    }
    await new Promise((r) => setTimeout(r, retryMs));
  }
  return false;
}

async function client(n: number): Promise<void> {
  for (let seq = 0; !stopping; seq++) {
    const ids: string[] = [];
    for (let i = 0; i < perRequest; i++) ids.push(`${n}-${seq}-${i}`);
    produced += ids.length;
    const body = `${ids.map((id) => `{"id":"${id}","n":${n},"seq":${seq}}`).join('\n')}\n`;
    if (await deliver(body)) {
      requests++;
      ackTimes.push(Date.now());
      appendFileSync(ackedFile, `${ids.join('\n')}\n`);
    }
  }
}

const running = Array.from({ length: clients }, (_, n) => client(n));
process.on('message', async (message) => {
  if (message !== 'stop') return;
  stopping = true;
  await Promise.all(running);
  const report: LoadReport = { produced, requests, ackTimes };
  process.send?.(report, () => process.exit(0));
});
process.send?.('ready');
