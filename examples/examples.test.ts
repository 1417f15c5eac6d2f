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
import { BigQueryStandIn } from '@sluice/bigquery/testing';
import { portOpen, reportMissingService } from '@sluice/core/testing';
import { queryFile } from '@sluice/duckdb/testing';
import { consoleConsume, createTopic, deleteTopics, produce } from '@sluice/kafka/testing';
import {
  createTopic as createPubsubTopic,
  PROJECT as PUBSUB_PROJECT,
  PubSubStandIn,
  publish,
} from '@sluice/pubsub/testing';
import { TestBucket } from '@sluice/s3/testing';
import cassandra from 'cassandra-driver';
import mqtt from 'mqtt';
import pg from 'pg';
import { createClient } from 'redis';

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

/** The example's Redis (the shared one). */
const REDIS_URL = 'redis://127.0.0.1:6379';

/** Runs `use` with a client of the example's Redis. */
async function withRedis<T>(use: (client: ReturnType<typeof createClient>) => Promise<T>): Promise<T> {
  const client = createClient({
    url: REDIS_URL,
    socket: { connectTimeout: 3_000, reconnectStrategy: false },
  });
  client.on('error', () => {});
  await client.connect();
  try {
    return await use(client as ReturnType<typeof createClient>);
  } finally {
    client.destroy();
  }
}

/** Why Redis cannot be reached, or undefined. */
async function redisMissing(): Promise<string | undefined> {
  try {
    await withRedis((client) => client.ping());
    return undefined;
  } catch (err) {
    return `redis not reachable at 127.0.0.1:6379 (${err instanceof Error ? err.message : String(err)})`;
  }
}

/** The example's Cassandra node (the one `scripts/services.sh up cassandra` starts). */
const CASSANDRA_HOST = '127.0.0.1:9042';

/** Runs `use` with a client of the example's Cassandra node. */
async function withCassandra<T>(use: (client: cassandra.Client) => Promise<T>): Promise<T> {
  const client = new cassandra.Client({
    contactPoints: [CASSANDRA_HOST],
    localDataCenter: 'datacenter1',
    socketOptions: { connectTimeout: 3_000, readTimeout: 60_000 },
  });
  try {
    await client.connect();
    return await use(client);
  } finally {
    await client.shutdown().catch(() => {});
  }
}

/** Why Cassandra cannot be reached, or undefined. */
async function cassandraMissing(): Promise<string | undefined> {
  return (await portOpen(CASSANDRA_HOST))
    ? undefined
    : `cassandra not reachable at ${CASSANDRA_HOST} (bash scripts/services.sh up cassandra)`;
}

/** Runs the statements of a CQL file (separated by semicolons; `--` comments). */
async function runCql(file: string): Promise<void> {
  const statements = readFileSync(file, 'utf8')
    .replace(/--.*$/gm, '')
    .split(';')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  await withCassandra(async (client) => {
    for (const statement of statements) await client.execute(statement);
  });
}

/** The fraud-scoring example's alert threshold (its `alerts` filter). */
const FRAUD_THRESHOLD = 0.8;

/** The alerts topic of each fraud-scoring run, by scratch folder (unique per run). */
const fraudTopics = new Map<string, string>();

/**
 * fraud-scoring: points the scratch copy's Kafka sink at a topic of this run's own (so reruns
 * and concurrent runs do not meet) and creates it.
 */
async function prepareFraudScoring(scratch: string): Promise<void> {
  const topic = `sluice-example-fraud-alerts-${process.pid}-${Date.now().toString(36)}`;
  const path = join(scratch, 'pipeline.yaml');
  const yaml = readFileSync(path, 'utf8');
  assert.match(yaml, /topic: sluice-example-fraud-alerts\n/);
  writeFileSync(path, yaml.replace('topic: sluice-example-fraud-alerts\n', `topic: ${topic}\n`));
  await createTopic(topic, 1);
  fraudTopics.set(scratch, topic);
}

/** What an example needs on its servers before it runs (tables its sinks write to). */
const prepare: { readonly [example: string]: (scratch: string) => Promise<void> } = {
  'clickstream-sessions': (scratch) => runCql(join(scratch, 'schema.cql')),
  'fraud-scoring': prepareFraudScoring,
};

