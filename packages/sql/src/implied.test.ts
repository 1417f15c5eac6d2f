/**
 * CASE branches decided by the filter a map reads: each rewrite checked on its own, and on
 * Nexmark's DDL, where the views' `dateTime` becomes the event's own field.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { builtins, formatExpression, parseExpression, Registry } from '@sluice/core';
import { simplifyCases } from './implied.ts';
import { compileSql } from './index.ts';

const known = new Map<string, number | string | boolean>([
  ['event_type', 2],
  ['bid.channel', 'Google'],
  ['ok', true],
]);
const simplified = (text: string) => formatExpression(simplifyCases(parseExpression(text), known));

test('a WHEN the filter decides is taken or dropped', () => {
  const cases: [string, string][] = [
    // Nexmark's dateTime under `event_type = 2`
    [
      'CASE WHEN event_type = 0 THEN person.dateTime WHEN event_type = 1 THEN auction.dateTime ELSE bid.dateTime END',
      'bid.dateTime',
    ],
    ['CASE WHEN event_type = 2 THEN 1 ELSE 0 END', '1'],
    ['CASE WHEN 2 = event_type THEN 1 END', '1'],
    ['CASE WHEN event_type = 0 THEN 1 END', 'NULL'],
    // an undecided branch before the taken one stays; the taken one becomes the ELSE
    [
      'CASE WHEN price > 10 THEN 1 WHEN event_type = 2 THEN 2 WHEN x = 1 THEN 3 END',
      'CASE WHEN price > 10 THEN 1 ELSE 2 END',
    ],
    [
      'CASE WHEN event_type = 1 THEN 1 WHEN price > 10 THEN 2 ELSE 3 END',
      'CASE WHEN price > 10 THEN 2 ELSE 3 END',
    ],
    // the simple form, members, strings and booleans
    ["CASE event_type WHEN 0 THEN 'p' WHEN 2 THEN 'b' END", "'b'"],
    ["CASE WHEN bid.channel = 'Google' THEN 1 ELSE 0 END", '1'],
    ["CASE WHEN bid.channel = 'Baidu' THEN 1 ELSE 0 END", '0'],
    ['CASE WHEN ok = false THEN 1 ELSE 0 END', '0'],
    // inside other expressions, and nested
    ['upper(CASE WHEN event_type = 2 THEN name END)', 'upper(name)'],
    ['CASE WHEN event_type = 2 THEN CASE WHEN event_type = 1 THEN a ELSE b END END', 'b'],
  ];
  for (const [text, expected] of cases)
    assert.equal(simplified(text), formatExpression(parseExpression(expected)), text);
});

test('what the filter does not decide stays as written', () => {
  for (const text of [
    'CASE WHEN price > 10 THEN 1 ELSE 0 END',
    // a literal of another kind is not compared: '2' is not 2 here
    "CASE WHEN event_type = '2' THEN 1 ELSE 0 END",
    'CASE WHEN other = 2 THEN 1 ELSE 0 END',
    'CASE WHEN event_type <> 2 THEN 1 ELSE 0 END',
    'CASE WHEN event_type = NULL THEN 1 ELSE 0 END',
  ]) {
    const e = parseExpression(text);
    assert.equal(simplifyCases(e, known), e, text);
  }
});

test("Nexmark's views select the event's own dateTime, not the DDL's CASE", () => {
  const dir = join(import.meta.dirname, 'nexmark');
  const tables = readFileSync(join(dir, 'tables.sql'), 'utf8')
    .replace('{{EVENTS}}', '10')
    .replace('{{EVENTS_PER_SECOND}}', '10')
    .replace('{{SEED}}', '1');
  const query = readFileSync(join(dir, 'q0.sql'), 'utf8').replace('{{SINK}}', "'connector' = 'discard'");
  const plan = compileSql(`${tables}\n${query}`, 'q0.sql', { registry: new Registry([builtins]) });
  const map = plan.steps.find((s) => s.type === 'map');
  assert.ok(map);
  assert.deepEqual(
    plan.steps.map((s) => s.type),
    ['filter', 'map'],
  );
  assert.equal((map.config as { fields: { dateTime: string } }).fields.dateTime, 'bid.dateTime');
});
