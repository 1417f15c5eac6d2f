/**
 * Small component specs for the YAML front end and JSON Schema tests. Their operators, sources
 * and sinks do nothing: the tests only load plans.
 */

import { Type } from 'typebox';
import { Registry } from '../registry.ts';
import { defineSink, defineSource, defineStep } from '../spec.ts';

const format = Type.Optional(
  Type.Union([Type.Literal('json'), Type.Literal('csv')], {
    default: 'json',
    description: 'Record encoding.',
  }),
);

const noSource = () => ({ open: async () => [] });
const noSink = () => ({ open: async () => {}, write: async () => undefined, close: async () => {} });
const passThrough = () => ({ processBatch() {} });

/** A registry with `file`/`generator` sources, `validate`/`map`/`filter` steps, `file`/`http` sinks. */
export function testRegistry(): Registry {
  return new Registry([
    {
      name: 'test',
      components: [
        defineSource({
          type: 'file',
          delivery: 'exactly-once',
          summary: 'Reads a file.',
          config: Type.Object(
            { path: Type.String({ description: 'File to read.' }), format },
            { additionalProperties: false },
          ),
          create: noSource,
        }),
        defineSource({
          type: 'generator',
          delivery: 'exactly-once',
          summary: 'Generates records.',
          description: 'Counts from zero.',
          config: Type.Object(
            {
              count: Type.Optional(Type.Integer({ minimum: 0, default: 10 })),
              token: Type.Optional(Type.String({ secret: true })),
            },
            { additionalProperties: false },
          ),
          create: noSource,
        }),
        defineStep({
          type: 'validate',
          summary: 'Checks records against a JSON Schema.',
          config: Type.Object({ schema: Type.String() }, { additionalProperties: false }),
          create: passThrough,
        }),
        defineStep({
          type: 'map',
          summary: 'Computes fields.',
          config: Type.Object(
            { fields: Type.Record(Type.String(), Type.String()) },
            { additionalProperties: false },
          ),
          create: passThrough,
        }),
        defineStep({
          type: 'filter',
          summary: 'Keeps matching records.',
          config: Type.Object({ where: Type.String() }, { additionalProperties: false }),
          create: passThrough,
        }),
        defineSink({
          type: 'file',
          summary: 'Writes a file.',
          delivery: 'at-least-once',
          config: Type.Object({ path: Type.String(), format }, { additionalProperties: false }),
          create: noSink,
        }),
        defineSink({
          type: 'http',
          summary: 'Posts records.',
          delivery: 'at-least-once',
          config: Type.Object(
            {
              url: Type.String({ format: 'uri' }),
              port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
              auth: Type.Optional(
                Type.Object(
                  { user: Type.String(), password: Type.String({ secret: true }) },
                  { additionalProperties: false },
                ),
              ),
              headers: Type.Optional(Type.Record(Type.String(), Type.String({ secret: true }))),
            },
            { additionalProperties: false },
          ),
          create: noSink,
        }),
      ],
    },
  ]);
}