/**
 * Why an example that needs a service cannot run here, or undefined: outside CI its test is
 * skipped with the reason; under CI (`CI=true`) a missing service is a failure.
 */
const missing: { readonly [example: string]: () => Promise<string | undefined> } = {
  'orders-to-postgres': pgMissing,
  'leaderboard-redis': redisMissing,
  'clickstream-sessions': async () => (await cassandraMissing()) ?? (await redisMissing()),
  'sensors-mqtt': async () => (await pgMissing()) ?? (await mqttMissing()),
  'sensor-anomaly-mqtt': async () => (await redisMissing()) ?? (await mqttMissing()),
  'orders-cdc-kafka': async () => (await pgMissing()) ?? (await kafkaMissing()),
  'fraud-scoring': () => kafkaMissing(),
  'orders-to-s3-parquet': async () =>
    (await kafkaMissing()) ??
    ((await portOpen('127.0.0.1:9000'))
      ? undefined
      : 's3proxy not reachable at 127.0.0.1:9000 (scripts/services.sh up s3)'),
};

/** Why the Kafka broker cannot be reached, or undefined. */
async function kafkaMissing(): Promise<string | undefined> {
  return (await portOpen('127.0.0.1:9092'))
    ? undefined
    : 'kafka not reachable at 127.0.0.1:9092 (scripts/services.sh up kafka)';
}

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

/**
 * orders-cdc-kafka: creates this run's two tables with their first rows; once the pipeline
 * streams both (its slots are in use), changes both — a customer's tier, an order's amount, an
 * order deleted, one added, and last one transaction over both tables — and waits until both
 * slots have confirmed that last transaction, which they do only once a checkpoint covering it
 * is durable, when the sink has written what came of it. The topic, folded by key, must then equal
 * the join PostgreSQL computes over the final tables.
 */
async function ordersCdcKafka(scratch: string, file: string): Promise<LiveRun> {
  const run = `${process.pid}_${Date.now().toString(36)}`;
  const customers = `sluice_example_customers_${run}`;
  const orders = `sluice_example_orders_${run}`;
  const slots = [`sluice_example_cdc_orders_${run}`, `sluice_example_cdc_customers_${run}`];
  const topic = `sluice-example-orders-enriched-${run}`;
  const path = join(scratch, file);
  writeFileSync(
    path,
    readFileSync(path, 'utf8')
      .replaceAll('sluice_example_customers', customers)
      .replaceAll('sluice_example_orders', orders)
      .replaceAll('sluice_example_cdc_orders', slots[0])
      .replaceAll('sluice_example_cdc_customers', slots[1])
      .replaceAll('sluice-example-orders-enriched', topic),
  );
  await createTopic(topic, 3, { 'cleanup.policy': 'compact' });
  await pgRows(`CREATE TABLE ${customers} (id int PRIMARY KEY, name text, tier text);
    CREATE TABLE ${orders} (id int PRIMARY KEY, customer_id int, amount double precision);
    ALTER TABLE ${customers} REPLICA IDENTITY FULL;
    ALTER TABLE ${orders} REPLICA IDENTITY FULL;
    INSERT INTO ${customers} SELECT i, 'customer ' || i, CASE WHEN i % 3 = 0 THEN 'gold' ELSE 'basic' END FROM generate_series(1, 10) i;
    INSERT INTO ${orders} SELECT i, i % 12 + 1, i * 1.5 FROM generate_series(1, 60) i;`);

  /** The LSN before the last transaction: a slot past it has confirmed that transaction. */
  let before: string | undefined;
  const slotRows = () =>
    pgRows(
      `SELECT slot_name, active, confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name IN ('${slots.join("','")}')`,
    );
  const expected = async () =>
    (
      await pgRows(
        `SELECT o.id AS order_id, o.amount, c.name AS customer, c.tier FROM ${orders} o JOIN ${customers} c ON o.customer_id = c.id ORDER BY o.id`,
      )
    ).map((r) => JSON.stringify(r));
  return {
    done: async () => {
      const found = await slotRows();
      if (before === undefined) {
        // Both sources stream once both slots are in use: change the tables now.
        if (found.length < 2 || !found.every((s) => s.active === true)) return false;
        await pgRows(`UPDATE ${customers} SET tier = 'platinum' WHERE id = 3;
          UPDATE ${orders} SET amount = amount * 10 WHERE id % 7 = 0;
          DELETE FROM ${orders} WHERE id IN (5, 6);
          INSERT INTO ${orders} VALUES (100, 2, 99.5);`);
        before = String((await pgRows('SELECT pg_current_wal_lsn()::text AS lsn'))[0].lsn);
        await pgRows(`BEGIN; UPDATE ${customers} SET name = 'renamed' WHERE id = 2;
          INSERT INTO ${orders} VALUES (101, 2, 1.25); COMMIT;`);
        return false;
      }
      const passed = await pgRows(
        `SELECT count(*)::int AS n FROM pg_replication_slots WHERE slot_name IN ('${slots.join("','")}') AND confirmed_flush_lsn > '${before}'::pg_lsn`,
      );
      return passed[0].n === 2;
    },
    check: async () => {
      const table = new Map<string, string>();
      for (const m of await consoleConsume(topic, { idleMs: 5_000, atLeast: 1 })) {
        if (m.key === null) continue;
        if (m.value === null) table.delete(m.key);
        else table.set(m.key, m.value);
      }
      const got = [...table.entries()]
        .sort((a, b) => Number(a[0]) - Number(b[0]))
        .map(([, value]) => {
          const row = JSON.parse(value) as { [field: string]: unknown };
          return JSON.stringify({
            order_id: row.order_id,
            amount: row.amount,
            customer: row.customer,
            tier: row.tier,
          });
        });
      assert.deepEqual(got, await expected(), 'the topic, folded by key, is the join over the final tables');
    },
    cleanup: async () => {
      for (const slot of slots) {
        await pgRows(
          `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '${slot}' AND active_pid IS NOT NULL`,
        ).catch(() => {});
        for (let i = 0; i < 20; i++) {
          const gone = await pgRows(
            `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '${slot}' AND NOT active`,
          ).catch(() => []);
          if (
            gone.length > 0 ||
            (await pgRows(`SELECT 1 FROM pg_replication_slots WHERE slot_name = '${slot}'`)).length === 0
          )
            break;
          await sleep(100);
        }
        await pgRows(`DROP PUBLICATION IF EXISTS ${slot}`).catch(() => {});
      }
      await pgRows(`DROP TABLE IF EXISTS ${orders}, ${customers}`).catch(() => {});
      await deleteTopics(topic);
    },
  };
}

