import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compilePartitionPath, escapeValue, NULL_PARTITION, timeTemplateProblem } from './partition.ts';

const at = Date.UTC(2026, 11, 6, 13, 7, 59);

test('a time template gives the UTC date, hour and minute of the event time', () => {
  const path = compilePartitionPath('dt={yyyy-MM-dd}/hour={HH}/minute={mm}', []);
  assert.equal(path({}, at), 'dt=2026-12-06/hour=13/minute=07');
  assert.equal(path({}, Date.UTC(2027, 0, 1, 0, 0)), 'dt=2027-01-01/hour=00/minute=00');
});

test('fields follow the time folders as key=value, in the order given', () => {
  const path = compilePartitionPath('dt={yyyy-MM-dd}/hour={HH}', ['region', 'kind']);
  assert.equal(path({ region: 'EU', kind: 7 }, at), 'dt=2026-12-06/hour=13/region=EU/kind=7');
  assert.equal(compilePartitionPath(undefined, ['region'])({ region: 'US' }, at), 'region=US');
});

test('a NULL, missing or empty field value is the Hive default partition', () => {
  const path = compilePartitionPath(undefined, ['region']);
  for (const record of [{ region: null }, {}, { region: '' }])
    assert.equal(path(record, at), `region=${NULL_PARTITION}`);
});

test('characters a path or key=value cannot hold are escaped as %XX', () => {
  assert.equal(escapeValue('a/b=c%d'), 'a%2Fb%3Dc%25d');
  assert.equal(escapeValue('line\nbreak'), 'line%0Abreak');
  assert.equal(escapeValue('Zürich EU'), 'Zürich EU');
});

test('time templates are checked: braces, known fields, no leading or trailing slash', () => {
  assert.equal(timeTemplateProblem('dt={yyyy-MM-dd}/hour={HH}'), undefined);
  assert.match(timeTemplateProblem('dt={yyyy-MM-dd') ?? '', /unbalanced/);
  assert.match(timeTemplateProblem('static') ?? '', /no `\{\.\.\.\}`/);
  assert.match(timeTemplateProblem('dt={YYYY}') ?? '', /only yyyy/);
  assert.match(timeTemplateProblem('/dt={yyyy}') ?? '', /starts or ends/);
});
