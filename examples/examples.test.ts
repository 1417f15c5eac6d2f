/**
 * Every example in examples/ runs: each folder's pipeline is copied to a scratch folder inside
 * the repository (so `@sluice/core` resolves), run with the CLI, and must exit 0 and write
 * its results, which `checks` looks at per example. An example whose source never ends (`live`)
 * is fed, watched until its results are in, and stopped with SIGTERM.
 */

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { reportMissingService } from '@sluice/core/testing';
import mqtt from 'mqtt';
import pg from 'pg';

const examples = dirname(fileURLToPath(import.meta.url));

/** The result lines of `out/<file>` in a finished example's folder. */
function results(scratch: string, file: string): { [field: string]: unknown }[] {
  const lines = readFileSync(join(scratch, 'out', file), 'utf8')
    .trim()
    .split('\n');
  assert.ok(lines.length > 0 && lines[0] !== '', `no results in out/${file}`);
  return lines.map((line) => JSON.parse(line) as { [field: string]: unknown });
}

/** Per-region one-minute windows, as the quickstart and the TypeScript example write. */
function perRegion(scratch: string): void {
  for (const r of results(scratch, 'per-region.jsonl'))
    assert.equal(Number(r.window_end) - Number(r.window_start), 60_000);
}

/** The example's PostgreSQL server (the shared one; trust authentication). */
const PG_URL = 'postgres://postgres@127.0.0.1:5432/test';

/** Rows of `sql` on the example's PostgreSQL server. */
async function pgRows(sql: string): Promise<{ [column: string]: unknown }[]> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    return (await client.query(sql)).rows;
  } finally {
    await client.end().catch(() => {});
  }
}

/** The example's MQTT broker (the shared Mosquitto). */
const MQTT_URL = 'mqtt://127.0.0.1:1883';

/** Why the MQTT broker cannot be reached, or undefined. */
async function mqttMissing(): Promise<string | undefined> {
  try {
    const client = await mqtt.connectAsync(MQTT_URL, { connectTimeout: 3_000, reconnectPeriod: 0 });
    await client.endAsync();
    return undefined;
  } catch (err) {
    return `mosquitto not reachable at 127.0.0.1:1883 (${err instanceof Error ? err.message : String(err)})`;
  }
}

/** Why PostgreSQL cannot be reached, or undefined. */
async function pgMissing(): Promise<string | undefined> {
  try {
    await pgRows('SELECT 1');
    return undefined;
  } catch (err) {
    return `postgres not reachable at 127.0.0.1:5432 (${err instanceof Error ? err.message : String(err)})`;
  }
}

/**
 * Why an example that needs a service cannot run here, or undefined: outside CI its test is
 * skipped with the reason; under CI (`CI=true`) a missing service is a failure.
 */
const missing: { readonly [example: string]: () => Promise<string | undefined> } = {
  'orders-to-postgres': pgMissing,
  'sensors-mqtt': async () => (await pgMissing()) ?? (await mqttMissing()),
};

/**
 * An example whose source never ends (an MQTT subscription). Its function in `live` rewrites
 * the scratch copy with this run's names (topics, client id and table unique per run, so reruns
 * and concurrent runs do not meet) and readies its input; the test then starts `sluice run`,
 * waits until `done` sees every expected result, stops the run with SIGTERM — the graceful stop
 * of Ctrl-C: it drains, takes a final checkpoint and exits 0 with `pipeline stopped` — and runs
 * `check`.
 */
interface LiveRun {
  /** Whether every expected result is there yet (polled). */
  done(): Promise<boolean>;
  /** Asserts the results are exactly the expected ones, once the run has stopped. */
  check(scratch: string): Promise<void>;
  /** Removes what the run left on the servers. */
  cleanup(): Promise<void>;
}

/** One sensor reading as the sensors-mqtt example takes it. */
interface Reading {
  readonly device: string;
  readonly temperature: number;
  readonly ts: number;
}