/** One reading of the sensor-anomaly-mqtt example. */
interface AnomalyReading {
  readonly device: string;
  readonly temperature: number;
  readonly humidity: number;
  readonly ts: number;
}

/**
 * Readings per device in sensor-anomaly-mqtt (3 × 300 + 1 stays under Mosquitto's default of
 * 1,000 messages queued for an offline session), and the ones with an injected spike.
 */
const ANOMALY_READINGS = 300;
const SPIKES = [110, 170, 230, 280];

/**
 * The sensor-anomaly-mqtt readings: three devices, one reading a second each, temperature and
 * humidity around each device's own level with seeded noise; at the SPIKES indices the
 * temperature jumps 12 °C (24 standard deviations).
 */
function anomalyReadings(): { readings: AnomalyReading[]; spikes: Set<string> } {
  let seed = 12345;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const noise = () => (random() + random() + random() - 1.5) * 0.7; // about N(0, 0.35)
  const t0 = Date.UTC(2026, 0, 1);
  const readings: AnomalyReading[] = [];
  const spikes = new Set<string>();
  for (let k = 0; k < ANOMALY_READINGS; k++)
    for (let i = 0; i < 3; i++) {
      const ts = t0 + k * 1_000 + i * 10;
      const spike = SPIKES.includes(k);
      const device = `d${i + 1}`;
      if (spike) spikes.add(`${device}:${ts}`);
      readings.push({
        device,
        temperature: Number((20 + 2 * i + noise() + (spike ? 12 : 0)).toFixed(2)),
        humidity: Number((40 + 5 * i + 2 * noise()).toFixed(2)),
        ts,
      });
    }
  return { readings, spikes };
}

/**
 * sensor-anomaly-mqtt: creates the pipeline's persistent MQTT session so that the broker queues
 * the readings published before the run starts, publishes them and, last, a malformed one (its
 * humidity is text), which must be the one dead letter. Done once that dead letter is written
 * and every injected spike is in Redis; the check then wants every spike flagged and at most 1% of the other readings.
 */
