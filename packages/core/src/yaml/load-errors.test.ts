import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type ErrorCode, SluiceError } from '../errors.ts';
import { ConfigErrors, parsePipelineYaml } from './index.ts';
import { testRegistry } from './test-registry.ts';

const registry = testRegistry();
const file = 'p.yaml';

interface Expected {
  code: ErrorCode;
  line: number;
  column: number;
  path: string;
  message: string | RegExp;
  step?: string;
}

/** Asserts that loading `text` fails with exactly this one problem. */
function fails(text: string, expected: Expected): void {
  assert.throws(
    () => parsePipelineYaml(text, file, { registry, env: {} }),
    (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.ok(!(err instanceof ConfigErrors), `several problems:\n${err.message}`);
      assert.deepEqual(
        { code: err.code, line: err.line, column: err.column, path: err.path, file: err.file },
        { code: expected.code, line: expected.line, column: expected.column, path: expected.path, file },
      );
      if (typeof expected.message === 'string') assert.equal(err.message, expected.message);
      else assert.match(err.message, expected.message);
      if (expected.step !== undefined) assert.equal(err.step, expected.step);
      return true;
    },
  );
}

const tail = 'sinks:\n  out: { type: file, path: o.jsonl }\n';

describe('YAML problems', () => {
  test('a syntax error is CONFIG_PARSE at its position', () => {
    fails('name: p\nsources:\n  gen: { type: generator\n' + tail, {
      code: 'CONFIG_PARSE',
      line: 4,
      column: 1,
      path: 'sinks',
      message: /Flow map/,
    });
  });

  test('a duplicate key is an error at the second key', () => {
    fails('name: p\nsources:\n  gen: { type: generator }\n  gen: { type: generator }\n' + tail, {
      code: 'CONFIG_PARSE',
      line: 4,
      column: 3,
      path: 'sources.gen',
      message: "duplicate key 'gen' (first defined at line 3)",
    });
  });

  test('an alias without an anchor', () => {
    fails('name: p\nsources:\n  gen: *nope\n' + tail, {
      code: 'CONFIG_PARSE',
      line: 3,
      column: 8,
      path: 'sources.gen',
      message: "unknown alias '*nope': no anchor '&nope' before it",
    });
  });

  test('an empty file and a file that is not a map', () => {
    fails('', {
      code: 'CONFIG_INVALID',
      line: 1,
      column: 1,
      path: '',
      message: 'the pipeline file is empty; it needs a name, sources and sinks',
    });
    fails('# nothing\n- a\n', {
      code: 'CONFIG_INVALID',
      line: 2,
      column: 1,
      path: '',
      message: 'a pipeline file must be a map with name, sources, steps and sinks',
    });
  });
});

