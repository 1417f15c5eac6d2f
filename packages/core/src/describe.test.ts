import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Type } from 'typebox';
import { describeComponent, optionsTable } from './describe.ts';
import { aggregateStep } from './operators/aggregate-step.ts';
import { defineStep } from './spec.ts';

/** The table rows of a rendered reference, as `option → cells` (the last row of each option). */
function rowsOf(markdown: string): Map<string, string[]> {
  return new Map(allRowsOf(markdown));
}

function allRowsOf(markdown: string): [string, string[]][] {
  const out: [string, string[]][] = [];
  for (const line of markdown.split('\n')) {
    const m = /^\| `([^`]+)` \|(.*)\|$/.exec(line);
    if (m) out.push([m[1], m[2].split(/(?<!\\)\|/).map((c) => c.trim())]);
  }
  return out;
}

describe('describeComponent', () => {
  test('lists the options of every form of a window, with the forms that take each', () => {
    const rows = rowsOf(describeComponent(aggregateStep));
    assert.deepEqual(rows.get('window.type')?.slice(0, 2), [
      '"tumbling" \\| "hopping" \\| "session" \\| "cumulative"',
      'yes',
    ]);
    const option = (name: string) => {
      const row = rows.get(name);
      assert.ok(row, `no row for ${name} in:\n${[...rows.keys()].join('\n')}`);
      return { type: row[0], required: row[1], description: row[3] };
    };
    assert.match(option('window.slide').description, /^`hopping`: Distance between starts\./);
    assert.equal(option('window.slide').required, 'yes');
    assert.match(option('window.gap').description, /^`session`: /);
    assert.match(option('window.step').description, /^`cumulative`: /);
    assert.match(option('window.offset').description, /^`tumbling`: /);
    assert.equal(option('window.offset').required, '');
    const sizes = allRowsOf(describeComponent(aggregateStep)).filter(([name]) => name === 'window.size');
    assert.deepEqual(
      sizes.map(([, cells]) => cells[3]),
      ['`tumbling`, `hopping`: Window length.', '`cumulative`: Length of the period the windows grow over.'],
    );
    assert.equal(option('window').type, 'object');
  });

  test('marks an option with a default as not required, whether or not it is Type.Optional', () => {
    const spec = defineStep({
      type: 'x',
      summary: 'X.',
      config: Type.Object({
        a: Type.String({ default: 'd', description: 'A.' }),
        b: Type.String({ description: 'B.' }),
        c: Type.Optional(Type.Integer({ default: 3 })),
        list: Type.Array(Type.Object({ name: Type.String({ description: 'Name.' }) }), { default: [] }),
      }),
      create: () => ({ processBatch() {} }),
    });
    const rows = rowsOf(describeComponent(spec));
    assert.deepEqual(rows.get('a'), ['string', '', '`"d"`', 'A.']);
    assert.deepEqual(rows.get('b'), ['string', 'yes', '', 'B.']);
    assert.deepEqual(rows.get('c'), ['integer', '', '`3`', '']);
    assert.deepEqual(rows.get('list[].name'), ['string', 'yes', '', 'Name.']);
  });
});

describe('optionsTable', () => {
  test('is empty for a schema without options', () => {
    assert.equal(optionsTable(Type.Object({})), '');
  });
});