async function sensorAnomalyMqtt(scratch: string, file: string): Promise<LiveRun> {
  const run = `${process.pid}${Date.now().toString(36)}`;
  const prefix = `sluice-example/anomaly-${run}`;
  const clientId = `sluice-example-anomaly-${run}`;
  const keys = `sluice:example:anomaly-${run}`;
  const path = join(scratch, file);
  writeFileSync(
    path,
    readFileSync(path, 'utf8')
      .replaceAll('sluice-example/anomaly', prefix)
      .replaceAll('sluice-example-anomaly', clientId)
      .replaceAll('sluice:example:anomaly', keys),
  );
  const { readings, spikes } = anomalyReadings();
  const session = await mqtt.connectAsync(MQTT_URL, {
    clientId,
    clean: false,
    protocolVersion: 5,
    properties: { sessionExpiryInterval: 600 },
    reconnectPeriod: 0,
  });
  await session.subscribeAsync(`${prefix}/+/readings`, { qos: 1 });
  await session.endAsync();
  const publisher = await mqtt.connectAsync(MQTT_URL, { protocolVersion: 5, reconnectPeriod: 0 });
  await Promise.all(
    readings.map((r) =>
      publisher.publishAsync(`${prefix}/${r.device}/readings`, JSON.stringify(r), { qos: 1 }),
    ),
  );
  const malformed = { device: 'd2', temperature: 22, humidity: 'damp', ts: Date.UTC(2026, 0, 1, 1) };
  await publisher.publishAsync(`${prefix}/d2/readings`, JSON.stringify(malformed), { qos: 1 });
  await publisher.endAsync();

  const flagged = () =>
    withRedis(async (client) => {
      const found: { [field: string]: string }[] = [];
      for await (const batch of client.scanIterator({ MATCH: `${keys}:*`, COUNT: 1000 }))
        for (const key of batch) found.push({ ...(await client.hGetAll(key)) });
      return found;
    });
  return {
    done: async () => {
      // The malformed reading was published last: its dead letter (in the file sink's part, which
      // is renamed when the run stops) means every reading was read.
      const out = join(scratch, 'out');
      if (
        !existsSync(out) ||
        !readdirSync(out).some((f) => readFileSync(join(out, f), 'utf8').includes('damp'))
      )
        return false;
      const found = await flagged();
      return [...spikes].every((s) => found.some((f) => `${f.device}:${f.ts}` === s));
    },
    check: async (dir) => {
      const found = await flagged();
      const ids = new Set(found.map((f) => `${f.device}:${f.ts}`));
      for (const s of spikes) assert.ok(ids.has(s), `spike ${s} flagged`);
      const others = [...ids].filter((id) => !spikes.has(id));
      assert.ok(others.length <= 0.01 * readings.length, `${others.length} normal readings flagged`);
      for (const f of found)
        assert.ok(Number(f.anomaly_score) > 0.2 && Number(f.anomaly_score) <= 1, f.anomaly_score);
      const dead = results(dir, 'dead-letters.jsonl');
      assert.equal(dead.length, 1, 'the malformed reading, and only it, is a dead letter');
      assert.match(JSON.stringify(dead[0]), /damp/);
    },
    cleanup: async () => {
      await withRedis(async (client) => {
        for await (const batch of client.scanIterator({ MATCH: `${keys}:*`, COUNT: 1000 }))
          if (batch.length > 0) await client.del(batch);
      }).catch(() => {});
      const end = await mqtt
        .connectAsync(MQTT_URL, { clientId, clean: true, protocolVersion: 5, reconnectPeriod: 0 })
        .catch(() => undefined);
      await end?.endAsync().catch(() => {});
    },
  };
}

/**
 * The pubsub-to-bigquery example against the packages' stand-ins of Pub/Sub and BigQuery
 * (started here; no Google service is reached): orders published, totals per region computed
 * here and compared with the BigQuery table the run keeps by MERGE.
 */
