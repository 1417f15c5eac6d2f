// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings hold ${VAR} references on purpose.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { interpolate, retype } from './interpolate.ts';

const env = { HOST: 'db.local', PORT: '5432', EMPTY: '' };

describe('interpolate', () => {
  test('replaces variables inside text', () => {
    assert.deepEqual(interpolate('postgres://${HOST}:${PORT}/x', env), {
      ok: true,
      value: 'postgres://db.local:5432/x',
      whole: false,
    });
  });

  test('a lone reference is marked whole', () => {
    assert.deepEqual(interpolate('${PORT}', env), { ok: true, value: '5432', whole: true });
    assert.deepEqual(interpolate('${NOPE:-8080}', env), { ok: true, value: '8080', whole: true });
  });

  test('defaults apply when a variable is unset or empty', () => {
    assert.equal(ok(interpolate('${NOPE:-fallback}', env)), 'fallback');
    assert.equal(ok(interpolate('${EMPTY:-fallback}', env)), 'fallback');
    assert.equal(ok(interpolate('${HOST:-fallback}', env)), 'db.local');
    assert.equal(ok(interpolate('a${NOPE:-}b', env)), 'ab');
  });

  test('an empty variable without a default gives empty text', () => {
    assert.equal(ok(interpolate('[${EMPTY}]', env)), '[]');
  });

  test('$${ escapes to a literal ${', () => {
    assert.deepEqual(interpolate('cost: $${HOST} and ${HOST}', env), {
      ok: true,
      value: 'cost: ${HOST} and db.local',
      whole: false,
    });
    assert.equal(ok(interpolate('$$ and $x stay', env)), '$$ and $x stay');
  });

  test('values are not interpolated again', () => {
    assert.equal(ok(interpolate('${A}', { A: '${B}', B: 'no' })), '${B}');
  });

  test('a missing variable without a default fails, naming each', () => {
    assert.deepEqual(interpolate('${A}/${B}', {}), {
      ok: false,
      message: "environment variables 'A', 'B' are not set; set them or give a default with ${A:-value}",
    });
    assert.deepEqual(interpolate('${A}', {}), {
      ok: false,
      message: "environment variable 'A' is not set; set it or give a default with ${A:-value}",
    });
  });

  test('a malformed reference fails', () => {
    const result = interpolate('x ${1A} y', env);
    assert.equal(result.ok, false);
    assert.ok(!result.ok);
    assert.match(result.message, /^invalid variable reference at '\$\{1A\} y'/);
    assert.equal(interpolate('${HOST', env).ok, false);
  });
});

describe('retype', () => {
  test('reads a plain YAML scalar', () => {
    assert.equal(retype('8080'), 8080);
    assert.equal(retype('1.5'), 1.5);
    assert.equal(retype('true'), true);
    assert.equal(retype('null'), null);
    assert.equal(retype('0x1F'), 31);
  });

  test('keeps text that is not one plain scalar', () => {
    for (const text of ['', ' ', 'hello', 'a: b', '- x', '[1, 2]', '"q"', '5 # c', ' 5', '*x', '&a b']) {
      assert.equal(retype(text), text, text);
    }
  });
});

function ok(result: ReturnType<typeof interpolate>): string {
  assert.ok(result.ok, result.ok ? '' : result.message);
  return result.value;
}
