import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import {
  describeExpressions,
  fieldPathsRead,
  groupedExpression,
  resultOnSample,
  syntaxErrorOf,
} from './describe-expressions.ts';
import { parseExpression } from './expr/parser.ts';
import { expressionSections, mistakes, precedenceLevels, yamlExamples } from './expression-examples.ts';

const grouped = (text: string) => groupedExpression(parseExpression(text));

describe('the expression reference', () => {
  test('every example parses, and the grouped form parses back to the same tree', () => {
    const shape = (text: string) =>
      JSON.stringify(parseExpression(text), (k, v) => (k === 'start' || k === 'end' ? undefined : v));
    for (const section of expressionSections) {
      for (const { text } of section.examples) assert.equal(shape(grouped(text)), shape(text), text);
    }
    for (const { example } of precedenceLevels)
      assert.equal(shape(grouped(example)), shape(example), example);
  });

  test('the precedence table is in the order the parser binds, loosest first', () => {
    assert.deepEqual(
      precedenceLevels.map((l) => grouped(l.example)),
      [
        'a OR (b AND c)',
        '(NOT a) AND b',
        'NOT (a IS NULL)',
        '(a = b) IS TRUE',
        'a = (b LIKE c)',
        'a LIKE (b || c)',
        'a || (b + c)',
        'a + (b * c)',
        '(-a) * b',
        '-CAST(a AS DOUBLE)',
        'CAST(a.b[0] AS BIGINT)',
      ],
    );
  });

  test('double quotes name a field: region = "eu" reads a field named eu and fails on a record without it', () => {
    assert.deepEqual(fieldPathsRead(parseExpression('region = "eu"')), ['region', 'eu']);
    assert.deepEqual(fieldPathsRead(parseExpression("region = 'eu'")), ['region']);
    assert.match(resultOnSample('region = "eu"'), /^EXPR_MISSING_FIELD: field 'eu' is missing/);
    assert.equal(resultOnSample("region = 'eu'"), 'true');
  });

  test('the notes about missing fields, indexes and conversion hold', () => {
    assert.equal(resultOnSample('phone IS NULL'), 'true');
    assert.match(resultOnSample("phone = '555'"), /^EXPR_MISSING_FIELD/);
    assert.match(resultOnSample('customer.phone'), /^EXPR_MISSING_FIELD/);
    assert.equal(resultOnSample('items[5]'), 'null');
    assert.equal(resultOnSample('items[0].sku'), '"X1"');
    assert.equal(resultOnSample("attributes['color']"), '"red"');
    assert.match(resultOnSample("'5' * 2"), /^PLAN_TYPE_ERROR/);
    assert.equal(resultOnSample('amount != 12.5'), resultOnSample('amount <> 12.5'));
  });

  test('every listed mistake is refused with EXPR_SYNTAX', () => {
    for (const text of mistakes) {
      assert.throws(() => parseExpression(text), { code: 'EXPR_SYNTAX' }, text);
      assert.match(syntaxErrorOf(text), /^at column \d+: /);
    }
    assert.throws(() => syntaxErrorOf('a + b'), /listed as a mistake but parses/);
  });

  test('each YAML example gives what its note says', () => {
    for (const example of yamlExamples) {
      let doc: unknown;
      try {
        doc = parseYaml(example.yaml);
      } catch {
        assert.equal(example.outcome, 'yaml-error', example.yaml);
        continue;
      }
      const values = Object.values(doc as object).flatMap((v: unknown) =>
        typeof v === 'object' && v !== null ? Object.values(v) : [v],
      );
      const parses = (v: unknown) => {
        if (typeof v !== 'string') return false;
        try {
          parseExpression(v);
          return true;
        } catch {
          return false;
        }
      };
      assert.equal(values.every(parses) ? 'expression' : 'broken', example.outcome, example.yaml);
    }
  });

  test('the page renders', () => {
    const page = describeExpressions();
    assert.match(page, /^# Expressions$/m);
    assert.match(page, /\| `region = "eu"` \| `region = eu` \| `region`, `eu` \|/);
  });
});