async function pubsubToBigquery(scratch: string, file: string): Promise<LiveRun> {
  const token = `example-${process.pid}`;
  const pubsubServer = new PubSubStandIn();
  const bigqueryServer = new BigQueryStandIn(token);
  await pubsubServer.start();
  await bigqueryServer.start();
  const path = join(scratch, file);
  writeFileSync(
    path,
    readFileSync(path, 'utf8')
      .replace(/\$\{PUBSUB_ENDPOINT:-[^}]*\}/, pubsubServer.endpoint)
      .replace(/\$\{BIGQUERY_ENDPOINT:-[^}]*\}/, bigqueryServer.endpoint)
      .replace(/\$\{BIGQUERY_TOKEN:-[^}]*\}/, token)
      .replaceAll(/\$\{GCP_PROJECT:-[^}]*\}/g, PUBSUB_PROJECT),
  );
  // The stand-ins' project, for both services.
  await createPubsubTopic(pubsubServer, 'orders');
  bigqueryServer.createTable(PUBSUB_PROJECT, 'analytics', 'totals_by_region', [
    { name: 'region', type: 'STRING', mode: 'REQUIRED' },
    { name: 'orders', type: 'INTEGER' },
    { name: 'revenue', type: 'FLOAT' },
  ]);
  const regions = ['EU', 'US', 'APAC'];
  const orders = Array.from({ length: 60 }, (_, i) => ({
    id: i,
    region: regions[i % 3],
    amount: (i % 7) + 0.25,
  }));
  const expected = new Map<string, { orders: number; revenue: number }>();
  for (const o of orders) {
    const t = expected.get(o.region as string) ?? { orders: 0, revenue: 0 };
    t.orders++;
    t.revenue += o.amount;
    expected.set(o.region as string, t);
  }
  const table = () =>
    (bigqueryServer.tables.get(`${PUBSUB_PROJECT}.analytics.totals_by_region`)?.rows ?? [])
      .map((r) => ({ region: String(r.region), orders: Number(r.orders), revenue: Number(r.revenue) }))
      .sort((a, b) => a.region.localeCompare(b.region));
  const want = [...expected]
    .map(([region, t]) => ({ region, ...t }))
    .sort((a, b) => a.region.localeCompare(b.region));
  let published = false;
  return {
    async done() {
      // The run creates the subscription at start; publish once it exists.
      if (
        !published &&
        pubsubServer.subscriptions.has(`projects/${PUBSUB_PROJECT}/subscriptions/orders-sluice`)
      ) {
        await publish(pubsubServer, 'orders', orders);
        published = true;
      }
      return published && JSON.stringify(table()) === JSON.stringify(want);
    },
    async check() {
      assert.deepEqual(table(), want);
    },
    async cleanup() {
      await pubsubServer.stop();
      await bigqueryServer.stop();
    },
  };
}

/** Examples that run until stopped, and how each is driven (see LiveRun). */
/**
 * orders-to-s3-parquet: points the scratch copy at this run's topic, group and bucket, and fills
 * the topic with orders over three hours of event time in three regions, two of them invalid.
 * Once every valid order is in a published Parquet object, each object is read back with DuckDB:
 * every order is there once, in the folder of its day, hour and region.
 */
