/**
 * `discard` sink: accepts records and drops them (benchmarks, dry runs).
 */

import Type from 'typebox';
import { CHANGELOG_MODES, defineSink } from '../spec.ts';

export const discardSink = defineSink({
  type: 'discard',
  summary: 'Accepts records and drops them; for benchmarks and dry runs.',
  description: 'Counts what it receives (in the job metrics) and keeps nothing.',
  delivery: 'exactly-once',
  changelog: { consumes: () => CHANGELOG_MODES, hint: '' },
  config: Type.Object({}, { additionalProperties: false }),
  example: 'type: discard',
  create() {
    return {
      async open() {},
      async write() {
        return undefined;
      },
      async close() {},
    };
  },
});
