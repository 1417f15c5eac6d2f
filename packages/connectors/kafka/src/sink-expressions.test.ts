/**
 * The sink's expressions in a plan: declared by the spec, parsed once when the plan is resolved
 * (a syntax error located at its line before anything runs), and compiled from the plan's trees
 * when the sink is created in a job — not from the config's text.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  builtins,
  type PlanExpressions,
  parseExpression,
  parsePipelineYaml,
  Registry,
  resolvePlan,
  SluiceError,
} from '@sluice/core';
import { kafka } from './index.ts';
import type { TopicInfo } from './producer-topic.ts';
import type { KafkaSinkConfig } from './sink-config.ts';
import { RecordEncoder } from './sink-encode.ts';

const registry = new Registry([builtins, kafka]);

const plan = (sink: string) =>
  resolvePlan(
    parsePipelineYaml(
      `name: keyed
sources: { in: { type: generate, template: orders, count: 1 } }
sinks:
  out:
    type: kafka
    brokers: [127.0.0.1:9]
    topic: t
${sink}
`,
      '/tmp/keyed/pipeline.yaml',
      { registry },
    ),
    registry,
  );

const topic: TopicInfo = {
  partitions: 1,
  maxMessageBytes: 1000,
  compacted: false,
  createTime: true,
  maxAheadMs: 3_600_000,
  maxBehindMs: Number.MAX_SAFE_INTEGER,
  retentionMs: 7 * 24 * 3_600_000,
};

describe('kafka sink expressions in the plan', () => {
  test('key, headers and an expression timestamp are parsed into the plan; a timestamp keyword is not', () => {
    const resolved = plan('    key: region\n    headers: { h: "amount * 2" }\n    timestamp: ts + 1');
    assert.deepEqual(Object.keys(resolved.sinks[0].expressions ?? {}), ['key', 'headers.h', 'timestamp']);
    const keyword = plan('    key: region\n    timestamp: now');
    assert.deepEqual(Object.keys(keyword.sinks[0].expressions ?? {}), ['key']);
  });

  test('a syntax error is refused at resolution, at its line', () => {
    assert.throws(
      () => plan('    key: region\n    headers: { h: "amount *" }'),
      (err: unknown) =>
        err instanceof SluiceError &&
        err.code === 'EXPR_SYNTAX' &&
        err.step === 'out' &&
        err.path === 'headers.h' &&
        err.line === 9,
    );
  });

  test('in a job the encoder compiles the trees the plan gives, not the text', () => {
    const resolved = plan('    key: region');
    const sink = resolved.sinks[0];
    const trees: PlanExpressions = { ...sink.expressions, key: parseExpression('upper(region)') };
    const enc = new RecordEncoder(sink.config as KafkaSinkConfig, undefined, {
      id: 'out',
      expression: (path) => trees[path],
    });
    enc.topicInfo = topic;
    const batch = enc.encode({ records: [{ region: 'eu' }], times: [0] }, 0);
    assert.equal(batch.messages[0].key, 'EU');
  });
});