async function ordersToS3Parquet(scratch: string, file: string): Promise<LiveRun> {
  const run = `${process.pid}-${Date.now().toString(36)}`;
  const topic = `sluice-example-orders-${run}`;
  const bucket = await TestBucket.create('sluice-example-orders');
  const path = join(scratch, file);
  const yaml = readFileSync(path, 'utf8');
  assert.match(yaml, /topics: \[sluice-example-orders\]/);
  writeFileSync(
    path,
    yaml
      .replace('topics: [sluice-example-orders]', `topics: [${topic}]`)
      .replace('group_id: sluice-example-orders-to-s3', `group_id: ${topic}-to-s3`)
      .replace('bucket: sluice-example-orders', `bucket: ${bucket.name}`),
  );
  await createTopic(topic, 3);
  const T0 = Date.UTC(2026, 11, 6, 22, 0, 0); // three hours across midnight: two days' folders
  const regions = ['EU', 'US', 'APAC'];
  const valid: { order_id: number; region: string; amount: number; ts: number }[] = [];
  for (let i = 1; i <= 900; i++) {
    valid.push({ order_id: i, region: regions[i % 3], amount: (i % 50) + 0.5, ts: T0 + i * 12_000 });
  }
  const invalid = [
    { order_id: 901, region: 'MARS', amount: 3, ts: T0 },
    { order_id: 902, region: 'EU', amount: -1, ts: T0 },
  ];
  await produce(
    topic,
    [...valid, ...invalid].map((o) => ({
      partition: o.order_id % 3,
      key: String(o.order_id),
      value: JSON.stringify({ ...o, items: [{ sku: `s${o.order_id % 7}`, qty: 1 + (o.order_id % 3) }] }),
    })),
  );
  const folder = (ts: number, region: string) => {
    const d = new Date(ts).toISOString();
    return `orders/dt=${d.slice(0, 10)}/hour=${d.slice(11, 13)}/region=${region}/`;
  };
  let seen = -1;
  return {
    done: async () => {
      const keys = (await bucket.keys('orders/')).filter((k) => k.endsWith('.parquet'));
      if (keys.length === seen) return false;
      seen = keys.length;
      return (await bucket.parquetRecords('orders/')).length >= valid.length;
    },
    check: async (dir) => {
      const ids: number[] = [];
      for (const key of (await bucket.keys('orders/')).filter((k) => k.endsWith('.parquet'))) {
        for (const r of await bucket.parquetRecords(key)) {
          const order = valid[Number(r.order_id) - 1];
          assert.equal(Number(r.amount), order.amount);
          assert.ok(key.startsWith(folder(order.ts, order.region)), `${key} holds order ${r.order_id}`);
          assert.deepEqual(r.items, [{ sku: `s${order.order_id % 7}`, qty: 1 + (order.order_id % 3) }]);
          ids.push(Number(r.order_id));
        }
      }
      assert.deepEqual(
        ids.sort((a, b) => a - b),
        valid.map((o) => o.order_id),
        'every valid order once',
      );
      const dead = results(dir, 'dead-letters.jsonl').map((d) => String(d.message));
      assert.equal(dead.length, 2);
      assert.ok(dead.some((m) => /region/.test(m)) && dead.some((m) => /amount/.test(m)), dead.join('\n'));
    },
    cleanup: async () => {
      await deleteTopics(topic);
      await bucket.dispose();
    },
  };
}