describe('YAML that splits a value', () => {
  const step = (fields: string) =>
    `name: p\nsources:\n  gen: { type: generator }\nsteps:\n  - id: m\n    type: map\n    fields: ${fields}\n${tail}`;

  test('a comma inside an expression in a flow map says to quote it or use block style', () => {
    fails(step('{ total: round(sum(t), 1), n: x }'), {
      code: 'CONFIG_PARSE',
      line: 7,
      column: 22,
      path: 'steps[0].fields.total',
      message:
        'YAML split \'round(sum(t), 1)\' at its comma: inside { … } a comma separates entries. Quote the expression — total: "round(sum(t), 1)" — or write the map in block style, one entry per line',
    });
  });

  test('a quoted comma inside a flow-map expression is caught too', () => {
    fails(step("{ n: concat(a, ', ', b) }"), {
      code: 'CONFIG_PARSE',
      line: 7,
      column: 18,
      path: 'steps[0].fields.n',
      message: /^YAML split 'concat\(a, ', ', b\)' at its comma: .* n: "concat\(a, ', ', b\)"/,
    });
  });

  test('a comma inside an expression in a flow list', () => {
    fails(
      'name: p\nsources:\n  gen: { type: generator }\nsteps:\n  - { id: v, type: validate, schema: [upper(k), round(x, 1)] }\n' +
        tail,
      {
        code: 'CONFIG_PARSE',
        line: 5,
        column: 49,
        path: 'steps[0].schema[1]',
        message:
          'YAML split \'round(x, 1)\' at its comma: inside [ … ] a comma separates entries. Quote the expression — "round(x, 1)" — or write the list in block style, one item per line',
      },
    );
  });

  test('block style and quoted expressions are fine', () => {
    const ok = (text: string) => parsePipelineYaml(text, file, { registry, env: {} });
    ok(step('{ total: "round(sum(t), 1)", n: x }'));
    ok(step("\n      total: round(sum(t), 1)\n      label: concat(a, ', ', b)"));
  });

  // biome-ignore lint/suspicious/noTemplateCurlyInString: ${VAR} references on purpose.
  test('${VAR} in a flow map says to quote the value', () => {
    fails(
      `name: p\nsources:\n  gen: { type: generator }\nsinks:\n  out: { type: file, path: \${OUT}/x.jsonl }\n`,
      {
        code: 'CONFIG_PARSE',
        line: 5,
        column: 28,
        path: 'sinks.out.path',
        message:
          // biome-ignore lint/suspicious/noTemplateCurlyInString: ${VAR} references on purpose.
          'YAML reads the { of ${OUT} as the start of a map: inside { … } or [ … ] a value with ${VAR} must be quoted — write "${OUT}/x.jsonl" (variables are still replaced in double quotes), or put the option on its own line',
      },
    );
  });
});