/** One five-minute average of the sensors-mqtt example. */
interface Average {
  readonly device: string;
  readonly window_start: number;
  readonly window_end: number;
  readonly readings: number;
  readonly avg_temperature: number;
}

const FIVE_MINUTES = 300_000;

/**
 * The sensors-mqtt readings: three devices over three five-minute windows from 2026-01-01 (d1
 * silent in the second one), four readings each, in time order; some averages are above 30.
 */
function sensorReadings(): Reading[] {
  const t0 = Date.UTC(2026, 0, 1);
  const readings: Reading[] = [];
  for (let w = 0; w < 3; w++)
    for (let k = 0; k < 4; k++)
      for (let i = 0; i < 3; i++) {
        if (i === 0 && w === 1) continue;
        const ts = t0 + w * FIVE_MINUTES + k * 60_000 + i * 1_000 + 17;
        readings.push({ device: `d${i + 1}`, temperature: 20 + 4 * i + 3 * w + k * 0.5, ts });
      }
  return readings;
}

/** The averages per device and five-minute window of `readings`, computed here, not by Sluice. */
function expectedAverages(readings: readonly Reading[]): Average[] {
  const groups = new Map<string, { device: string; start: number; temperatures: number[] }>();
  for (const r of readings) {
    const start = Math.floor(r.ts / FIVE_MINUTES) * FIVE_MINUTES;
    const id = `${r.device}@${start}`;
    const group = groups.get(id) ?? { device: r.device, start, temperatures: [] };
    group.temperatures.push(r.temperature);
    groups.set(id, group);
  }
  return [...groups.values()].map((g) => ({
    device: g.device,
    window_start: g.start,
    window_end: g.start + FIVE_MINUTES,
    readings: g.temperatures.length,
    avg_temperature: g.temperatures.reduce((n, t) => n + t, 0) / g.temperatures.length,
  }));
}

/** Averages in a stable order, their averages to 9 decimals, for comparing as JSON. */
function sortedAverages(rows: readonly Average[]): Average[] {
  return rows
    .map((r) => ({ ...r, avg_temperature: Number(r.avg_temperature.toFixed(9)) }))
    .sort((a, b) => a.device.localeCompare(b.device) || a.window_start - b.window_start);
}

/** A row or an MQTT alert as an Average (numbers from bigint text or JSON). */
function toAverage(r: { [field: string]: unknown }): Average {
  return {
    device: String(r.device),
    window_start: Number(r.window_start),
    window_end: Number(r.window_end),
    readings: Number(r.readings),
    avg_temperature: Number(r.avg_temperature),
  };
}

/**
 * sensors-mqtt: creates the pipeline's persistent MQTT session (as a run that was stopped
 * would have left it) so that the broker queues the readings published before the run starts,
 * publishes them — and, last, a malformed one whose temperature is text, which must become the
 * one dead letter and whose time (20 minutes on) moves the watermark past every window — and
 * listens to the alerts topic.
 */