const live: { readonly [example: string]: (scratch: string, file: string) => Promise<LiveRun> } = {
  'orders-to-s3-parquet': ordersToS3Parquet,
  'sensors-mqtt': sensorsMqtt,
  'sensor-anomaly-mqtt': sensorAnomalyMqtt,
  'orders-cdc-kafka': ordersCdcKafka,
  'pubsub-to-bigquery': pubsubToBigquery,
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
  // Every transaction but the two malformed ones is scored; each scored transaction with a valid
  // label is counted in one one-minute window of label time; the model learns from the delayed
  // labels (AUC well above chance after the first minute). The malformed records are dead letters,
  // each with its reason (the malformed label twice: both steps that read labels refuse it), and
  // the labels of the two refused transactions, which match no held features, are late. The
  // alerts topic holds exactly the scored transactions above the threshold, each once.
  'fraud-scoring': async (scratch) => {
    const scored = results(scratch, 'scored.jsonl');
    assert.equal(scored.length, 4000 - 2);
    const metrics = results(scratch, 'metrics.jsonl');
    assert.ok(metrics.length >= 5, 'a window per minute');
    for (const m of metrics) {
      assert.equal(Number(m.window_end) - Number(m.window_start), 60_000);
      assert.ok(Number(m.accuracy) >= 0 && Number(m.accuracy) <= 1);
    }
    assert.equal(
      metrics.reduce((n, m) => n + Number(m.records), 0),
      scored.length - 1,
      'every scored transaction but the one with the malformed label is evaluated',
    );
    const later = metrics.slice(1);
    assert.ok(later.reduce((n, m) => n + Number(m.auc), 0) / later.length > 0.7, 'AUC above 0.7');
    // In the order the two sources happened to be read: each reason once.
    const dead = results(scratch, 'dead-letters.jsonl').map((d) => `${d.step}: ${d.message}`);
    assert.equal(dead.length, 4);
    for (const reason of [
      /^scored: .*'amount' holds "n\/a", not a finite number/,
      /^scored: .*'hour' is missing/,
      /^scored: .*'is_fraud' holds "unknown", not a binary label/,
      /^valid_labels: .*IS TRUE needs a boolean, got string 'unknown'/,
    ])
      assert.equal(
        dead.filter((d) => reason.test(d)).length,
        1,
        `one dead letter ${reason}: ${dead.join('; ')}`,
      );
    assert.deepEqual(
      results(scratch, 'late-labels.jsonl')
        .map((l) => l.txn_id)
        .sort(),
      ['t1000', 't3000'],
    );

    const topic = fraudTopics.get(scratch);
    assert.ok(topic, 'the alerts topic was prepared');
    try {
      const expected = scored
        .filter((r) => Number(r.fraud_probability) > FRAUD_THRESHOLD)
        .map((r) => String(r.txn_id))
        .sort();
      assert.ok(expected.length > 10, 'some transactions are alerts');
      const alerts = await consoleConsume(topic, { idleMs: 5_000, atLeast: expected.length });
      for (const m of alerts) {
        assert.ok(m.value !== null);
        const alert = JSON.parse(m.value) as { [field: string]: unknown };
        assert.ok(Number(alert.fraud_probability) > FRAUD_THRESHOLD, `alert ${m.value} above the threshold`);
        assert.equal(m.key, alert.txn_id, 'keyed by txn_id');
      }
      assert.equal(alerts.length, expected.length, 'an alert per scored transaction above the threshold');
      assert.deepEqual(alerts.map((m) => m.key).sort(), expected);
    } finally {
      fraudTopics.delete(scratch);
      await deleteTopics(topic);
    }
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
  // One row per region and five-second window, upserted into the DuckDB file: no key twice, every
  // window five seconds long, and the counts add up to the 5,000 generated orders.
  'orders-to-duckdb': async (scratch) => {
    const rows = await queryFile(
      join(scratch, 'out/orders.duckdb'),
      'SELECT region, window_start, window_end, orders, revenue FROM revenue_per_window',
    );
    assert.ok(rows.length > 8, 'several windows per region');
    assert.equal(
      new Set(rows.map((r) => `${r.region}/${r.window_start}`)).size,
      rows.length,
      'one row per key',
    );
    for (const r of rows) assert.equal(Number(r.window_end) - Number(r.window_start), 5_000);
    assert.equal(
      rows.reduce((n, r) => n + Number(r.orders), 0),
      5000,
    );
  },
  // The sorted set ranks every region by its final revenue; the hashes' counts add up to 5,000.
  // The keys are removed afterwards (the shared server keeps nothing of the example).
  'leaderboard-redis': () =>
    withRedis(async (client) => {
      const board = await client.zRangeWithScores('sluice:example:revenue', 0, -1);
      const keys = ['sluice:example:revenue', ...board.map((m) => `sluice:example:region:${m.value}`)];
      try {
        assert.ok(board.length > 1, 'a member per region');
        let orders = 0;
        for (const { value: region, score } of board) {
          const totals = { ...(await client.hGetAll(`sluice:example:region:${region}`)) };
          assert.equal(totals.region, region);
          assert.equal(Number(totals.revenue), score, 'the same final revenue in both');
          orders += Number(totals.orders);
        }
        assert.equal(orders, 5000);
      } finally {
        await client.del(keys);
      }
    }),
  // Every click is in exactly one session row in Cassandra, and each user's score on the Redis
  // board is the sum of that user's session rows: two sinks fed from one stream agree.
  'clickstream-sessions': () =>
    withRedis(async (redis) => {
      const board = 'sluice:example:session-board';
      try {
        const scores = new Map(
          (await redis.zRangeWithScores(board, 0, -1)).map((m) => [m.value, m.score] as const),
        );
        const rows = await withCassandra(
          async (client) =>
            (
              await client.execute(
                'SELECT user_id, window_start, window_end, clicks FROM sluice_example.session_history',
                [],
                { fetchSize: 0 },
              )
            ).rows,
        );
        const perUser = new Map<string, number>();
        let clicks = 0;
        for (const row of rows) {
          const n = Number(row.get('clicks'));
          clicks += n;
          perUser.set(row.get('user_id'), (perUser.get(row.get('user_id')) ?? 0) + n);
          assert.ok(row.get('window_end') > row.get('window_start'), 'a session ends after it starts');
        }
        assert.equal(clicks, 5000, 'every click in one session');
        assert.ok(rows.length > 50, 'several sessions per user');
        assert.equal(scores.size, 50, 'a member per user');
        assert.deepEqual(new Map([...perUser].sort()), new Map([...scores].sort()));
      } finally {
        await redis.del(board);
      }
    }),
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
      await prepare[name.name]?.(scratch);
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
