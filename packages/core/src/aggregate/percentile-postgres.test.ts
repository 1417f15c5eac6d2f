/**
 * percentile_cont and percentile_disc against the real PostgreSQL on 127.0.0.1:5432 (database
 * `test`, trust auth), through `psql`: random groups, small ones (kept exactly: the answers must
 * be PostgreSQL's to the last bit) and large ones (from the sketch: within its stated error).
 * Without PostgreSQL the test says "skipped: postgresql not reachable", except under CI=true.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { seededRandom as random } from '../testing/random.ts';
import { reportMissingService } from '../testing/services.ts';
import { aggregateFunction } from './registry.ts';

const QUANTILES = [0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1];

function psql(sql: string): { ok: boolean; out: string; err: string } {
  const r = spawnSync(
    'psql',
    ['-h', '127.0.0.1', '-p', '5432', '-d', 'test', '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1'],
    {
      input: sql,
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  return { ok: r.status === 0, out: r.stdout ?? '', err: r.stderr ?? String(r.error ?? '') };
}

function reachable(): boolean {
  const probe = psql('select 1;');
  if (probe.ok) return true;
  const message = `postgresql not reachable at 127.0.0.1:5432 through psql (${probe.err.trim().split('\n')[0]})`;
  reportMissingService(message);
  return false;
}

const available = reachable();

/** PostgreSQL's `{a,b,c}` float8 array text as numbers. */
function floats(text: string): number[] {
  return text.slice(1, -1).split(',').map(Number);
}

test('percentile_cont / percentile_disc answer as PostgreSQL does', { skip: !available }, () => {
  const r = random(2024);
  const groups: number[][] = [];
  for (let g = 0; g < 150; g++) {
    const n = 1 + Math.floor(r() * 60);
    const scale = 10 ** Math.floor(r() * 10 - 4);
    groups.push(Array.from({ length: n }, () => (r() < 0.05 ? 0 : (r() < 0.3 ? -1 : 1) * r() * scale)));
  }
  for (const n of [300, 2000, 10_000]) {
    groups.push(Array.from({ length: n }, () => Math.exp(4 * r()) * (r() < 0.1 ? -1 : 1)));
  }
  const rows = groups.flatMap((values, g) => values.map((x) => `(${g},${String(x)}::float8)`));
  const fractions = `array[${QUANTILES.join(',')}]::float8[]`;
  const sql = `select g, percentile_cont(${fractions}) within group (order by x), percentile_disc(${fractions}) within group (order by x) from (values ${rows.join(',')}) t(g, x) group by g order by g;`;
  const answer = psql(sql);
  assert.ok(answer.ok, answer.err);
  const lines = answer.out.trim().split('\n');
  assert.equal(lines.length, groups.length);
  for (const line of lines) {
    const [g, cont, disc] = line.split('|');
    const values = groups[Number(g)];
    const expected = { cont: floats(cont), disc: floats(disc) };
    QUANTILES.forEach((q, i) => {
      for (const kind of ['cont', 'disc'] as const) {
        const fn = aggregateFunction(`percentile_${kind}`, { params: [q] });
        let acc = fn.create();
        for (const x of values) acc = fn.add(acc, x);
        const got = fn.result(acc) as number;
        const want = expected[kind][i];
        const label = `group ${g} (n=${values.length}) ${kind} q=${q}: ours ${got}, PostgreSQL ${want}`;
        if (values.length <= 256) {
          assert.equal(got, want, label);
        } else {
          // the sketch: within 1 % of each value it reads (the interpolated neighbours have one sign here
          // unless the group has both signs, where the bound is 1 % of the larger neighbour)
          const sorted = [...values].sort((a, b) => a - b);
          const h = q * (values.length - 1);
          const neighbours =
            kind === 'cont'
              ? [sorted[Math.floor(h)], sorted[Math.ceil(h)]]
              : [sorted[Math.max(1, Math.ceil(q * values.length)) - 1]];
          const bound = 0.01 * Math.max(...neighbours.map(Math.abs));
          assert.ok(Math.abs(got - want) <= bound * (1 + 1e-9), label);
        }
      }
    });
  }
});
