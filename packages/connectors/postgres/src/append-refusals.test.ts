/**
 * `at_least_once` appends keep one COPY open across writes, so the server refuses a row after
 * the write that carried it resolved: against the real server, with bad rows at several
 * positions and writes of 1, 7 and 1,000 records, every good row is written once and every bad
 * row comes back once (`takeRejections`) with PostgreSQL's reason — also through a job, to its
 * dead-letter output. (The crash case, kill -9 mid-write, is in the conformance suite.)
 */

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { builtins, Job, parsePipelineYaml, Registry, type Row, type Sink } from '@sluice/core';
import { postgres } from './index.ts';
import { abortSinks, batchOf, openSink, PG_URL, postgresMissing, TestSchema } from './test-support.ts';

const skip = (await postgresMissing()) ?? false;
const schema = new TestSchema();
const dirs: string[] = [];
after(async () => {
  await abortSinks();
  await schema.drop();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const TOTAL = 2100;
/** Positions of bad rows: first, second, around 7-record writes, around 1,000-record writes, last. */
const BAD = [0, 1, 6, 7, 13, 500, 999, 1000, 1001, 1500, 1501, 2099];
/** Each bad row's fault and the reason PostgreSQL gives for it. */
const FAULTS = [
  {
    row: (id: number): Row => ({ id: `x${id}`, code: 'a' }),
    reason: /invalid input syntax for type integer/,
  },
  {
    row: (id: number): Row => ({ id, code: 'too long' }),
    reason: /value too long for type character varying\(3\)/,
  },
  { row: (id: number): Row => ({ id }), reason: /null value in column "code".*violates not-null constraint/ },
];

function input(): { records: Row[]; reasons: Map<Row, RegExp> } {
  const records: Row[] = [];
  const reasons = new Map<Row, RegExp>();
  for (let id = 0; id < TOTAL; id++) {
    const at = BAD.indexOf(id);
    if (at < 0) {
      records.push({ id, code: `c${id % 10}` });
      continue;
    }
    const fault = FAULTS[at % FAULTS.length];
    const row = fault.row(id);
    records.push(row);
    reasons.set(row, fault.reason);
  }
  return { records, reasons };
}

const goodIds = Array.from({ length: TOTAL }, (_v, id) => id).filter((id) => !BAD.includes(id));

describe('postgres at_least_once append: refusals found in a long-open COPY', { skip }, () => {
  for (const size of [1, 7, 1000]) {
    test(`writes of ${size}: every good row once, every bad row refused once with the server's reason`, async () => {
      const table = schema.table();
      await schema.query(`CREATE TABLE ${table} (id integer, code varchar(3) NOT NULL)`);
      const sink = await openSink({ url: PG_URL, table, batch_size: size });
      const { records, reasons } = input();
      const refused: { record: Row; message: string }[] = [];
      const take = (s: Sink) => {
        for (const r of s.takeRejections?.() ?? []) refused.push(r);
      };
      let checkpoint = 0;
      for (let from = 0, n = 0; from < TOTAL; from += size, n++) {
        const batch = records.slice(from, from + size);
        for (const r of (await sink.write(batchOf(batch))) ?? [])
          refused.push({ record: batch[r.index], ...r });
        take(sink);
        // A checkpoint now and then, not at write boundaries the bad rows line up with.
        if (n % 97 === 50) {
          await sink.prepareCommit?.(++checkpoint);
          take(sink);
        }
      }
      await sink.close();
      take(sink);
      const ids = await schema.query<{ id: number; n: number }>(
        `SELECT id, count(*)::int AS n FROM ${table} GROUP BY id ORDER BY id`,
      );
      assert.deepEqual(
        ids.map((r) => r.id),
        goodIds,
        'every good row is written',
      );
      assert.ok(
        ids.every((r) => r.n === 1),
        'each once',
      );
      assert.equal(refused.length, BAD.length, 'every bad row is refused once');
      const refusedIds = refused.map((r) => String(r.record.id).replace('x', '')).map(Number);
      assert.deepEqual(
        [...refusedIds].sort((a, b) => a - b),
        BAD,
      );
      for (const r of refused) assert.match(r.message, reasons.get(r.record) ?? /no reason expected/);
    });
  }

  test('rows over many COPY windows: a bad row in a COPY already ended (not yet confirmed) is refused once, every good row written once', async () => {
    const table = schema.table('windows');
    await schema.query(`CREATE TABLE ${table} (id integer, code varchar(3) NOT NULL, pad text)`);
    const sink = await openSink({ url: PG_URL, table, batch_size: 100 });
    // ≈ 210 bytes a row: 4,000 rows are ≈ 820 KiB of COPY text, several windows from 32 KiB up.
    const pad = 'p'.repeat(200);
    const bad = new Set([5, 160, 161, 700, 1900, 3999]);
    const records: Row[] = Array.from({ length: 4000 }, (_v, id) =>
      bad.has(id) ? { id, code: 'too long', pad } : { id, code: 'ok', pad },
    );
    const refused: Row[] = [];
    for (let from = 0; from < records.length; from += 100) {
      assert.equal(await sink.write(batchOf(records.slice(from, from + 100))), undefined);
      for (const r of sink.takeRejections?.() ?? []) refused.push(r.record);
    }
    await sink.close();
    for (const r of sink.takeRejections?.() ?? []) refused.push(r.record);
    assert.deepEqual(
      refused.map((r) => Number(r.id)).sort((a, b) => a - b),
      [...bad],
    );
    const ids = await schema.query<{ id: number; n: number }>(
      `SELECT id, count(*)::int AS n FROM ${table} GROUP BY id ORDER BY id`,
    );
    assert.deepEqual(
      ids.map((r) => r.id),
      records.map((r) => Number(r.id)).filter((id) => !bad.has(id)),
    );
    assert.ok(
      ids.every((r) => r.n === 1),
      'each once',
    );
  });

  test('a connection the server terminates while the open COPY holds a bad row: the kept rows are written again on a new one, the bad row refused once', async () => {
    const table = schema.table('broken');
    await schema.query(`CREATE TABLE ${table} (id integer, code varchar(3) NOT NULL)`);
    const sink = await openSink({
      url: PG_URL,
      table,
      retry: { initial_backoff: '10ms', max_backoff: '50ms' },
    });
    const bad = { id: 3, code: 'too long' };
    const first = [{ id: 1, code: 'a' }, { id: 2, code: 'b' }, bad, { id: 4, code: 'd' }];
    assert.equal(await sink.write(batchOf(first)), undefined);
    // The server may or may not have read the bad row yet; either way the transaction is gone with the connection.
    // The write does not wait for the server to start the COPY: its backend may show it a moment later.
    let killed: { ok: boolean }[] = [];
    for (let i = 0; i < 100 && killed.length === 0; i++) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, 20));
      killed = await schema.query<{ ok: boolean }>(
        `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'sluice out' AND query LIKE $1`,
        [`%${table.split('.')[1]}%`],
      );
    }
    assert.deepEqual(killed, [{ ok: true }], 'the sink’s connection was terminated');
    await sink.write(batchOf([{ id: 5, code: 'e' }]));
    await sink.close();
    const refused = sink.takeRejections?.() ?? [];
    assert.deepEqual(
      refused.map((r) => r.record),
      [bad],
      'the bad row, once',
    );
    assert.match(refused[0].message, /value too long for type character varying\(3\)/);
    const ids = await schema.query<{ id: number }>(`SELECT id FROM ${table} ORDER BY id`);
    assert.deepEqual(
      ids.map((r) => r.id),
      [1, 2, 4, 5],
      'every good row once',
    );
  });

  test('in a job: the rows refused after their write go to the dead-letter output with the reason', async () => {
    const table = schema.table('job_append');
    await schema.query(`CREATE TABLE ${table} (id integer, code varchar(3) NOT NULL)`);
    const dir = await mkdtemp(join(tmpdir(), 'sluice-pg-refusals-'));
    dirs.push(dir);
    const { records, reasons } = input();
    await writeFile(join(dir, 'rows.jsonl'), `${records.map((r) => JSON.stringify(r)).join('\n')}\n`);
    const yaml = `
name: pg-refusals-${process.pid}
settings:
  batch_size: 7
  checkpoint: { interval: 20ms, dir: ./checkpoints }
sources:
  rows: { type: file, path: ./rows.jsonl }
sinks:
  out: { type: postgres, input: rows, url: "${PG_URL}", table: ${table} }
dead_letter: { type: file, path: ./dead-letters.jsonl }
`;
    const registry = new Registry([builtins, postgres]);
    const plan = parsePipelineYaml(yaml, join(dir, 'pipeline.yaml'), { registry });
    const job = await Job.create(plan, { registry });
    const result = await job.run();
    assert.equal(result.status, 'completed');
    const ids = await schema.query<{ id: number }>(`SELECT id FROM ${table} ORDER BY id`);
    assert.deepEqual(
      ids.map((r) => r.id),
      goodIds,
      'every good row once',
    );
    const letters = (await readFile(join(dir, 'dead-letters.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { step: string; code: string; message: string; payload: Row });
    assert.equal(letters.length, BAD.length, 'one dead letter per bad row');
    const byId = new Map(records.map((r) => [JSON.stringify(r), r]));
    for (const letter of letters) {
      assert.equal(letter.step, 'out');
      assert.equal(letter.code, 'SINK_REJECTED');
      const record = byId.get(JSON.stringify(letter.payload));
      assert.ok(record !== undefined && reasons.has(record), `a bad row: ${JSON.stringify(letter.payload)}`);
      assert.match(letter.message, reasons.get(record) ?? /no reason expected/);
    }
  });
});