async function sensorsMqtt(scratch: string, file: string): Promise<LiveRun> {
  const run = `${process.pid}${Date.now().toString(36)}`;
  const prefix = `sluice-example/sensors-${run}`;
  const clientId = `sluice-example-sensors-${run}`;
  const table = `sluice_example_sensor_averages_${run}`;
  const path = join(scratch, file);
  writeFileSync(
    path,
    readFileSync(path, 'utf8')
      .replaceAll('sluice-example/sensors', prefix)
      .replaceAll('sluice-example-sensors', clientId)
      .replaceAll('sluice_example_sensor_averages', table),
  );
  const readings = sensorReadings();
  const expected = sortedAverages(expectedAverages(readings));
  const expectedAlerts = expected.filter((a) => a.avg_temperature > 30);
  assert.ok(expectedAlerts.length > 0 && expectedAlerts.length < expected.length, 'some alerts, not all');

  const session = await mqtt.connectAsync(MQTT_URL, {
    clientId,
    clean: false,
    protocolVersion: 5,
    properties: { sessionExpiryInterval: 600 },
    reconnectPeriod: 0,
  });
  await session.subscribeAsync(`${prefix}/+/readings`, { qos: 1 });
  await session.endAsync();

  const alerts: Average[] = [];
  const listener = await mqtt.connectAsync(MQTT_URL, { protocolVersion: 5, reconnectPeriod: 0 });
  listener.on('message', (_topic, payload) => {
    alerts.push(toAverage(JSON.parse(payload.toString('utf8')) as { [field: string]: unknown }));
  });
  await listener.subscribeAsync(`${prefix}/alerts`, { qos: 1 });

  const publisher = await mqtt.connectAsync(MQTT_URL, { protocolVersion: 5, reconnectPeriod: 0 });
  for (const r of readings)
    await publisher.publishAsync(`${prefix}/${r.device}/readings`, JSON.stringify(r), { qos: 1 });
  const malformed = { device: 'd2', temperature: 'hot', ts: Date.UTC(2026, 0, 1, 0, 20) };
  await publisher.publishAsync(`${prefix}/d2/readings`, JSON.stringify(malformed), { qos: 1 });
  await publisher.endAsync();

  const rows = async (): Promise<Average[]> => (await pgRows(`SELECT * FROM ${table}`)).map(toAverage);
  return {
    done: async () => {
      if (alerts.length < expectedAlerts.length) return false;
      try {
        return (await rows()).length >= expected.length;
      } catch {
        return false; // the sink has not created the table yet
      }
    },
    check: async (dir) => {
      await sleep(250); // the broker forwards an alert to the listener just after acknowledging it
      assert.deepEqual(sortedAverages(await rows()), expected, 'one row per device and window');
      assert.deepEqual(sortedAverages(alerts), expectedAlerts, 'one alert per average above 30');
      const dead = results(dir, 'dead-letters.jsonl');
      assert.equal(dead.length, 1, 'the malformed reading, and only it, is a dead letter');
      assert.match(JSON.stringify(dead[0]), /valid/);
      assert.match(JSON.stringify(dead[0]), /hot/);
    },
    cleanup: async () => {
      await listener.endAsync().catch(() => {});
      await pgRows(`DROP TABLE IF EXISTS ${table}`).catch(() => {});
      // A clean connect with no session expiry ends the persistent session on the broker.
      const end = await mqtt
        .connectAsync(MQTT_URL, { clientId, clean: true, protocolVersion: 5, reconnectPeriod: 0 })
        .catch(() => undefined);
      await end?.endAsync().catch(() => {});
    },
  };
}

/** Examples that run until stopped, and how each is driven (see LiveRun). */
const live: { readonly [example: string]: (scratch: string, file: string) => Promise<LiveRun> } = {
  'sensors-mqtt': sensorsMqtt,
};