describe('pipeline problems', () => {
  test('an unknown top-level key suggests the right one', () => {
    fails('name: p\nsources:\n  gen: { type: generator }\nstep: []\n' + tail, {
      code: 'CONFIG_INVALID',
      line: 4,
      column: 1,
      path: 'step',
      message: "unknown key 'step' — did you mean 'steps'?",
    });
  });

  test('a missing name', () => {
    fails('sources:\n  gen: { type: generator }\n' + tail, {
      code: 'CONFIG_INVALID',
      line: 1,
      column: 1,
      path: '',
      message: "missing 'name': give the pipeline a name",
    });
  });

  test('a step without an id', () => {
    fails('name: p\nsources: { gen: { type: generator } }\nsteps:\n  - type: filter\n    where: x\n' + tail, {
      code: 'CONFIG_INVALID',
      line: 4,
      column: 5,
      path: 'steps[0]',
      message: "step 1 has no 'id'; every step needs a unique id",
    });
  });

  test('a step id that repeats a source id', () => {
    fails(
      'name: p\nsources:\n  gen: { type: generator }\nsteps:\n  - { id: gen, type: filter, where: x }\n' +
        tail,
      {
        code: 'PLAN_DUPLICATE_ID',
        line: 5,
        column: 11,
        path: 'steps[0].id',
        step: 'gen',
        message:
          "id 'gen' is already used by the source at line 3; ids must be unique across sources, steps and sinks",
      },
    );
  });

  test('a sink id that repeats a step id', () => {
    fails(
      'name: p\nsources:\n  gen: { type: generator }\nsteps:\n  - { id: out, type: filter, where: x }\n' +
        tail,
      {
        code: 'PLAN_DUPLICATE_ID',
        line: 7,
        column: 3,
        path: 'sinks.out',
        message:
          "id 'out' is already used by the step at line 5; ids must be unique across sources, steps and sinks",
      },
    );
  });

  test('an id that is not a plain name', () => {
    fails('name: p\nsources:\n  my gen: { type: generator }\n' + tail, {
      code: 'CONFIG_INVALID',
      line: 3,
      column: 3,
      path: 'sources["my gen"]',
      message: /^id 'my gen' must start with a letter/,
    });
  });

  test('an unknown type lists the known ones and suggests the closest', () => {
    fails('name: p\nsources:\n  gen: { type: generater }\n' + tail, {
      code: 'PLAN_UNKNOWN_TYPE',
      line: 3,
      column: 16,
      path: 'sources.gen.type',
      step: 'gen',
      message:
        "unknown source type 'generater' — did you mean 'generator'? (known source types: file, generator)",
    });
    fails('name: p\nsources:\n  gen: { type: generator }\nsteps:\n  - id: s\n    type: http\n' + tail, {
      code: 'PLAN_UNKNOWN_TYPE',
      line: 6,
      column: 11,
      path: 'steps[0].type',
      message: "unknown step type 'http' ('http' is a sink type); known step types: filter, map, validate",
    });
  });

  test('a missing type', () => {
    fails('name: p\nsources:\n  gen: { count: 1 }\n' + tail, {
      code: 'CONFIG_INVALID',
      line: 3,
      column: 8,
      path: 'sources.gen',
      message: "source 'gen' has no 'type'; known source types: file, generator",
    });
  });

  test('an input naming no source or step', () => {
    fails(
      'name: p\nsources:\n  gen: { type: generator }\nsteps:\n  - { id: s, type: filter, where: x, input: gne }\n' +
        tail,
      {
        code: 'PLAN_MISSING_INPUT',
        line: 5,
        column: 45,
        path: 'steps[0].input',
        step: 's',
        message: "no source or step has id 'gne' — did you mean 'gen'?",
      },
    );
    fails(
      'name: p\nsources:\n  gen: { type: generator }\nsinks:\n  out: { type: file, path: o, input: [gen] }\n',
      {
        code: 'CONFIG_INVALID',
        line: 5,
        column: 38,
        path: 'sinks.out.input',
        message: 'a sink reads one input: must be a single id',
      },
    );
  });

  test('an input naming a sink', () => {
    fails(
      'name: p\nsources:\n  gen: { type: generator }\nsteps:\n  - id: s\n    type: filter\n    where: x\n    input: [gen, out]\n' +
        tail,
      {
        code: 'PLAN_MISSING_INPUT',
        line: 8,
        column: 18,
        path: 'steps[0].input[1]',
        message: "'out' is a sink; an input must be a source or a step",
      },
    );
  });

  test('several sources and a first step without input', () => {
    fails(
      'name: p\nsources:\n  a: { type: generator }\n  b: { type: generator }\nsteps:\n  - id: first\n    type: filter\n    where: x\n' +
        tail,
      {
        code: 'PLAN_MISSING_INPUT',
        line: 6,
        column: 5,
        path: 'steps[0]',
        step: 'first',
        message:
          "step 'first' has no 'input' and the pipeline has several sources (a, b); name one with 'input: <id>'",
      },
    );
  });

  test('reserved keys in the wrong place', () => {
    fails('name: p\nsources:\n  gen: { type: generator, input: x }\n' + tail, {
      code: 'CONFIG_INVALID',
      line: 3,
      column: 27,
      path: 'sources.gen.input',
      message: 'a source reads no input; only steps and sinks have one',
    });
    fails(
      'name: p\nsources:\n  gen: { type: generator }\n' +
        tail +
        'dead_letter: { type: file, path: d, input: gen }\n',
      {
        code: 'CONFIG_INVALID',
        line: 6,
        column: 37,
        path: 'dead_letter.input',
        message: "'input' is not allowed in dead_letter",
      },
    );
  });
});