/** What each example must have written. */
const checks: { readonly [example: string]: (scratch: string) => void | Promise<void> } = {
  quickstart: perRegion,
  typescript: perRegion,
  sql: (scratch) => {
    perRegion(scratch);
    for (const r of results(scratch, 'large-orders.jsonl'))
      assert.ok(Number(r.amount_usd) > 450 * 1.1 - 0.01);
  },
  'nexmark-joins': (scratch) => {
    for (const r of results(scratch, 'new-sellers.jsonl')) {
      assert.equal(typeof r.person, 'number');
      assert.equal(Number(r.window_start) % 10_000, 0);
    }
    const perCategory = results(scratch, 'per-category.jsonl');
    assert.ok(perCategory.some((r) => r.category !== null && Number(r.bids) > 0));
  },
  'nexmark-sql': (scratch) => {
    const hot = results(scratch, 'hot-items.jsonl').map((c) => c.after as { [field: string]: unknown });
    assert.ok(hot.some((r) => Number(r.num) > 0 && Number(r.window_end) % 2_000 === 0));
    const top = new Map<unknown, number>();
    for (const c of results(scratch, 'top-bids.jsonl')) {
      const before = c.before as { auction: unknown } | null;
      const after = c.after as { auction: unknown } | null;
      if (before) top.set(before.auction, (top.get(before.auction) ?? 0) - 1);
      if (after) top.set(after.auction, (top.get(after.auction) ?? 0) + 1);
    }
    assert.ok(
      top.size > 0 && [...top.values()].every((n) => n >= 1 && n <= 3),
      'three bids per auction at most',
    );
    for (const r of results(scratch, 'busy-channels.jsonl')) {
      assert.ok(Number(r.bids) >= 20);
      assert.ok(Number(r.bidders) <= Number(r.bids) && Number(r.big_bids) <= Number(r.bids));
    }
  },
  // One row per region, updated in place: the counts add up to the 5,000 generated orders.
  'orders-to-postgres': async () => {
    const rows = await pgRows('SELECT region, orders::int AS orders FROM sluice_example_revenue_by_region');
    assert.ok(rows.length > 1, 'a row per region');
    assert.equal(new Set(rows.map((r) => r.region)).size, rows.length, 'one row per region');
    assert.equal(
      rows.reduce((n, r) => n + Number(r.orders), 0),
      5000,
    );
  },
};
const root = dirname(examples);
const cli = join(root, 'packages/cli/bin/sluice.cjs');

for (const name of readdirSync(examples, { withFileTypes: true })) {
  if (!name.isDirectory()) continue;
  const folder = join(examples, name.name);
  const file = ['pipeline.yaml', 'pipeline.ts', 'pipeline.sql'].find((f) => existsSync(join(folder, f)));
  if (!file) continue;
  test(`example ${name.name} runs and writes its results`, async (t) => {
    const why = await missing[name.name]?.();
    if (why !== undefined) {
      reportMissingService(why);
      return t.skip(why);
    }
    mkdirSync(join(root, '.cache'), { recursive: true });
    const scratch = mkdtempSync(join(root, '.cache', `example-${name.name}-`));
    try {
      cpSync(folder, scratch, {
        recursive: true,
        filter: (src) => !src.includes(`${folder}/out`) && !src.includes(`${folder}/.sluice`),
      });
      const drive = live[name.name];
      if (drive) {
        const running = await drive(scratch, file);
        try {
          const child = spawn(process.execPath, [cli, 'run', join(scratch, file)], {
            stdio: ['ignore', 'ignore', 'pipe'],
          });
          let stderr = '';
          child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
            stderr += chunk;
          });
          const exited = once(child, 'exit');
          const deadline = Date.now() + 60_000;
          let done = false;
          while (!done && child.exitCode === null && Date.now() < deadline) {
            await sleep(200);
            done = await running.done();
          }
          child.kill('SIGTERM');
          const [code] = (await exited) as [number | null];
          assert.ok(
            done,
            `sluice run ${name.name}/${file}: the expected results did not all arrive within 60s:\n${stderr}`,
          );
          assert.equal(code, 0, `sluice run ${name.name}/${file} failed:\n${stderr}`);
          assert.match(stderr, /pipeline stopped/);
          await running.check(scratch);
        } finally {
          await running.cleanup();
        }
        return;
      }
      const run = spawnSync(process.execPath, [cli, 'run', join(scratch, file)], {
        encoding: 'utf8',
        timeout: 120_000,
      });
      assert.equal(run.status, 0, `sluice run ${name.name}/${file} failed:\n${run.stderr}`);
      assert.match(run.stderr, /pipeline completed/);
      const check = checks[name.name];
      assert.ok(check, `examples.test.ts has no check for example ${name.name}: add one`);
      await check(scratch);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
}