describe('config problems', () => {
  test('an unknown option points at its key', () => {
    fails('name: p\nsources:\n  f:\n    type: file\n    path: x\n    formt: csv\n' + tail, {
      code: 'CONFIG_INVALID',
      line: 6,
      column: 5,
      path: 'sources.f.formt',
      step: 'f',
      message: "unknown option 'formt' — did you mean 'format'?",
    });
  });

  test('a bad value points at the value', () => {
    fails('name: p\nsources:\n  f:\n    type: file\n    path: x\n    format: xml\n' + tail, {
      code: 'CONFIG_INVALID',
      line: 6,
      column: 13,
      path: 'sources.f.format',
      message: 'must be one of: json, csv',
    });
  });

  test('a missing option points at the component', () => {
    fails('name: p\nsources:\n  gen: { type: generator }\nsinks:\n  out:\n    type: file\n', {
      code: 'CONFIG_INVALID',
      line: 6,
      column: 5,
      path: 'sinks.out',
      message: "missing required option 'path'",
    });
  });

  test('nested options inside a step', () => {
    fails(
      'name: p\nsources: { gen: { type: generator } }\nsteps:\n  - id: m\n    type: map\n    fields:\n      a: 1\n' +
        tail,
      {
        code: 'CONFIG_INVALID',
        line: 7,
        column: 10,
        path: 'steps[0].fields.a',
        step: 'm',
        message: 'must be a string',
      },
    );
  });

  test('event_time takes field or expression, not both', () => {
    fails(
      'name: p\nsources:\n  gen:\n    type: generator\n    event_time: { field: ts, expression: x }\n' + tail,
      {
        code: 'CONFIG_INVALID',
        line: 5,
        column: 17,
        path: 'sources.gen.event_time',
        message: "set at most one of 'field', 'expression'",
      },
    );
  });

  test('durations are checked', () => {
    fails(
      'name: p\nsources:\n  gen:\n    type: generator\n    event_time: { field: ts, idle_timeout: 5 minutes }\n' +
        tail,
      {
        code: 'CONFIG_INVALID',
        line: 5,
        column: 44,
        path: 'sources.gen.event_time.idle_timeout',
        message: 'must be a duration such as 500ms, 5s, 1m',
      },
    );
  });

  test('settings are checked', () => {
    fails('name: p\nsettings:\n  checkpoint: { keep: 0 }\nsources: { gen: { type: generator } }\n' + tail, {
      code: 'CONFIG_INVALID',
      line: 3,
      column: 23,
      path: 'settings.checkpoint.keep',
      message: 'must be >= 1',
    });
    fails('name: p\nsettings:\n  batchsize: 10\nsources: { gen: { type: generator } }\n' + tail, {
      code: 'CONFIG_INVALID',
      line: 3,
      column: 3,
      path: 'settings.batchsize',
      message: "unknown option 'batchsize' — did you mean 'batch_size'?",
    });
  });
});

describe('several problems', () => {
  test('are all reported, in file order, in one error', () => {
    const text = `name: p
sources:
  f:
    type: file
    formt: csv
steps:
  - id: s
    type: fliter
sinks:
  out: { type: file, path: o, input: nope }
`;
    assert.throws(
      () => parsePipelineYaml(text, file, { registry, env: {} }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigErrors);
        assert.equal(err.code, 'CONFIG_INVALID');
        assert.deepEqual(
          [err.file, err.line, err.column, err.path, err.step],
          [file, 4, 5, 'sources.f', 'f'],
        );
        assert.equal(
          err.message,
          [
            "p.yaml:4:5: sources.f: missing required option 'path'",
            "p.yaml:5:5: sources.f.formt: unknown option 'formt' — did you mean 'format'?",
            "p.yaml:8:11: steps[0].type: unknown step type 'fliter' — did you mean 'filter'? (known step types: filter, map, validate)",
            "p.yaml:10:38: sinks.out.input: no source or step has id 'nope'",
          ].join('\n'),
        );
        assert.deepEqual(
          err.errors.map((e) => e.code),
          ['CONFIG_INVALID', 'CONFIG_INVALID', 'PLAN_UNKNOWN_TYPE', 'PLAN_MISSING_INPUT'],
        );
        assert.equal(
          err.describe().split('\n')[2],
          "p.yaml:8:11: step 's', steps[0].type: unknown step type 'fliter' — did you mean 'filter'? (known step types: filter, map, validate) (PLAN_UNKNOWN_TYPE)",
        );
        return true;
      },
    );
  });
});
